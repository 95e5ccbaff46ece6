// How the broker's own requests to AWS (STS, IAM Roles Anywhere) leave the host: through an HTTP
// CONNECT proxy or not, and with which extra CA certificates. Enterprise networks often allow
// outbound HTTPS only through a proxy, sometimes one that re-signs TLS with its own CA.
//
// Decision: config wins; without `network.proxy` the conventional HTTPS_PROXY / NO_PROXY
// variables (either case) apply, as they do for the AWS CLI. One proxy serves every endpoint the
// broker calls; `noProxy` (or NO_PROXY) exempts hosts such as a VPC endpoint.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import type { NetworkConfig } from './config/schema.ts';
import { ConfigError } from './errors.ts';

export interface ResolvedNetwork {
  proxy: string | undefined;
  noProxy: string[];
  caFile: string | undefined;
}

/** Later layers (profile) override earlier ones (top level); unset proxy settings come from the environment. */
export function resolveNetwork(
  layers: (NetworkConfig | undefined)[],
  env: NodeJS.ProcessEnv = process.env,
): ResolvedNetwork {
  let proxy: string | undefined;
  let noProxy: string[] | undefined;
  let caFile: string | undefined;
  for (const layer of layers) {
    if (layer?.proxy !== undefined) proxy = layer.proxy;
    if (layer?.noProxy !== undefined) noProxy = layer.noProxy;
    if (layer?.caFile !== undefined) caFile = layer.caFile;
  }
  proxy ??= env.HTTPS_PROXY || env.https_proxy || undefined;
  noProxy ??= (env.NO_PROXY || env.no_proxy || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { proxy: proxy === 'none' ? undefined : proxy, noProxy, caFile };
}

/** The proxy to use for this URL, or undefined for a direct connection (curl's NO_PROXY rules). */
export function proxyFor(url: URL, network: ResolvedNetwork): string | undefined {
  if (!network.proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of network.noProxy) {
    const entry = raw.toLowerCase();
    if (entry === '*') return undefined;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) continue;
    const name = m[1]!.replace(/^\[|\]$/g, '');
    if (m[2] !== undefined && m[2] !== port) continue;
    if (isIP(name)) {
      if (name === host) return undefined;
      continue;
    }
    const suffix = name.replace(/^\*?\./, '');
    if (host === suffix || host.endsWith(`.${suffix}`)) return undefined;
  }
  return network.proxy;
}

/**
 * An http(s) Agent for requests to `url`: tunnelled through the proxy when one applies, and
 * trusting `caFile` on top of the system roots. Undefined when the defaults do (no proxy, no CA).
 */
export function agentFor(url: URL, network: ResolvedNetwork): http.Agent | undefined {
  const ca = extraCa(network.caFile);
  const proxy = proxyFor(url, network);
  const tls = ca ? { ca: [...rootCertificates, ca] } : {};
  if (proxy) return new TunnelAgent(proxy, tls);
  if (ca && url.protocol === 'https:') return new https.Agent({ keepAlive: true, ...tls });
  return undefined;
}

/**
 * https-proxy-agent applies its TLS options to the connection to the proxy only; the TLS session
 * to the endpoint inside the tunnel gets the request's options, which do not carry `ca`. Adding
 * them here makes `caFile` count for the endpoint too (a test caught this).
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: string,
    private readonly tls: { ca?: string[] },
  ) {
    super(proxy, { keepAlive: true, ...tls });
  }

  override connect(req: http.ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    return super.connect(req, { ...opts, ...this.tls });
  }
}

function extraCa(caFile: string | undefined): string | undefined {
  if (!caFile) return undefined;
  try {
    return readFileSync(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `network.caFile ${caFile}: cannot read it (${code}); give a PEM file of CA certificates`,
      {
        cause: err,
      },
    );
  }
}
