// Refuses requests that a browser could have been tricked into sending (like the ECS agent and
// IMDSv2 do): SDKs never send Origin or Sec-Fetch-*, and always address the listener by an IP or
// name that means this machine, while a DNS-rebinding page sends its own host name.
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../net.ts';
import { sendError } from './errors.ts';

// Browsers send Sec-Fetch-Site/-Dest on every request; Node's own fetch() sends a lone
// `sec-fetch-mode: cors`, so that header alone is not taken as a browser.
const BROWSER_HEADERS = ['origin', 'sec-fetch-site', 'sec-fetch-dest', 'sec-fetch-user'];

/** `hosts`: more names clients may use, e.g. the TLS certificate's (a rebinding page cannot pass
 * the certificate check for them). */
export function guardPlugin(app: FastifyInstance, opts: { listenHost: string; hosts?: string[] }): void {
  const allowed = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    opts.listenHost.toLowerCase(),
    ...(opts.hosts ?? []),
  ]);
  // Callback-style hooks (here and in hardening.ts): they run on every request, and an async
  // hook costs a promise and a microtask turn each.
  app.addHook('onRequest', (req, reply, done) => {
    if (BROWSER_HEADERS.some((h) => req.headers[h] !== undefined)) {
      req.log.warn({ remote: req.ip, outcome: 'BROWSER_REQUEST_REFUSED' }, 'request refused');
      sendError(reply, 403, 'BROWSER_REQUEST_REFUSED', 'requests from web pages are refused');
      return;
    }
    const host = hostOf(req.headers.host);
    if (!host || !(allowed.has(host) || isLoopbackHost(host))) {
      req.log.warn({ remote: req.ip, outcome: 'HOST_REFUSED', host: host?.slice(0, 100) }, 'request refused');
      sendError(
        reply,
        403,
        'HOST_REFUSED',
        'the Host header does not name this listener; use http://127.0.0.1:PORT in AWS_CONTAINER_CREDENTIALS_FULL_URI',
      );
      return;
    }
    done();
  });
}

function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.split(':')[0];
}
