// How the broker's own requests to AWS (STS, IAM Roles Anywhere) leave the host: through an HTTP
// CONNECT proxy or not, and with which extra CA certificates. Enterprise networks often allow
// outbound HTTPS only through a proxy, sometimes one that re-signs TLS with its own CA.
//
// Decision: config wins; without `network.proxy` the conventional HTTPS_PROXY / NO_PROXY
// variables (either case) apply, as they do for the AWS CLI. One proxy serves every endpoint the
// broker calls (STS, Roles Anywhere, the OIDC issuer, the SAML IdP); `noProxy` (or NO_PROXY)
// exempts hosts such as a VPC endpoint or an IdP on the local network. The AWS SDK wants a Node
// http.Agent (agentFor), the IdP sources use fetch (fetchFor): both take their rules from
// proxyFor and extraCa, so the two cannot disagree about where a request goes.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { Agent, type Dispatcher, ProxyAgent } from 'undici';
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
  const { proxy, tls } = routeFor(url, network);
  if (proxy) return new TunnelAgent(proxy, tls ?? {});
  if (tls && url.protocol === 'https:') return new https.Agent({ keepAlive: true, ...tls });
  return undefined;
}

/** The one decision agentFor (STS, Roles Anywhere) and fetchFor (IdPs) share, so they cannot
 * disagree: which proxy, if any, and which CAs to trust. */
function routeFor(url: URL, network: ResolvedNetwork): { proxy?: string; tls?: { ca: string[] } } {
  const ca = extraCa(network.caFile);
  return { proxy: proxyFor(url, network), tls: ca ? { ca: [...rootCertificates, ca] } : undefined };
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

/** What the IdP sources call instead of the global `fetch`. */
export type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * `fetch` for requests to identity providers, under the same rules as agentFor: tunnelled through
 * the proxy when one applies, trusting `caFile` on top of the system roots. Each request gets its
 * own dispatcher, closed once its answer has been read (as agentFor's agent lives for one call):
 * one CONNECT tunnel per request, and `caFile` re-read on each, so a renewed CA needs no restart.
 */
export function fetchFor(network: ResolvedNetwork): Fetch {
  if (!network.proxy && !network.caFile) return fetch;
  return async (url, init) => {
    const dispatcher = dispatcherFor(new URL(url), network);
    if (!dispatcher) return fetch(url, init);
    try {
      // The cast bridges undici's own Dispatcher type and the one Node's bundled fetch declares.
      return await fetch(url, { ...init, dispatcher } as RequestInit);
    } finally {
      // close() is graceful: the answer's body still streams in; the connection ends after it.
      dispatcher.close().catch(() => undefined);
    }
  };
}

function dispatcherFor(url: URL, network: ResolvedNetwork): Dispatcher | undefined {
  const { proxy, tls } = routeFor(url, network);
  // requestTls is the endpoint's TLS inside the tunnel, proxyTls an https proxy's own.
  if (proxy) return new ProxyAgent({ uri: proxy, requestTls: tls, proxyTls: tls });
  if (tls && url.protocol === 'https:') return new Agent({ connect: tls });
  return undefined;
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
