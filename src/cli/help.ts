// Every command's options, help text and examples, in one table. main.ts (and advise.ts) parse a
// command's argv with exactly the options listed here, so the help cannot promise an option the
// parser refuses, or the reverse; test/docs/help.test.ts runs every example line.
import type { ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/default-path.ts';

interface Option {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help (string options). */
  value?: string;
  help: string;
}

export interface CommandHelp<O extends Record<string, Option> = Record<string, Option>> {
  name: string;
  /** One line, for the command list of `credential-broker --help`. */
  summary: string;
  /** Synopsis lines, each after "credential-broker ". */
  usage: string[];
  /** What the command does, exit codes included; pre-wrapped lines. */
  description: string;
  options: O;
  /** Command lines that work as written against a broker configured at the default path. */
  examples: string[];
}

// Options several commands share: one definition each. A command may say what one means for it.
// (`as const`: parseArgs types each value from its option's literal `type`.)
const config = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  help: `the broker's config file (default ${DEFAULT_CONFIG_PATH})`,
} as const;
const profile = (help: string) => ({ type: 'string', short: 'p', value: 'NAME', help }) as const;
const json = (help: string) => ({ type: 'boolean', help }) as const;
const help = { type: 'boolean', short: 'h', help: 'this help' } as const;
const starter = (value: string, what: string) =>
  ({ type: 'string', value, help: `starter files: ${what}` }) as const;

/** Keeps a command's option types literal, for parseOptions(). */
const command = <const O extends Record<string, Option>>(c: CommandHelp<O>) => c;

const SERVE = command({
  name: 'serve',
  summary: 'run the daemon: get, refresh and serve each profile’s credentials',
  usage: ['serve [--config FILE]'],
  description: `Authenticates each profile's identity source, exchanges the proof at STS, keeps the
credentials fresh and serves them on the container-credentials endpoint
(server.listen, default http://127.0.0.1:9911/v1/credentials/PROFILE), with /healthz,
/readyz and /metrics. Logs are JSON lines on stdout; LOG_LEVEL and LOG_FORMAT in the
environment override the config's logging settings.
SIGHUP reloads the config (an invalid one is logged and the running one kept);
SIGTERM/SIGINT finish in-flight requests and exit 0.
Exit codes: 78 invalid config (nothing started), 70 unhandled error (restart it).`,
  options: { config, help },
  examples: [
    'credential-broker serve --config /etc/credential-broker/config.yaml',
    'LOG_LEVEL=debug credential-broker serve   # the default config, with debug logs',
  ],
});

const CHECK = command({
  name: 'check',
  summary: 'test each profile step by step, with one live STS exchange',
  usage: ['check [--config FILE] [--profile NAME] [--json]'],
  description: `Validates the config, then checks each profile step by step: identity source, STS
exchange, sts:GetCallerIdentity with the credentials, and whether a running broker
serves the profile. Each step is timed; a failing one shows its error code and fix. Warns
when this host's clock is off from STS's.
Exit codes: 0 every profile works, 1 a profile fails, 78 invalid config.`,
  options: {
    config,
    profile: profile('only this profile (default: every profile)'),
    json: json('the report as JSON'),
    help,
  },
  examples: [
    'credential-broker check --config /etc/credential-broker/config.yaml',
    'credential-broker check --profile reports',
    'credential-broker check --profile reports --json   # for scripts and monitoring',
  ],
});

const ENV = command({
  name: 'env',
  summary: 'print the two environment lines that point an app at a profile',
  usage: ['env --profile NAME [--format shell|systemd] [--config FILE]'],
  description: `Prints AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
for a profile, derived from the config: as shell export lines (for eval) or as
NAME=value lines for a systemd EnvironmentFile=. Warns on stderr when this user cannot
read the token file (the app's user must).
Exit codes: 0 ok, 64 usage error, 78 invalid config or no such profile.`,
  options: {
    config,
    profile: profile('the profile the app should use (required)'),
    format: { type: 'string', value: 'F', help: 'shell (default) or systemd' },
    help,
  },
  examples: [
    'eval "$(credential-broker env --profile reports)"   # in the shell that starts the app',
    'credential-broker env --profile reports --format systemd',
    'credential-broker env --profile default --config /etc/credential-broker/config.yaml',
  ],
});

const CREDENTIAL_PROCESS = command({
  name: 'credential-process',
  summary: 'credential_process for ~/.aws/config, from the running broker',
  usage: [
    'credential-process --profile NAME [--config FILE]',
    'credential-process --url URL --token-file FILE',
  ],
  description: `For credential_process in ~/.aws/config: asks the RUNNING broker (never the IdP or
STS, so every app shares its cache) and prints the Version 1 JSON on stdout. Failures
are one line on stderr. The URL and token file come from the config, unless given.
Exit codes: 0 ok, 1 the broker is unreachable or refused, 64 usage error, 78 invalid config.`,
  options: {
    config,
    profile: profile('the profile to fetch'),
    url: { type: 'string', value: 'URL', help: "the broker's credentials URL (default from the config)" },
    'token-file': {
      type: 'string',
      value: 'FILE',
      help: 'the client token file (default from the config)',
    },
    help,
  },
  examples: [
    'credential-broker credential-process --profile reports',
    'credential-broker credential-process --url http://127.0.0.1:9911/v1/credentials/reports --token-file /run/credential-broker/token',
  ],
});

