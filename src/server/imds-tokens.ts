// IMDSv2 session tokens: random, held in memory with their expiry, bounded in number, in total
// and per client address. A client whose token was dropped gets 401 and fetches a new one (JS and
// Go turn token fetching back on after a 401: docs/sdk-contract.md, IMDSv2 listener).
import { createHash, randomBytes } from 'node:crypto';

/** Tokens one client address may hold: half the store (at least 1). */
export function imdsTokensPerAddress(maxTokens: number): number {
  return Math.max(1, Math.ceil(maxTokens / 2));
}

interface Held {
  /** ms since epoch */
  expires: number;
  /** The client address that asked for it. */
  owner: string;
}

export class ImdsTokenStore {
  /** SHA-256 of the token → its expiry and owner. Keyed by digest so that a lookup never compares
   * attacker-chosen bytes with a live token. */
  private readonly tokens = new Map<string, Held>();
  /** Tokens held per client address. */
  private readonly perOwner = new Map<string, number>();

  /**
   * @param maxPerAddress Tokens one client address may hold; beyond it that address's own
   * soonest-expiring token goes, so a flood of PUTs from one address cannot evict the tokens of
   * another (the total bound alone let any client push out everyone's).
   */
  constructor(
    private readonly maxTokens: number,
    private readonly now: () => number = Date.now,
    private readonly maxPerAddress: number = maxTokens,
  ) {}

  issue(ttlSeconds: number, owner = ''): string {
    const now = this.now();
    if ((this.perOwner.get(owner) ?? 0) >= this.maxPerAddress) {
      this.dropExpired(now, owner);
      while ((this.perOwner.get(owner) ?? 0) >= this.maxPerAddress) this.drop(this.soonestExpiring(owner));
    }
    if (this.tokens.size >= this.maxTokens) {
      // Expired tokens go first; if none, the one expiring soonest, whose client would have
      // fetched another the soonest anyway (it gets 401 and does so now). Issue order is no
      // guide: a client asking for short TTLs would otherwise keep its tokens while others' went.
      this.dropExpired(now);
      while (this.tokens.size >= this.maxTokens) this.drop(this.soonestExpiring());
    }
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(digest(token), { expires: now + ttlSeconds * 1000, owner });
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    return token;
  }

  valid(token: string | undefined): boolean {
    if (!token) return false;
    const key = digest(token);
    const held = this.tokens.get(key);
    if (held === undefined) return false;
    if (held.expires > this.now()) return true;
    this.drop(key);
    return false;
  }

  private drop(key: string): void {
    const held = this.tokens.get(key);
    if (held === undefined) return;
    this.tokens.delete(key);
    const left = (this.perOwner.get(held.owner) ?? 1) - 1;
    if (left > 0) this.perOwner.set(held.owner, left);
    else this.perOwner.delete(held.owner);
  }

  private dropExpired(now: number, owner?: string): void {
    for (const [key, held] of this.tokens) {
      if (held.expires <= now && (owner === undefined || held.owner === owner)) this.drop(key);
    }
  }

  /** A scan, not a heap: it runs only when the store or an address is full, and maxTokens is small. */
  private soonestExpiring(owner?: string): string {
    let soonest = '';
    let at = Infinity;
    for (const [key, held] of this.tokens) {
      if (held.expires < at && (owner === undefined || held.owner === owner)) {
        at = held.expires;
        soonest = key;
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
