// Per-listener bounds that hold before any route runs: who may connect (allow-list), how long a
// URL may be, and how many requests may be in progress at once. Header size and slow clients are
// bounded by the Node server itself (see base.ts).
import type { ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { LimitsConfig } from '../config/schema/index.ts';
import type { RefusalLog } from './refusal-log.ts';
import { type Refusal, sendRefusal } from './wire.ts';

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

/**
 * The listener's admission rules: the allow-list, the URL length, and how many requests may be in
 * progress at once. The fastify hook below applies them to every request; the cached-credentials
 * fast path (fast-path.ts) asks `refusal()` too and leaves any refused request to that hook.
 */
export class Admission {
  private inFlight = 0;
  private readonly allowed: ((address: string) => boolean) | undefined;

  constructor(
    private readonly limits: Pick<LimitsConfig, 'maxUrlLength' | 'maxConcurrent'>,
    allow?: readonly string[],
  ) {
    this.allowed = allow ? addressMatcher(allow) : undefined;
  }

  /** Why a request from `remote` for `url` is refused now, or undefined when it may proceed. */
  refusal(remote: string, url: string): Refusal | undefined {
    if (this.allowed && !this.allowed(remote)) {
      return {
        status: 403,
        code: 'ADDRESS_REFUSED',
        message: 'this client address is not in the listener allow-list',
      };
    }
    const { maxUrlLength, maxConcurrent } = this.limits;
    if (url.length > maxUrlLength) {
      return { status: 414, code: 'URL_TOO_LONG', message: `URLs are limited to ${maxUrlLength} characters` };
    }
    if (this.inFlight >= maxConcurrent) {
      return {
        status: 503,
        code: 'TOO_BUSY',
        message: `more than ${maxConcurrent} requests in progress; retry shortly`,
        fields: { inFlight: this.inFlight },
        retryAfterSeconds: 1,
      };
    }
    return undefined;
  }

  /** Counts `res` as in progress until it closes ('close' fires once per response, also when the
   * client goes away mid-request). */
  enter(res: ServerResponse): void {
    this.inFlight += 1;
    res.once('close', () => {
      this.inFlight -= 1;
    });
  }
}

export function hardeningPlugin(
  app: FastifyInstance,
  opts: { limits: LimitsConfig; allow?: readonly string[]; refusals: RefusalLog },
): Admission {
  const admission = new Admission(opts.limits, opts.allow);
  app.addHook('onRequest', (req, reply, done) => {
    const refused = admission.refusal(req.ip, req.url);
    if (refused !== undefined) return sendRefusal(reply, opts.refusals, req.ip, refused);
    admission.enter(reply.raw);
    done();
  });
  return admission;
}
