// The command table: every command's help, options and examples, and how it runs (its module is
// imported only then). main.ts parses with it; --help, shell completion (completion.ts) and the man
// page (man.ts) are generated from it; test/docs/help.test.ts runs every example line.
import { DEFAULT_CONFIG_PATH } from '../config/default-path.ts';
import { type Command, command, str } from './command.ts';
import { SHELLS } from './completion.ts';

// Options several commands share: one definition each. A command may say what one means for it.
// (`as const`: parseArgs types each value from its option's literal `type`.)
const config = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  complete: 'file',
  help: `the broker's config file (default ${DEFAULT_CONFIG_PATH})`,
} as const;
const profile = (help: string) => ({ type: 'string', short: 'p', value: 'NAME', help }) as const;
const json = (help: string) => ({ type: 'boolean', help }) as const;
const help = { type: 'boolean', short: 'h', help: 'this help' } as const;
const starter = (value: string, what: string) =>
  ({ type: 'string', value, help: `starter files: ${what}` }) as const;

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
With no file at the config path and AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE set (what
IRSA and EKS Pod Identity webhooks give a pod; AWS_ROLE_SESSION_NAME optional), it serves
one web-identity profile "default" built from them, with no config file at all.
Exit codes: 78 invalid config (nothing started), 70 unhandled error (restart it).`,
  options: { config, help },
  examples: [
    'credential-broker serve --config /etc/credential-broker/config.yaml',
    'LOG_LEVEL=debug credential-broker serve   # the default config, with debug logs',
  ],
  run: async ({ configPath }, io) => (await import('./serve.ts')).serveCommand({ configPath }, io),
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
  run: async ({ configPath, values }, io) =>
    (await import('./check.ts')).checkCommand(
      { configPath, profile: str(values, 'profile'), json: values.json === true },
      io,
    ),
});

const STATUS = command({
  name: 'status',
  summary: 'ask the running broker: ready?, each profile’s expiry and last error',
  usage: ['status [--config FILE] [--url URL] [--json]'],
  description: `Asks the running broker for its readiness (GET /readyz on the credentials listener,
found from server.listen of the same config serve reads; no token needed) and shows
each profile's state, when its credentials expire, failures in a row and the last
error code. It never contacts an IdP or STS (check does).
Exit codes: 0 ready, 1 not ready (a profile has no valid credentials), 69 no broker
answers at the URL, 78 invalid config.`,
  options: {
    config,
    url: {
      type: 'string',
      value: 'URL',
      help: "the broker's base URL, e.g. http://127.0.0.1:9911 (default from server.listen)",
    },
    json: json('the readiness as JSON, as /readyz gives it'),
    help,
  },
  examples: ['credential-broker status', 'credential-broker status --json   # for scripts and monitoring'],
  run: async ({ configPath, values }, io) =>
    (await import('./status.ts')).statusCommand(
      { configPath, url: str(values, 'url'), json: values.json === true },
      io,
    ),
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
    format: {
      type: 'string',
      value: 'F',
      complete: ['shell', 'systemd'],
      help: 'shell (default) or systemd',
    },
    help,
  },
  examples: [
    'eval "$(credential-broker env --profile reports)"   # in the shell that starts the app',
    'credential-broker env --profile reports --format systemd',
    'credential-broker env --profile default --config /etc/credential-broker/config.yaml',
  ],
  run: async ({ configPath, values }, io) =>
    (await import('./env.ts')).envCommand(
      { configPath, profile: str(values, 'profile'), format: str(values, 'format') },
      io,
    ),
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
are one line on stderr. The URL and token file come from the config, unless given; with
no config file, from the IRSA variables as for serve (profile default).
Exit codes: 0 ok, 1 the broker is unreachable or refused, 64 usage error, 78 invalid config.`,
  options: {
    config,
    profile: profile('the profile to fetch'),
    url: { type: 'string', value: 'URL', help: "the broker's credentials URL (default from the config)" },
    'token-file': {
      type: 'string',
      value: 'FILE',
      complete: 'file',
      help: 'the client token file (default from the config)',
    },
    help,
  },
  examples: [
    'credential-broker credential-process --profile reports',
    'credential-broker credential-process --url http://127.0.0.1:9911/v1/credentials/reports --token-file /run/credential-broker/token',
  ],
  run: async ({ configPath, values }, io) =>
    (await import('./credential-process.ts')).credentialProcessCommand(
      {
        configPath,
        profile: str(values, 'profile'),
        url: str(values, 'url'),
        tokenFile: str(values, 'token-file'),
      },
      io,
    ),
});

