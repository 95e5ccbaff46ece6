// `credential-broker advise`: which mechanism fits, why, the alternatives, and starter files.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EXIT } from '../../errors.ts';
import { str, type Values } from '../command.ts';
import type { Io } from '../io.ts';
import { type Advice, available, decide, type Facts, MECHANISMS } from './decide.ts';
import { askParams, paramsFrom } from './params.ts';
import { type Prompter, prompter, Unanswered } from './prompt.ts';
import { asksSamlLogin, parseSamlLogin, SAML_LOGIN_QUESTION, type SamlLogin } from './saml-login.ts';
import { DEFAULT_PARAMS, type StarterParams, starterFor } from './starter.ts';

const HAS = ['oidc', 'saml', 'kerberos', 'pki', 'kubernetes', 'aws-keys'] as const;
type Has = (typeof HAS)[number];
/** What --out holds, in the order of Starter's texts. */
const FILES = ['config.yaml', 'trust-policy.json', 'aws-setup.sh'] as const;

/** `values`: parsed with the options of ADVISE in the command table (cli/index.ts). */
export async function adviseCommand(
  values: Values,
  io: Io,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const value = (name: string) => str(values, name);
  const runsOn = value('runs-on') ?? 'server';
  if (runsOn !== 'server' && runsOn !== 'kubernetes') {
    io.stderr(`credential-broker advise: --runs-on must be server or kubernetes, not "${runsOn}"\n`);
    return EXIT.USAGE;
  }
  // Interactive: the questions are asked (no --has, in a terminal) or asked for (--interactive).
  const hasList = value('has');
  const interactive =
    values.interactive === true ||
    (hasList === undefined && process.stdin.isTTY === true && stdin === process.stdin);
  if (hasList === undefined && !interactive) {
    io.stderr(
      'credential-broker advise: say what you have with --has (e.g. --has oidc,saml), or run it in a terminal\n',
    );
    return EXIT.USAGE;
  }
  // Before any question: a bad option is a usage error, not something to ask about.
  const options = paramsFrom(value);
  if ('problem' in options) {
    io.stderr(`credential-broker advise: ${options.problem}\n`);
    return EXIT.USAGE;
  }
  const prompt = interactive ? prompter(io, stdin) : undefined;
  try {
    return await advise(values, io, runsOn, hasList, options.given, prompt);
  } catch (err) {
    if (!(err instanceof Unanswered)) throw err;
    io.stderr(`credential-broker advise: ${err.message}\n`);
    return EXIT.USAGE;
  } finally {
    prompt?.close();
  }
}

async function advise(
  values: Values,
  io: Io,
  runsOn: string,
  hasList: string | undefined,
  given: Partial<StarterParams>,
  prompt: Prompter | undefined,
): Promise<number> {
  const value = (name: string) => str(values, name);
  let has: Set<Has>;
  let asked: SamlLogin | undefined;
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
  } else {
    ({ has, runsOn, samlLogin: asked } = await askFacts(prompt as Prompter, runsOn));
  }
  const samlLogin = parseSamlLogin(value('saml-login'), has.has('saml'));
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
  const out = value('out');
  if (advice.recommended && out && values.force !== true) {
    // Before any question about the files: the operator may have edited the ones there.
    const existing = FILES.map((f) => path.join(out, f)).filter((f) => existsSync(f));
    if (existing.length > 0) {
      io.stderr(
        `credential-broker advise: ${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing written: pass --force to replace, or choose another --out\n`,
      );
      return EXIT.FAILURE;
    }
  }
  const params: StarterParams =
    advice.recommended && out && prompt
      ? await askParams(advice.recommended.id, given, prompt)
      : { ...DEFAULT_PARAMS, ...given };
  const starter = advice.recommended ? starterFor(advice.recommended.id, params) : undefined;

  if (values.json) {
    io.stdout(`${JSON.stringify({ facts, ...advice, starter }, null, 2)}\n`);
  } else {
    io.stdout(renderAdvice(advice, facts));
    if (starter && !out) {
      io.stdout(
        `\n--- config.yaml\n${starter.config}\n--- trust-policy.json\n${starter.trustPolicy}\n--- aws-setup.sh\n${starter.awsSetup}`,
      );
    }
  }
  if (starter && out) {
    await mkdir(out, { recursive: true });
    const texts = [starter.config, starter.trustPolicy, starter.awsSetup];
    const files = FILES.map((f) => path.join(out, f));
    for (const [i, file] of files.entries()) {
      await writeFile(file, texts[i] as string, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
    }
    io.stderr(`wrote ${files.join(', ')}\n`);
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

/** The facts, asked one yes/no question each; --runs-on kubernetes follows from a yes to Kubernetes. */
async function askFacts(
  prompt: Prompter,
  runsOn: string,
): Promise<{ has: Set<Has>; runsOn: string; samlLogin: SamlLogin | undefined }> {
  const has = new Set<Has>();
  const questions: [Has, string][] = [
    ['kubernetes', 'Does the app run in Kubernetes with a service-account issuer AWS can reach?'],
    ['oidc', 'Do you run an OIDC provider that can issue client-credential tokens?'],
    ['pki', 'Do you have a certificate process (issuance and renewal) for machines?'],
    ['saml', 'Do you have a SAML IdP (ADFS, Keycloak, Shibboleth, Okta, ...)?'],
    ['kerberos', 'Do you have Kerberos / Active Directory with keytabs for service accounts?'],
    ['aws-keys', 'Do you already hold AWS access keys for this app?'],
  ];
  for (const [key, question] of questions) {
    if (await prompt.yes(question)) has.add(key);
  }
  // Last, so that answers written for the questions above keep their places.
  const samlLogin = asksSamlLogin(has)
    ? (await prompt.yes(SAML_LOGIN_QUESTION))
      ? 'kerberos'
      : 'password'
    : undefined;
  return { has, runsOn: has.has('kubernetes') ? 'kubernetes' : runsOn, samlLogin };
}
