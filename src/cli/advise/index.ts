// `credential-broker advise`: which mechanism fits, why, the alternatives, and starter files.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT } from '../../errors.ts';
import { str, type Values } from '../command.ts';
import type { Io } from '../io.ts';
import { type Advice, available, decide, type Facts, MECHANISMS } from './decide.ts';
import { asksSamlLogin, parseSamlLogin, SAML_LOGIN_QUESTION, type SamlLogin } from './saml-login.ts';
import { DEFAULT_PARAMS, type StarterParams, starterFor } from './starter.ts';

const HAS = ['oidc', 'saml', 'kerberos', 'pki', 'kubernetes', 'aws-keys'] as const;
type Has = (typeof HAS)[number];

/** `values`: parsed with the options of ADVISE in the command table (cli/index.ts). */
export async function adviseCommand(
  values: Values,
  io: Io,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const value = (name: string) => str(values, name);
  let runsOn = value('runs-on') ?? 'server';
  if (runsOn !== 'server' && runsOn !== 'kubernetes') {
    io.stderr(`credential-broker advise: --runs-on must be server or kubernetes, not "${runsOn}"\n`);
    return EXIT.USAGE;
  }
  let has: Set<Has>;
  let asked: SamlLogin | undefined;
  const hasList = value('has');
  if (hasList !== undefined) {
    const listed = hasList
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== 'none');
    const unknown = listed.filter((s) => !(HAS as readonly string[]).includes(s));
    if (unknown.length > 0) {
      io.stderr(
        `credential-broker advise: unknown --has value ${unknown.map((u) => `"${u}"`).join(', ')}; use ${HAS.join(', ')} or none\n`,
      );
      return EXIT.USAGE;
    }
    has = new Set(listed as Has[]);
  } else if (values.interactive || (process.stdin.isTTY && stdin === process.stdin)) {
    ({ has, runsOn, samlLogin: asked } = await ask(io, stdin, runsOn));
  } else {
    io.stderr(
      'credential-broker advise: say what you have with --has (e.g. --has oidc,saml), or run it in a terminal\n',
    );
    return EXIT.USAGE;
  }
  const samlLogin = parseSamlLogin(value('saml-login'), has.has('saml'));
  if ('problem' in samlLogin) {
    io.stderr(`credential-broker advise: ${samlLogin.problem}\n`);
    return EXIT.USAGE;
  }
  const accountId = value('account-id');
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
    io.stderr(
      `credential-broker advise: --account-id must be the 12 digits of an AWS account (e.g. 111122223333), not "${accountId}"\n`,
    );
    return EXIT.USAGE;
  }
  const facts: Facts = {
    oidc: has.has('oidc'),
    saml: has.has('saml'),
    kerberos: has.has('kerberos'),
    pki: has.has('pki'),
    kubernetes: has.has('kubernetes'),
    awsKeys: has.has('aws-keys'),
    runsOn: runsOn as Facts['runsOn'],
    samlLogin: samlLogin.samlLogin ?? asked,
  };
  const advice = decide(facts);
  const params: StarterParams = {
    accountId: accountId ?? DEFAULT_PARAMS.accountId,
    roleName: value('role-name') ?? DEFAULT_PARAMS.roleName,
    region: value('region') ?? DEFAULT_PARAMS.region,
    issuer: value('issuer') ?? DEFAULT_PARAMS.issuer,
    clientId: value('client-id') ?? DEFAULT_PARAMS.clientId,
    namespace: value('namespace') ?? DEFAULT_PARAMS.namespace,
    serviceAccount: value('service-account') ?? DEFAULT_PARAMS.serviceAccount,
    idpUrl: value('idp-url') ?? DEFAULT_PARAMS.idpUrl,
    name: value('name') ?? DEFAULT_PARAMS.name,
  };
  const starter = advice.recommended ? starterFor(advice.recommended.id, params) : undefined;

  if (values.json) {
    io.stdout(`${JSON.stringify({ facts, ...advice, starter }, null, 2)}\n`);
  } else {
    io.stdout(renderAdvice(advice, facts));
    if (starter && !value('out')) {
      io.stdout(
        `\n--- config.yaml\n${starter.config}\n--- trust-policy.json\n${starter.trustPolicy}\n--- aws-setup.sh\n${starter.awsSetup}`,
      );
    }
  }
  const out = value('out');
  if (starter && out) {
    await mkdir(out, { recursive: true });
    const files: [string, string, number][] = [
      ['config.yaml', starter.config, 0o644],
      ['trust-policy.json', starter.trustPolicy, 0o644],
      ['aws-setup.sh', starter.awsSetup, 0o755],
    ];
    if (values.force !== true) {
      const existing = files.map(([f]) => path.join(out, f)).filter((f) => existsSync(f));
      if (existing.length > 0) {
        io.stderr(
          `credential-broker advise: ${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing written: pass --force to replace, or choose another --out\n`,
        );
        return EXIT.FAILURE;
      }
    }
    for (const [file, text, mode] of files) await writeFile(path.join(out, file), text, { mode });
    io.stderr(
      `wrote ${['config.yaml', 'trust-policy.json', 'aws-setup.sh'].map((f) => path.join(out, f)).join(', ')}\n`,
    );
  }
  return EXIT.OK;
}

