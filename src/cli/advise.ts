// `credential-broker advise`: which mechanism fits, why, the alternatives, and starter files.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EXIT } from '../errors.ts';
import { type Advice, available, decide, type Facts, MECHANISMS } from './advise/decide.ts';
import { asksSamlLogin, parseSamlLogin, SAML_LOGIN_QUESTION, type SamlLogin } from './advise/saml-login.ts';
import { DEFAULT_PARAMS, type StarterParams, starterFor } from './advise/starter.ts';
import { ADVISE, parseOptions, renderCommandHelp } from './help.ts';
import type { Io } from './io.ts';

const HAS = ['oidc', 'saml', 'kerberos', 'pki', 'kubernetes', 'aws-keys'] as const;
type Has = (typeof HAS)[number];

export async function adviseCommand(
  argv: string[],
  io: Io,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  // Options and help: the command table (help.ts), which main.ts parses with too.
  const { values } = parseArgs({ args: argv, strict: true, options: parseOptions(ADVISE) });
  if (values.help) {
    io.stdout(renderCommandHelp(ADVISE));
    return EXIT.OK;
  }
  let runsOn = values['runs-on'] ?? 'server';
  if (runsOn !== 'server' && runsOn !== 'kubernetes') {
    io.stderr(`credential-broker advise: --runs-on must be server or kubernetes, not "${runsOn}"\n`);
    return EXIT.USAGE;
  }
  let has: Set<Has>;
  let asked: SamlLogin | undefined;
  if (values.has !== undefined) {
    const listed = values.has
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
  const samlLogin = parseSamlLogin(values['saml-login'], has.has('saml'));
  if ('problem' in samlLogin) {
    io.stderr(`credential-broker advise: ${samlLogin.problem}\n`);
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
    accountId: values['account-id'] ?? DEFAULT_PARAMS.accountId,
    roleName: values['role-name'] ?? DEFAULT_PARAMS.roleName,
    region: values.region ?? DEFAULT_PARAMS.region,
    issuer: values.issuer ?? DEFAULT_PARAMS.issuer,
    clientId: values['client-id'] ?? DEFAULT_PARAMS.clientId,
    namespace: values.namespace ?? DEFAULT_PARAMS.namespace,
    serviceAccount: values['service-account'] ?? DEFAULT_PARAMS.serviceAccount,
    idpUrl: values['idp-url'] ?? DEFAULT_PARAMS.idpUrl,
    name: values.name ?? DEFAULT_PARAMS.name,
  };
  const starter = advice.recommended ? starterFor(advice.recommended.id, params) : undefined;

  if (values.json) {
    io.stdout(`${JSON.stringify({ facts, ...advice, starter }, null, 2)}\n`);
  } else {
    io.stdout(renderAdvice(advice, facts));
    if (starter && !values.out) {
      io.stdout(
        `\n--- config.yaml\n${starter.config}\n--- trust-policy.json\n${starter.trustPolicy}\n--- aws-setup.sh\n${starter.awsSetup}`,
      );
    }
  }
  if (starter && values.out) {
    await mkdir(values.out, { recursive: true });
    await writeFile(path.join(values.out, 'config.yaml'), starter.config);
    await writeFile(path.join(values.out, 'trust-policy.json'), starter.trustPolicy);
    await writeFile(path.join(values.out, 'aws-setup.sh'), starter.awsSetup, { mode: 0o755 });
    io.stderr(
      `wrote ${['config.yaml', 'trust-policy.json', 'aws-setup.sh'].map((f) => path.join(values.out!, f)).join(', ')}\n`,
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
