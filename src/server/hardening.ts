// Per-listener bounds that hold before any route runs: who may connect (allow-list), how long a
// URL may be, and how many requests may be in progress at once. Header size and slow clients are
// bounded by the Node server itself (see base.ts).
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { LimitsConfig } from '../config/schema/index.ts';
import type { RefusalLog } from './refusal-log.ts';
import { sendError } from './wire.ts';

/** Allow-list entries ("10.0.0.0/8", "::1/128", "127.0.0.1") as a matcher. */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip = '', prefix] = entry.split('/');
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(prefix), type);
  }
  return (address) => {
    // An IPv4 client of a dual-stack socket shows up as ::ffff:a.b.c.d.
    const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
}

export function hardeningPlugin(
  app: FastifyInstance,
  opts: { limits: LimitsConfig; allow?: readonly string[]; refusals: RefusalLog },
): void {
  const allowed = opts.allow ? addressMatcher(opts.allow) : undefined;
  const { maxUrlLength, maxConcurrent } = opts.limits;
  let inFlight = 0;

  app.addHook('onRequest', (req, reply, done) => {
    if (allowed && !allowed(req.ip)) {
      opts.refusals.refused({ remote: req.ip, outcome: 'ADDRESS_REFUSED' }, 'request refused');
      sendError(reply, 403, 'ADDRESS_REFUSED', 'this client address is not in the listener allow-list');
      return;
    }
    if (req.url.length > maxUrlLength) {
      opts.refusals.refused({ remote: req.ip, outcome: 'URL_TOO_LONG' }, 'request refused');
      sendError(reply, 414, 'URL_TOO_LONG', `URLs are limited to ${maxUrlLength} characters`);
      return;
    }
    if (inFlight >= maxConcurrent) {
      opts.refusals.refused({ remote: req.ip, outcome: 'TOO_BUSY', inFlight }, 'request refused');
      reply.header('Retry-After', '1');
      sendError(reply, 503, 'TOO_BUSY', `more than ${maxConcurrent} requests in progress; retry shortly`);
      return;
    }
    inFlight += 1;
    // 'close' fires once per response, also when the client goes away mid-request.
    reply.raw.once('close', () => {
      inFlight -= 1;
    });
    done();
  });
}
