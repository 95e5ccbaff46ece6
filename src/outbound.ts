// How the broker's own requests (STS, IAM Roles Anywhere, the OIDC issuer, the SAML IdP) leave
// the host: through an HTTP CONNECT proxy or not, and with which extra CA certificates. Enterprise
// networks often allow outbound HTTPS only through a proxy, sometimes one that re-signs TLS with
// its own CA.
//
// Decision: config wins; without `network.proxy` the conventional HTTPS_PROXY / NO_PROXY
// variables (either case) apply, as they do for the AWS CLI. One proxy serves every endpoint the
// broker calls; `noProxy` (or NO_PROXY) exempts hosts such as a VPC endpoint or an IdP on the local
// network. One HTTP stack, undici, carries every request: the AWS SDK through
// @smithy/undici-http-handler, Roles Anywhere through undici's request(), the IdP sources through
// fetch; each gets its dispatcher from dispatcherFor, so they cannot disagree about where a request
// goes. The proxy's password is a secret reference (`network.proxyAuth`), read on each request like
// every other secret; only HTTPS_PROXY may carry it inline, as the environment is where operators
// keep it and where `env:` references point anyway.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent } from 'undici';
import type { NetworkConfig } from './config/schema/index.ts';
import { readSecret } from './config/secrets.ts';
import { ConfigError } from './errors.ts';

export interface ResolvedNetwork {
  proxy: string | undefined;
  /** Who the broker is to `proxy` (the password a secret reference), from the layer that named it. */
  proxyAuth?: { username: string; password: string } | undefined;
  noProxy: string[];
  caFile: string | undefined;
}

/**
 * NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate verification for every TLS connection of
 * the process: STS and the identity providers could then be anyone on the path, and the
 * credentials and client secrets sent to them with it. Refused (a config error, exit 78) rather
 * than warned about: a warning at start is lost in the logs while every request stays exposed,
 * and `network.caFile` is the narrow fix for the usual reason (a private or inspecting CA).
 */
export function refuseDisabledTlsVerification(env: NodeJS.ProcessEnv = process.env): void {
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new ConfigError(
      'NODE_TLS_REJECT_UNAUTHORIZED=0 is set: it turns off certificate checks for STS and the identity providers; unset it, and name a private or TLS-inspecting CA in network.caFile instead',
    );
  }
}

/** No proxy, no extra CA: for callers given no network settings (the environment is not consulted). */
export const DIRECT: ResolvedNetwork = { proxy: undefined, noProxy: [], caFile: undefined };

/** Later layers (profile) override earlier ones (top level); unset proxy settings come from the
 * environment. `proxyAuth` travels with the `proxy` of its own layer: credentials for one proxy
 * are never sent to the proxy a profile names instead. */
export function resolveNetwork(
  layers: (NetworkConfig | undefined)[],
  env: NodeJS.ProcessEnv = process.env,
): ResolvedNetwork {
  let proxy: string | undefined;
  let proxyAuth: ResolvedNetwork['proxyAuth'];
  let noProxy: string[] | undefined;
  let caFile: string | undefined;
  for (const layer of layers) {
    if (layer?.proxy !== undefined) {
      proxy = layer.proxy;
      proxyAuth = layer.proxyAuth;
    }
    if (layer?.noProxy !== undefined) noProxy = layer.noProxy;
    if (layer?.caFile !== undefined) caFile = layer.caFile;
  }
  proxy ??= env.HTTPS_PROXY || env.https_proxy || undefined;
  noProxy ??= (env.NO_PROXY || env.no_proxy || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (proxy === 'none') return { proxy: undefined, noProxy, caFile };
  return { proxy, ...(proxyAuth && { proxyAuth }), noProxy, caFile };
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

/** Bounds for one dispatcher's connections; the caller's AbortSignal bounds the whole call. */
export interface DispatchLimits {
  /** TCP and TLS handshake (through the proxy: each of the two). */
  connectTimeout?: number;
  /** Waiting for the answer's headers, and between two chunks of its body. */
  ioTimeout?: number;
  /** A client certificate for mutual TLS with the endpoint (never presented to the proxy). */
  clientTls?: ClientTls | undefined;
}

/**
 * The undici dispatcher for requests to `url`: tunnelled through the proxy when one applies
 * (authenticated with `proxyAuth`, read now), trusting `caFile` (read now) on top of the system
 * roots. Undefined when nothing differs from undici's defaults and no limits are asked for. The
 * caller owns it: close() it when done.
 */
export async function dispatcherFor(
  url: URL,
  network: ResolvedNetwork,
  limits: DispatchLimits = {},
): Promise<Dispatcher | undefined> {
  const proxy = proxyFor(url, network);
  const ca = extraCa(network.caFile);
  const tls = {
    ...(ca && { ca: [...rootCertificates, ca] }),
    ...(limits.connectTimeout && { timeout: limits.connectTimeout }),
  };
  const endpointTls = { ...tls, ...limits.clientTls };
  const timeouts = limits.ioTimeout
    ? { headersTimeout: limits.ioTimeout, bodyTimeout: limits.ioTimeout }
    : {};
  if (proxy) {
    const token = network.proxyAuth ? await proxyAuthorization(network.proxyAuth) : undefined;
    // requestTls is the endpoint's TLS inside the tunnel, proxyTls an https proxy's own.
    return new ProxyAgent({ uri: proxy, token, requestTls: endpointTls, proxyTls: tls, ...timeouts });
  }
  if (Object.keys(endpointTls).length || limits.ioTimeout)
    return new Agent({ connect: endpointTls, ...timeouts });
  return undefined;
}

/** The Proxy-Authorization value: Basic, what every CONNECT proxy that authenticates accepts. */
async function proxyAuthorization(auth: { username: string; password: string }): Promise<string> {
  const password = await readSecret(auth.password);
  return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
}

/** What decides a request's route, as a digest: a cached client is replaced when it changes (a
 * renewed caFile, a rotated proxy password) and the secret itself is kept nowhere new. */
export async function routeDigest(url: URL, network: ResolvedNetwork): Promise<string> {
  const proxy = proxyFor(url, network);
  const hash = createHash('sha256').update(JSON.stringify([proxy, extraCa(network.caFile)]));
  if (proxy && network.proxyAuth) hash.update(await proxyAuthorization(network.proxyAuth));
  return hash.digest('hex');
}

/** A client certificate (PEM, leaf first, then its chain) and its key, for mutual TLS with an IdP. */
export interface ClientTls {
  cert: string;
  key: string;
}

/** What the IdP sources call instead of the global `fetch`. */
export type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * `fetch` for requests to identity providers, under dispatcherFor's rules. Each request gets its
 * own dispatcher, closed once its answer has been read: one CONNECT tunnel per request, and
 * `caFile` and the proxy password re-read on each, so a renewed CA needs no restart.
 */
export function fetchFor(network: ResolvedNetwork, clientTls?: ClientTls): Fetch {
  if (!network.proxy && !network.caFile && !clientTls) return fetch;
  return async (url, init) => {
    const dispatcher = await dispatcherFor(new URL(url), network, { clientTls });
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
