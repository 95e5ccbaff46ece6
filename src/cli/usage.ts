import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH } from '../config/load.ts';

export function version(): string {
  // src/ and dist/ both sit one level below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export const USAGE = `credential-broker — temporary AWS credentials for applications outside AWS

Usage:
  credential-broker serve [--config FILE]
      Run the daemon: authenticate each profile's source, exchange at STS, keep the
      credentials fresh and serve them on http://127.0.0.1:9911/v1/credentials/{profile}.
  credential-broker check [--config FILE] [--profile NAME] [--json]
      Validate the config, do one live exchange per profile and prove it with
      sts:GetCallerIdentity. Exits 1 if any profile fails.
  credential-broker env --profile NAME [--format shell|systemd] [--config FILE]
      Print the AWS_CONTAINER_CREDENTIALS_FULL_URI and ..._TOKEN_FILE lines that point
      an app at a profile (eval in a shell, or a systemd EnvironmentFile=).
  credential-broker credential-process --profile NAME [--config FILE | --url URL --token-file FILE]
      For credential_process in ~/.aws/config: fetch from the running broker and print
      the Version 1 JSON on stdout (errors on stderr, exit 1).
  credential-broker advise [--has oidc,saml,kerberos,pki,kubernetes,aws-keys] [--out DIR]
      Recommend how this app should authenticate (AWS guidance: complexity and
      convenience of each mechanism), with a starter config, trust policy and AWS CLI
      commands. "credential-broker advise --help" for its options.
  credential-broker --help | --version

Options:
  -c, --config FILE   config file (default ${DEFAULT_CONFIG_PATH})
  -p, --profile NAME  only this profile (check); the profile (env, credential-process)
      --json          machine-readable output (check)
      --format F      shell (default) or systemd (env)
      --url URL       the broker's credentials URL (credential-process; default from the config)
      --token-file F  the client token file (credential-process; default from the config)

Apps: set AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/PROFILE
and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=<the broker's token file>.

Signals (serve): SIGHUP reloads the config; SIGTERM/SIGINT finish in-flight requests and exit 0.
Exit codes: 0 ok, 1 runtime failure, 64 usage error, 70 unhandled error, 78 invalid config.
`;
