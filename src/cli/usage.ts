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
  credential-broker --help | --version

Options:
  -c, --config FILE   config file (default ${DEFAULT_CONFIG_PATH})
  -p, --profile NAME  only this profile (check)
      --json          machine-readable output (check)

Apps: set AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/PROFILE
and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=<the broker's token file>.

Exit codes: 0 ok, 1 runtime failure, 64 usage error, 78 invalid config.
`;
