// Where an app reaches a profile on the running broker: the URL and the token file, as derived from
// the broker's config (used by `env` and `credential-process`).
// Not from broker.ts or the server: credential_process runs on every SDK fetch, and broker.ts loads
// the AWS SDK and fastify (and the token code node:crypto).
import { defaultTokenFile } from '../config/default-path.ts';
import { ConfigError } from '../errors.ts';
import { parseListen } from '../net.ts';

export interface Endpoint {
  url: string;
  tokenFile: string;
}

/** The part of a config (a Config is one) that endpointFor reads, and all that the endpoint cache
 * (endpoint-cache.ts) keeps of it. */
export interface EndpointConfig {
  server: { listen: string; tls?: unknown; tokenFile?: string | undefined };
  profiles: Record<string, { tokenFile?: string | undefined }>;
}

/** Just that part, as plain JSON (tls: whether it is on). */
export function endpointPart(config: EndpointConfig): EndpointConfig {
  const { listen, tls, tokenFile } = config.server;
  return {
    server: { listen, ...(tls ? { tls: true } : {}), ...(tokenFile ? { tokenFile } : {}) },
    profiles: Object.fromEntries(
      Object.entries(config.profiles).map(([name, p]) => [
        name,
        p.tokenFile ? { tokenFile: p.tokenFile } : {},
      ]),
    ),
  };
}

/** An address that means "every interface" is reached on this machine through loopback. */
const ANY = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

export function hostForUrl(listen: string): { host: string; port: number } {
  const { host, port } = parseListen(listen);
  const h = ANY.has(host) ? '127.0.0.1' : host;
  return { host: h.includes(':') ? `[${h}]` : h, port };
}

export function endpointFor(config: EndpointConfig, file: string, profile: string): Endpoint {
  const p = config.profiles[profile];
  if (!p) {
    throw new ConfigError(
      `${file}: no profile "${profile}"; configured: ${Object.keys(config.profiles).join(', ')}`,
    );
  }
  const { host, port } = hostForUrl(config.server.listen);
  if (port === 0) {
    throw new ConfigError(
      `${file}: server.listen has port 0 (chosen at startup), so the URL cannot be known in advance: set a fixed port, or pass --url`,
    );
  }
  const scheme = config.server.tls ? 'https' : 'http';
  return {
    url: `${scheme}://${host}:${port}/v1/credentials/${profile}`,
    // The same rule as Broker: the profile's own token, else the shared one.
    tokenFile: p.tokenFile ?? config.server.tokenFile ?? defaultTokenFile(),
  };
}
