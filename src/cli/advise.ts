// `credential-broker advise`: which mechanism fits, why, the alternatives, and starter files.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EXIT } from '../errors.ts';
import { type Advice, decide, type Facts, MECHANISMS } from './advise/decide.ts';
import { DEFAULT_PARAMS, type StarterParams, starterFor } from './advise/starter.ts';
import type { Io } from './io.ts';

const HAS = ['oidc', 'saml', 'kerberos', 'pki', 'kubernetes', 'aws-keys'] as const;
type Has = (typeof HAS)[number];

export const ADVISE_USAGE = `credential-broker advise — choose how this app should get AWS credentials

Usage:
  credential-broker advise                       ask the questions (in a terminal)
  credential-broker advise --has LIST [--runs-on server|kubernetes] [options]

  --has LIST          what your organisation already runs, comma-separated:
                      oidc (an OIDC provider that issues client-credential tokens), saml (a SAML IdP),
                      kerberos (Kerberos/AD with keytabs), pki (a certificate issuance and renewal
                      process), kubernetes (clusters whose service-account issuer AWS can reach),
                      aws-keys (existing AWS access keys); "none" for nothing
  --runs-on WHERE     server (default) or kubernetes
  --out DIR           write config.yaml, trust-policy.json and aws-setup.sh there (else print them)
  --json              the advice as JSON
  --account-id, --role-name, --region, --issuer, --client-id, --namespace, --service-account,
  --idp-url, --name   values for the starter files (placeholders otherwise)

Examples:
  credential-broker advise --has oidc,saml
  credential-broker advise --has kubernetes --runs-on kubernetes --issuer https://oidc.example.com/cluster-1 --namespace shop --service-account checkout
  credential-broker advise --has pki --account-id 111122223333 --role-name backup --out ./aws-backup
`;

export async function adviseCommand(
  argv: string[],
  io: Io,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      has: { type: 'string' },
      'runs-on': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      interactive: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'account-id': { type: 'string' },
      'role-name': { type: 'string' },
      region: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      namespace: { type: 'string' },
      'service-account': { type: 'string' },
      'idp-url': { type: 'string' },
      name: { type: 'string' },
    },
  });
  if (values.help) {
    io.stdout(ADVISE_USAGE);
    return EXIT.OK;
  }
  let runsOn = values['runs-on'] ?? 'server';
  if (runsOn !== 'server' && runsOn !== 'kubernetes') {
    io.stderr(`credential-broker advise: --runs-on must be server or kubernetes, not "${runsOn}"\n`);
    return EXIT.USAGE;
  }
  let has: Set<Has>;
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
    ({ has, runsOn } = await ask(io, stdin, runsOn));
  } else {
    io.stderr(
      'credential-broker advise: say what you have with --has (e.g. --has oidc,saml), or run it in a terminal\n',
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
  const have: Record<string, boolean> = {
    kubernetes: facts.kubernetes && facts.runsOn === 'kubernetes',
    oidc: facts.oidc,
    mtls: facts.pki,
    saml: facts.saml,
    kerberos: facts.kerberos && facts.saml,
    sigv4: facts.awsKeys,
  };
  for (const m of Object.values(MECHANISMS)) {
    lines.push(
      `  ${m.name.padEnd(55)}${m.complexity.padEnd(12)}${m.convenience.padEnd(13)}${have[m.id] ? 'yes' : '-'}`,
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
): Promise<{ has: Set<Has>; runsOn: string }> {
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
    for (const [key, question] of questions) {
      io.stderr(`${question} [y/N] `);
      const { value, done } = await lines.next();
      const answer = done ? '' : String(value).trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') has.add(key);
    }
    return { has, runsOn: has.has('kubernetes') ? 'kubernetes' : runsOn };
  } finally {
    rl.close();
  }
}
