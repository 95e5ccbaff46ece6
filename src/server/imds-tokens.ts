// IMDSv2 session tokens: random, held in memory with their expiry, bounded in number. A client
// whose token was dropped gets 401 and fetches a new one (JS and Go turn token fetching back on
// after a 401: docs/sdk-contract.md, IMDSv2 listener).
import { createHash, randomBytes } from 'node:crypto';

export class ImdsTokenStore {
  /** SHA-256 of the token → expiry (ms since epoch). Keyed by digest so that a lookup never
   * compares attacker-chosen bytes with a live token. */
  private readonly tokens = new Map<string, number>();

  constructor(
    private readonly maxTokens: number,
    private readonly now: () => number = Date.now,
  ) {}

  issue(ttlSeconds: number): string {
    const now = this.now();
    if (this.tokens.size >= this.maxTokens) {
      // Expired tokens go first; if none, the one expiring soonest, whose client would have
      // fetched another the soonest anyway (it gets 401 and does so now). Issue order is no
      // guide: a client asking for short TTLs would otherwise keep its tokens while others' went.
      for (const [token, expires] of this.tokens) if (expires <= now) this.tokens.delete(token);
      while (this.tokens.size >= this.maxTokens) this.tokens.delete(this.soonestExpiring());
    }
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(digest(token), now + ttlSeconds * 1000);
    return token;
  }

  valid(token: string | undefined): boolean {
    if (!token) return false;
    const key = digest(token);
    const expires = this.tokens.get(key);
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    this.tokens.delete(key);
    return false;
  }

  /** A scan, not a heap: it runs only when the store is full, and maxTokens is small. */
  private soonestExpiring(): string {
    let soonest = '';
    let at = Infinity;
    for (const [token, expires] of this.tokens) {
      if (expires < at) {
        at = expires;
        soonest = token;
      }
    }
    return soonest;
  }

  get size(): number {
    return this.tokens.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
