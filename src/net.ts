// Network primitives that need no config, so the ground floor (config included) may use them:
// which addresses mean this machine, what went wrong reaching a peer, and bodies read with a cap.
// Applying the `network:` settings (proxy, CAs) to the broker's outbound calls is outbound.ts's.
import { isIP } from 'node:net';

/** True for names that always mean this machine: 127.0.0.0/8, ::1 and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** The rule every URL that credentials or secrets cross must pass: https, or plain http only to a
 * loopback address (test OPs, emulators). The config schema holds configured URLs to it; sources
 * hold the URLs an IdP hands out (discovery endpoints, redirects) to the same rule. */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** "127.0.0.1:9911" / "[::1]:9911" → host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

/** The errors of a failure, outermost first (fetch nests the socket's error a level or two down). */
function* causes(err: unknown): Generator<{ code?: unknown; name?: unknown; message?: unknown } & object> {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e === 'object') yield e;
  }
}

/** The first error of `type` in the cause chain. */
export function causeOf<T>(err: unknown, type: new (...args: never[]) => T): T | undefined {
  for (const e of causes(err)) if (e instanceof type) return e;
  return undefined;
}

/** The bare errno ("ECONNREFUSED") or "timed out" buried in fetch's cause chain, if the failure
 * was the network's: for code that decides on it. For a message, describeNetworkFailure. */
export function networkErrorCode(err: unknown): string | undefined {
  for (const { code, name } of causes(err)) {
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) return code;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  }
  return undefined;
}

/** OpenSSL's and Node's ways of saying the peer's certificate is not one this host accepts. */
const CERT_CODE =
  /^(UNABLE_TO_\w+|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_\w+|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * What went wrong on the way to a peer, for an error message: the errno with the address it was
 * about ("ECONNREFUSED 10.0.0.5:443", the proxy's address when the proxy is down), a certificate
 * the host does not trust (with the setting that fixes it), a timeout, a proxy that refused the
 * tunnel, or fetch's own refusal ("bad port"). Undefined when the failure was not the network's.
 */
export function describeNetworkFailure(err: unknown): string | undefined {
  let fetchFailed = false;
  let innermost: string | undefined;
  for (const e of causes(err)) {
    const { code, name, message } = e;
    if (typeof code === 'string' && CERT_CODE.test(code)) {
      // Only an unknown issuer is this host's to fix; an expired certificate or a wrong name is the peer's.
      const fix = /^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_)/.test(code)
        ? '; if it is issued by a private CA or a TLS-inspecting proxy, name that CA in network.caFile'
        : code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? '; the URL must use a name the certificate carries'
          : '';
      return `TLS certificate not accepted: ${String(message)} (${code})${fix}`;
    }
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      const { address, port, hostname } = e as { address?: string; port?: number; hostname?: string };
      const where = address ? `${address}${port ? `:${port}` : ''}` : hostname;
      return where ? `${code} ${where}` : code;
    }
    // undici's words for a CONNECT the proxy refused; 407 is the broker's to fix.
    const refused = typeof message === 'string' && /^Proxy response \((\d+)\) !== 200/.exec(message);
    if (refused) {
      return refused[1] === '407'
        ? 'the proxy refused the tunnel: 407 Proxy Authentication Required; check network.proxyAuth (or the user:password in HTTPS_PROXY)'
        : `the proxy refused the tunnel (HTTP ${refused[1]})`;
    }
    if (typeof code === 'string' && code.startsWith('UND_ERR_')) return `${String(message)} (${code})`;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    if (e instanceof TypeError && message === 'fetch failed') fetchFailed = true;
    else if (fetchFailed && typeof message === 'string' && message) innermost = message;
  }
  return fetchFailed ? (innermost ?? 'fetch failed') : undefined;
}

/** A response body above the cap the caller set: the peer is not what it should be (or hostile). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

/** The body, refusing more than `limit` bytes whatever Content-Length claims: parsers downstream
 * (JSON, XML, HTML) only ever see a bounded string. The rest of the stream is cancelled. */
export async function readCapped(response: Response, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (Number(response.headers.get('content-length')) > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Throwing inside for-await cancels the stream (and with it undici's connection).
  for await (const chunk of (response.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** `fetch` whose answers are read whole, up to `limit` bytes, before anyone parses them: for
 * libraries (openid-client) that call `response.json()` on whatever arrives. The caller's
 * AbortSignal bounds the body read as well as the headers. `fetchImpl` carries the proxy and CA
 * settings (outbound.ts fetchFor). */
export function cappedFetch(
  limit: number,
  fetchImpl: (url: string, init?: RequestInit) => Promise<Response> = fetch,
): (url: string, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const response = await fetchImpl(url, init);
    const body = await readCapped(response, limit);
    const nullBody = [101, 204, 205, 304].includes(response.status);
    return new Response(nullBody ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
