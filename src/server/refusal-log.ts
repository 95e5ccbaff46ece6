// Refusal lines, summarised per client address per window. A flood of bad requests (wrong tokens,
// rebinding Host headers, a broken client in a retry loop) would otherwise write a line each and
// push real audit lines past journald's rate limit (RateLimitBurst drops whole bursts of a unit's
// lines, good ones included). The first refusal from an address in a window is logged in full;
// the rest are counted and told in one summary line when the window ends. The metrics count every
// request (credential_broker_http_requests_total, credential_broker_auth_failures_total), so
// nothing is lost, only not repeated.
import type { Logger } from '../telemetry/logger.ts';

/** Length of a summary window. A constant, not a setting: it only trades log lines for latency of
 * the summary, and no operator decision depends on it. */
export const REFUSAL_WINDOW_MS = 60_000;
/** Addresses tracked at once. Beyond it (an attacker rotating IPv6 source addresses), refusals
 * from new addresses share one "other addresses" entry, so memory and lines per window stay
 * bounded whatever the number of sources. */
export const MAX_REFUSAL_ADDRESSES = 256;
/** The shared entry's name in summaries. */
export const OTHER_ADDRESSES = 'other addresses';

interface Window {
  start: number;
  /** Refusals after the first one in this window, not yet summarised. */
  count: number;
  /** Their codes (outcome) and how often each came. */
  codes: Map<string, number>;
}

/** What a refusal line carries; `remote` and `outcome` are required, the rest is the caller's. */
export interface RefusalFields {
  remote: string;
  outcome: string;
  [field: string]: unknown;
}

export class RefusalLog {
  /** Address → its open window; Map order = window start order (re-inserted on a new window). */
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = REFUSAL_WINDOW_MS,
    private readonly maxAddresses = MAX_REFUSAL_ADDRESSES,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs a refusal (warn) in full, or counts it when its address already had one this window. */
  refused(fields: RefusalFields, msg: string): void {
    const now = this.now();
    const key =
      this.windows.has(fields.remote) || this.windows.size < this.maxAddresses
        ? fields.remote
        : OTHER_ADDRESSES;
    const open = this.windows.get(key);
    if (open !== undefined && now - open.start < this.windowMs) {
      open.count += 1;
      open.codes.set(fields.outcome, (open.codes.get(fields.outcome) ?? 0) + 1);
      this.schedule();
      return;
    }
    if (open !== undefined) this.close(key, open);
    this.windows.set(key, { start: now, count: 0, codes: new Map() });
    this.logger.warn(key === fields.remote ? fields : { ...fields, summarisedAs: OTHER_ADDRESSES }, msg);
    this.schedule();
  }

  /** Writes the summaries still pending (at shutdown) and stops the timer. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, open] of this.windows) this.close(key, open);
  }

  /** Ends a window: its summary line if anything was counted, and the address is forgotten. */
  private close(key: string, open: Window): void {
    this.windows.delete(key);
    if (open.count === 0) return;
    const windowSeconds = this.windowMs / 1000;
    const codes = Object.fromEntries(open.codes);
    const list = [...open.codes].map(([code, n]) => `${code} ×${n}`).join(', ');
    this.logger.warn(
      { remote: key, outcome: 'REFUSALS_SUMMARISED', count: open.count, codes, windowSeconds },
      `${open.count} more refusals from ${key} in the last ${windowSeconds} s (codes: ${list})`,
    );
  }

  /** One timer for the oldest open window; it closes every window that has ended. */
  private schedule(): void {
    if (this.timer !== undefined) return;
    const oldest = this.windows.values().next().value;
    if (oldest === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = this.now();
        for (const [key, open] of this.windows) {
          if (now - open.start < this.windowMs) break; // Map order: the rest started later
          this.close(key, open);
        }
        this.schedule();
      },
      Math.max(0, oldest.start + this.windowMs - this.now()),
    );
    // Never what keeps the process alive; shutdown calls flush().
    this.timer.unref();
  }
}
