// The default paths, in a module of their own so that `--help`, `advise` and `credential-process`
// can name them without loading zod, yaml and the schema (or node:crypto, with the token code).
import path from 'node:path';

export const DEFAULT_CONFIG_PATH = '/etc/credential-broker/config.yaml';

/** Where the shared client token lives unless server.tokenFile says otherwise. */
export function defaultTokenFile(): string {
  return path.join(process.env.RUNTIME_DIRECTORY ?? '/run/credential-broker', 'token');
}