const EXEC = command({
  name: 'exec',
  summary: 'run one command with a profile’s credentials (as aws-vault exec)',
  usage: ['exec --profile NAME [--env-credentials] [--config FILE] -- CMD [ARGS...]'],
  description: `Fetches the profile's credentials (from its IdP and STS, as serve does) and runs CMD
with them; CMD's exit status is exec's (a signal: 128 + its number), and SIGINT,
SIGTERM and SIGHUP are passed on to it. By default exec serves the profile for the run
on the container-credentials endpoint, at an ephemeral 127.0.0.1 port with a fresh
client token in a private temporary file (removed at the end), and sets
AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: CMD's
SDK gets refreshed credentials however long it runs. --env-credentials sets
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
AWS_CREDENTIAL_EXPIRATION once instead, for tools (and SDKs older than
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) that read only those. Either way the other
AWS credential variables (AWS_PROFILE, AWS_ROLE_ARN, ...) are removed, and
CREDENTIAL_BROKER_PROFILE names the profile. Warnings go to stderr (LOG_LEVEL).
Exit codes: CMD's; 1 no credentials (CMD not run), 64 usage error, 78 invalid config,
126/127 CMD cannot be run / not found.`,
  options: {
    config,
    profile: profile('the profile whose credentials CMD gets (required)'),
    'env-credentials': {
      type: 'boolean',
      help: 'put the credentials in the environment, with no endpoint',
    },
    help,
  },
  operands: { usage: '-- CMD [ARGS...]', complete: 'command' },
  examples: [
    'credential-broker exec --profile reports -- printenv AWS_CONTAINER_CREDENTIALS_FULL_URI   # or: -- aws s3 ls',
    'credential-broker exec --profile reports --env-credentials -- printenv AWS_ACCESS_KEY_ID   # for s3cmd, rclone',
  ],
  run: async ({ configPath, values, operands, terminated }, io) =>
    (await import('./exec.ts')).execCommand(
      {
        configPath,
        profile: str(values, 'profile'),
        envCredentials: values['env-credentials'] === true,
        command: operands,
        terminated,
      },
      io,
    ),
});

export const ADVISE = command({
  name: 'advise',
  summary: 'recommend how this app should authenticate, with starter files',
  usage: [
    'advise --has LIST [--runs-on server|kubernetes] [--out DIR] [--json]',
    'advise [--out DIR]      (asks the questions, in a terminal)',
  ],
  description: `Recommends a mechanism from what your organisation already runs, following AWS's
comparison of their complexity and convenience, with the alternatives and their
trade-offs; then a starter config.yaml, the role's trust-policy.json and aws-setup.sh
(the AWS CLI commands), printed or written to --out. Needs no config.
Without --has, in a terminal or with --interactive, it asks what you have; with --out
it then asks for what the files need and no option gave (account id, role name,
region, and the issuer, client id, namespace, service account or IdP URL the
recommended mechanism uses). An answer it cannot read is asked again (3 tries);
input that ends before the last answer stops it, writing nothing.
Exit codes: 0 ok, 1 starter files already in --out (see --force), 64 usage error
or a question left unanswered.`,
  options: {
    has: {
      type: 'string',
      value: 'LIST',
      complete: ['oidc', 'saml', 'kerberos', 'pki', 'aws-keys', 'kubernetes', 'none'],
      help: `what you already run, comma-separated, or "none":
oidc (an OIDC provider issuing client-credential tokens),
saml (a SAML IdP), kerberos (Kerberos/AD with keytabs),
pki (certificate issuance and renewal), aws-keys (AWS access keys),
kubernetes (a service-account issuer AWS can reach)`,
    },
    'runs-on': {
      type: 'string',
      value: 'WHERE',
      complete: ['server', 'kubernetes'],
      help: 'server (default) or kubernetes',
    },
    'saml-login': {
      type: 'string',
      value: 'HOW',
      complete: ['password', 'kerberos'],
      help: `how the SAML IdP may log this machine in: password (a service
account with a password; default) or kerberos (only Windows
Integrated Authentication, from a keytab): recommends Kerberos`,
    },
    out: {
      type: 'string',
      value: 'DIR',
      complete: 'dir',
      help: 'write the three starter files there (else print them)',
    },
    force: { type: 'boolean', help: 'with --out: replace starter files that already exist' },
    json: json('the advice as JSON'),
    interactive: {
      type: 'boolean',
      help: `ask the questions even when stdin is not a terminal (one answer
a line); with --out also the starter values not given as options`,
    },
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
  run: async ({ values }, io) => (await import('./advise/index.ts')).adviseCommand(values, io),
});

const COMPLETION = command({
  name: 'completion',
  summary: 'print the shell completion script for bash, zsh or fish',
  usage: ['completion bash|zsh|fish'],
  description: `Prints a completion script for the commands and options of this version. The
Debian package installs them; elsewhere, load one from your shell's startup file.
Exit codes: 0 ok, 64 usage error.`,
  options: { help },
  operands: { usage: 'SHELL', complete: SHELLS },
  examples: [
    'credential-broker completion bash > ~/.bash_completion   # bash-completion loads it',
    'credential-broker completion fish > credential-broker.fish   # for ~/.config/fish/completions/',
  ],
  run: async ({ operands }, io) =>
    (await import('./completion.ts')).completionCommand(operands, COMMANDS, io),
});

export const COMMANDS: readonly Command[] = [
  SERVE,
  CHECK,
  EXEC,
  STATUS,
  ENV,
  CREDENTIAL_PROCESS,
  ADVISE,
  COMPLETION,
];

export function commandNamed(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
