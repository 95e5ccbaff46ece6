// Failed-token attempts per source address. SDKs retry 4xx answers (JS 4 tries, botocore 3, about
// a second apart: docs/sdk-contract.md, Container endpoint, retries), so one app with a wrong token
// produces a burst of failures for one mistake: a burst counts once, and the budget is in
// mistakes per window. Beyond it, failed attempts get 429 + Retry-After instead of 401/403.
//
// A valid token is still served to a source over budget: every local app shares 127.0.0.1, so a
// lockout of the address would let one misconfigured app take credentials away from all others,
// while guessing a 256-bit token is hopeless anyway. What the limit bounds is the noise and cost
// of a misbehaving client, and it makes one visible (429, a log line per attempt, a metric).

/** Attempts of one SDK call: JS makes the most tries (4), each within ~2 s of the previous. */
const BURST_ATTEMPTS = 4;
const BURST_MS = 10_000;
/** Sources remembered at once; the least recently failing is forgotten first. */
const MAX_SOURCES = 10_000;

interface SourceState {
  /** Start times of the mistakes still inside the window. */
  mistakes: number[];
  burstStart: number;
  burstAttempts: number;
}

export interface FailureVerdict {
  /** Mistakes from this source inside the window, this one included. */
  mistakes: number;
  /** True when over budget: answer 429. */
  limited: boolean;
  /** Seconds until the oldest mistake leaves the window. */
  retryAfterSeconds: number;
}

export class FailedTokenLimiter {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly maxMistakes: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one failed attempt from `source` and says whether it is over budget. */
  fail(source: string): FailureVerdict {
    const now = this.now();
    const state = this.sources.get(source) ?? { mistakes: [], burstStart: -Infinity, burstAttempts: 0 };
    this.sources.delete(source); // re-inserted below: Map order = least recently failing first
    state.mistakes = state.mistakes.filter((t) => now - t < this.windowMs);
    if (now - state.burstStart < BURST_MS && state.burstAttempts < BURST_ATTEMPTS) {
      state.burstAttempts += 1;
    } else {
      state.burstStart = now;
      state.burstAttempts = 1;
      state.mistakes.push(now);
    }
    this.sources.set(source, state);
    if (this.sources.size > MAX_SOURCES) this.sources.delete(this.sources.keys().next().value as string);
    const oldest = state.mistakes[0] ?? now;
    return {
      mistakes: state.mistakes.length,
      limited: state.mistakes.length > this.maxMistakes,
      retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000)),
    };
  }
}