export function renderAdvice(advice: Advice, facts: Facts): string {
  const lines: string[] = [];
  const r = advice.recommended;
  if (r) {
    lines.push(`Recommended: ${r.name}  →  source.type: ${r.source}`);
    lines.push(`  complexity ${r.complexity}, convenience ${r.convenience} (AWS guidance)`);
  } else {
    lines.push('Recommended: none of what you have fits yet');
  }
  lines.push(`  Why: ${advice.why}`);
  if (advice.alternatives.length > 0) {
    lines.push('', 'Alternatives you could also use:');
    for (const a of advice.alternatives) {
      lines.push(`  - ${a.name} (${a.source}; complexity ${a.complexity}, convenience ${a.convenience})`);
      lines.push(`    when ${a.when}; trade-off: ${a.tradeoff}`);
    }
  }
  for (const note of advice.notes) lines.push('', `Note: ${note}`);
  lines.push('', 'The mechanisms compared (AWS guidance for machine-to-machine access):');
  lines.push('  mechanism                                              complexity  convenience  you have it');
  const have = available(facts);
  for (const m of Object.values(MECHANISMS)) {
    lines.push(
      `  ${m.name.padEnd(55)}${m.complexity.padEnd(12)}${m.convenience.padEnd(13)}${have.has(m.id) ? 'yes' : '-'}`,
    );
  }
  lines.push(
    '  Active Directory (without Kerberos keytabs)            -           -            not a fit for machine-to-machine',
  );
  return `${lines.join('\n')}\n`;
}

async function ask(
  io: Io,
  stdin: NodeJS.ReadableStream,
  runsOn: string,
): Promise<{ has: Set<Has>; runsOn: string; samlLogin: SamlLogin | undefined }> {
  // Lines are read through the async iterator, which buffers them: answers piped in ahead of
  // the questions (scripts, tests) are not lost. A missing answer counts as "no".
  const rl = createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const has = new Set<Has>();
  const questions: [Has, string][] = [
    ['kubernetes', 'Does the app run in Kubernetes with a service-account issuer AWS can reach?'],
    ['oidc', 'Do you run an OIDC provider that can issue client-credential tokens?'],
    ['pki', 'Do you have a certificate process (issuance and renewal) for machines?'],
    ['saml', 'Do you have a SAML IdP (ADFS, Keycloak, Shibboleth, Okta, ...)?'],
    ['kerberos', 'Do you have Kerberos / Active Directory with keytabs for service accounts?'],
    ['aws-keys', 'Do you already hold AWS access keys for this app?'],
  ];
  try {
    const yes = async (question: string) => {
      io.stderr(`${question} [y/N] `);
      const { value, done } = await lines.next();
      const answer = done ? '' : String(value).trim().toLowerCase();
      return answer === 'y' || answer === 'yes';
    };
    for (const [key, question] of questions) {
      if (await yes(question)) has.add(key);
    }
    // Last, so that answers written for the questions above keep their places.
    const samlLogin = asksSamlLogin(has)
      ? (await yes(SAML_LOGIN_QUESTION))
        ? 'kerberos'
        : 'password'
      : undefined;
    return { has, runsOn: has.has('kubernetes') ? 'kubernetes' : runsOn, samlLogin };
  } finally {
    rl.close();
  }
}
