// Refuses requests that a browser could have been tricked into sending (like the ECS agent and
// IMDSv2 do): SDKs never send Origin or Sec-Fetch-*, and always address the listener by an IP or
// name that means this machine, while a DNS-rebinding page sends its own host name. Runs on every
// route of a listener (health and metrics too: they name profiles, expiry and error codes).
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../net.ts';
import { type Refusal, sendRefusal } from './wire.ts';

// Browsers send Sec-Fetch-Site/-Dest on every request; Node's own fetch() sends a lone
// `sec-fetch-mode: cors`, so that header alone is not taken as a browser.
const BROWSER_HEADERS = ['origin', 'sec-fetch-site', 'sec-fetch-dest', 'sec-fetch-user'];

/** RFC 3986 host (IP literal in brackets, or a name/IPv4 of unreserved characters) and port; no
 * userinfo, no trailing junk: `127.0.0.1:80@evil.com` and `[::1]evil.example` do not match. */
const HOST_PORT = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._~-]+))(?::\d{0,5})?$/i;
/** The authority of an absolute-form request target (`GET http://host/path`). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i;

export interface GuardOptions {
  /** Host part of the listen address, accepted in Host besides loopback names. */
  listenHost: string;
  /** More names clients may use, e.g. the TLS certificate's (a rebinding page cannot pass the
   * certificate check for them) or `metrics.hosts`. */
  hosts?: readonly string[];
  /**
   * The metrics listener: it may face Prometheus and kubelet probes on any address, which send
   * the address they dialled (an IP) as Host. An IP literal cannot be rebound (a rebinding page
   * sends its own name), so any IP is accepted; and only Origin counts as a browser, so that an
   * operator can open /metrics in a browser (a navigation sends Sec-Fetch-* but no Origin), while
   * a script on another origin always sends Origin.
   */
  scraper?: boolean;
}

/** Why a request is refused as a browser's or a rebinding page's, or undefined when it passes. */
export type HostGuard = (req: IncomingMessage) => Refusal | undefined;

export function hostGuard(opts: GuardOptions): HostGuard {
  const allowed = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    opts.listenHost.toLowerCase(),
    ...(opts.hosts ?? []).map((h) => h.toLowerCase()),
  ]);
  const browserHeaders = opts.scraper ? ['origin'] : BROWSER_HEADERS;
  const hostAllowed = (host: string) =>
    allowed.has(host) || isLoopbackHost(host) || (opts.scraper === true && isIP(host) !== 0);
  return (req) => {
    for (const h of browserHeaders) {
      if (req.headers[h] !== undefined) {
        return {
          status: 403,
          code: 'BROWSER_REQUEST_REFUSED',
          message: 'requests from web pages are refused',
        };
      }
    }
    // Node keeps only the first of several Host headers: which one a proxy in front used is anyone's guess.
    if (hostHeaderCount(req.rawHeaders) > 1) {
      return { status: 400, code: 'BAD_HOST', message: 'send exactly one Host header' };
    }
    // Absolute form (`GET http://host/path`): the target's authority is the host (RFC 9112 §3.2.2),
    // and fastify routes on its path, so it is held to the same rule as Host.
    const url = req.url ?? '';
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      const authority = ABSOLUTE_FORM.exec(url)?.[1];
      const target = authority === undefined ? undefined : hostOf(authority);
      if (target === undefined || !hostAllowed(target)) {
        return {
          status: 400,
          code: 'BAD_REQUEST_TARGET',
          message: 'the request target must be a path on this listener, like /v1/credentials/PROFILE',
        };
      }
    }
    const header = req.headers.host;
    const host = header === undefined ? undefined : hostOf(header);
    if (header !== undefined && host === undefined) {
      return { status: 400, code: 'BAD_HOST', message: 'the Host header must be HOST or HOST:PORT' };
    }
    if (host === undefined || !hostAllowed(host)) {
      return {
        status: 403,
        code: 'HOST_REFUSED',
        message:
          'the Host header does not name this listener; use http://127.0.0.1:PORT in AWS_CONTAINER_CREDENTIALS_FULL_URI',
        fields: { host: host?.slice(0, 100) },
      };
    }
    return undefined;
  };
}

/** Runs the guard on every request of `app`; returns it for a path that answers outside fastify. */
export function guardPlugin(app: FastifyInstance, opts: GuardOptions): HostGuard {
  const guard = hostGuard(opts);
  // Callback-style hooks (here and in hardening.ts): they run on every request, and an async
  // hook costs a promise and a microtask turn each.
  app.addHook('onRequest', (req, reply, done) => {
    const refused = guard(req.raw);
    if (refused !== undefined) return sendRefusal(reply, app.refusals, req.ip, refused);
    done();
  });
  return guard;
}

function hostHeaderCount(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') count += 1;
  }
  return count;
}

/** The host of a Host header or an authority, lower-cased, without brackets and port; undefined
 * when it is not a well-formed host[:port]. */
function hostOf(value: string): string | undefined {
  const m = HOST_PORT.exec(value);
  if (m === null) return undefined;
  return (m[1] ?? m[2])?.toLowerCase();
}