export const ADVISE = command({
  name: 'advise',
  summary: 'recommend how this app should authenticate, with starter files',
  usage: [
    'advise --has LIST [--runs-on server|kubernetes] [--out DIR] [--json]',
    'advise                  (asks the questions, in a terminal)',
  ],
  description: `Recommends a mechanism from what your organisation already runs, following AWS's
comparison of their complexity and convenience, with the alternatives and their
trade-offs; then a starter config.yaml, the role's trust-policy.json and aws-setup.sh
(the AWS CLI commands), printed or written to --out. Needs no config.
Exit codes: 0 ok, 64 usage error.`,
  options: {
    has: {
      type: 'string',
      value: 'LIST',
      help: `what you already run, comma-separated, or "none":
oidc (an OIDC provider issuing client-credential tokens),
saml (a SAML IdP), kerberos (Kerberos/AD with keytabs),
pki (certificate issuance and renewal), aws-keys (AWS access keys),
kubernetes (a service-account issuer AWS can reach)`,
    },
    'runs-on': { type: 'string', value: 'WHERE', help: 'server (default) or kubernetes' },
    'saml-login': {
      type: 'string',
      value: 'HOW',
      help: `how the SAML IdP may log this machine in: password (a service
account with a password; default) or kerberos (only Windows
Integrated Authentication, from a keytab): recommends Kerberos`,
    },
    out: {
      type: 'string',
      value: 'DIR',
      help: 'write the three starter files there (else print them)',
    },
    json: json('the advice as JSON'),
    interactive: { type: 'boolean', help: 'ask the questions even when stdin is not a terminal' },
    'account-id': starter('ID', 'the AWS account'),
    'role-name': starter('NAME', "the role's name"),
    region: starter('REGION', 'the STS region'),
    issuer: starter('URL', 'the OIDC or service-account issuer'),
    'client-id': starter('ID', 'the OIDC client'),
    namespace: starter('NS', 'the Kubernetes namespace'),
    'service-account': starter('NAME', 'the Kubernetes service account'),
    'idp-url': starter('URL', "the SAML IdP's sign-on URL"),
    name: starter('NAME', 'the name used in file and provider names'),
    help,
  },
  examples: [
    'credential-broker advise --has oidc,saml',
    'credential-broker advise --has kubernetes --runs-on kubernetes --issuer https://oidc.example.com/cluster-1 --namespace shop --service-account checkout',
    'credential-broker advise --has pki --account-id 111122223333 --role-name backup --out ./aws-backup',
    'credential-broker advise --has saml,kerberos --saml-login kerberos --name ADFS',
  ],
});

export const COMMANDS: readonly CommandHelp[] = [SERVE, CHECK, ENV, CREDENTIAL_PROCESS, ADVISE];

export function commandHelp(name: string): CommandHelp | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The command's options as node:util parseArgs wants them. */
export function parseOptions<O extends Record<string, Option>>(
  c: CommandHelp<O>,
): { [K in keyof O]: { type: O[K]['type']; short?: string } } {
  return Object.fromEntries(
    Object.entries(c.options).map(([name, o]) => [
      name,
      o.short ? { type: o.type, short: o.short } : { type: o.type },
    ]),
  ) as { [K in keyof O]: { type: O[K]['type']; short?: string } };
}

/** Every option of every command: to find the command in an argv before parsing it strictly. */
export function allParseOptions(): NonNullable<ParseArgsConfig['options']> {
  return Object.assign({}, ...COMMANDS.map(parseOptions));
}

function optionLines(options: Record<string, Option>): string[] {
  const flags = Object.entries(options).map(
    ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
  );
  const column = Math.max(...flags.map((f) => f.length)) + 4;
  return Object.values(options).flatMap((o, i) => {
    const [first, ...rest] = o.help.split('\n');
    return [
      `  ${flags[i]!.padEnd(column - 2)}${first}`,
      ...rest.map((line) => `${' '.repeat(column)}${line}`),
    ];
  });
}

export function renderCommandHelp(command: CommandHelp): string {
  return [
    `credential-broker ${command.name} — ${command.summary}`,
    '',
    'Usage:',
    ...command.usage.map((u) => `  credential-broker ${u}`),
    '',
    command.description,
    '',
    'Options:',
    ...optionLines(command.options),
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

export function renderTopHelp(): string {
  return [
    'credential-broker — temporary AWS credentials for applications outside AWS',
    '',
    'Usage:',
    ...COMMANDS.flatMap((c) => [`  credential-broker ${c.usage[0]}`, `      ${c.summary}`]),
    '  credential-broker help COMMAND | --help | --version',
    '',
    'Run "credential-broker <command> --help" for a command’s options and examples.',
    '',
    'Apps: set AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/PROFILE',
    "and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=<the broker's token file>",
    '(credential-broker env --profile PROFILE prints both).',
    '',
    'Exit codes: 0 ok, 1 runtime failure, 64 usage error, 70 unhandled error, 78 invalid config.',
    '',
  ].join('\n');
}

/** The one line after a usage error: where the command's (or the general) help is. */
export function usageHint(command?: CommandHelp): string {
  return `Run "credential-broker ${command ? `${command.name} ` : ''}--help" for usage.\n`;
}
