// One Refresher per profile: the only place that decides when to call the source and STS.
//
// Why a plain field and not node-cache: a profile caches exactly one value whose lifetime is set
// by STS, and what matters is *when to refresh*, *who waits* and *what to serve during an outage*:
// a TTL cache would evict valid credentials we still want to serve while the IdP is down.
//
// The numbers (docs/sdk-contract.md, Container endpoint, "refreshes when left"): botocore re-fetches on every call
// once credentials have < 15 min left, JS v3 and Go v2 < 5 min, Java v2 prefetches at 5–60 min.
// So while the source is healthy we never serve less than `minRemaining` (default 20 min), and we
// start refreshing `before` (default 30 min) ahead of expiry, earlier by a random share (`jitter`)
// of it, so that many brokers and profiles do not call STS in lockstep.
import { type BrokerError, isBrokerError, StsError, UnavailableError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { ProfileStatus } from '../model/status.ts';

export interface RefreshTimings {
  /** Start refreshing this long (ms) before expiry. */
  before: number;
  /** While the source is healthy, never serve credentials with less than this (ms) left. */
  minRemaining: number;
  /** Up to this share of `before` is added, at random, to spread refreshes out. */
  jitter: number;
}

/** The profile's `refresh.backoff` (its defaults are the config schema's, src/config/schema/refresh.ts). */
export interface BackoffTimings {
  /** First retry waits up to this long (ms); each failure doubles the cap ("full jitter"). */
  initial: number;
  /** Retries never wait longer than this (ms); permanent errors wait this long. */
  max: number;
}

/** Credentials with less than this left are never served, even during an outage: they would
 * expire in flight or on a consumer whose clock runs a little behind. */
export const EXPIRY_SAFETY_MS = 60_000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type RefreshEvent =
  | { type: 'refreshed'; credentials: AwsCredentials; durationMs: number; nextRefreshAt: number }
  | {
      type: 'failed';
      error: BrokerError;
      durationMs: number;
      failures: number;
      retryAt: number;
      servingStale: boolean;
    };

export interface RefresherOptions {
  profile: string;
  fetch: () => Promise<AwsCredentials>;
  timings: RefreshTimings;
  backoff: BackoffTimings;
  clock?: Clock;
  random?: () => number;
  onEvent?: (event: RefreshEvent) => void;
}

export class Refresher {
  readonly profile: string;
  private current: AwsCredentials | undefined;
  /** get() serves `current` at once above this remaining lifetime (ms): `minRemaining`, or half
   * the lifetime of credentials too short-lived for it (else every get() would fetch again). */
  private floor: number;
  /** Lifetime (ms) the current credentials had when fetched. */
  private lifetime = 0;
  private inflight: Promise<AwsCredentials> | undefined;
  private timer: unknown;
  private nextAttemptAt: number | undefined;
  private failures = 0;
  private lastError: BrokerError | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoff: BackoffTimings;

  constructor(private readonly opts: RefresherOptions) {
    this.profile = opts.profile;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.backoff = opts.backoff;
    this.floor = opts.timings.minRemaining;
  }

  /** First fetch; resolves once it has succeeded or failed (a failure schedules retries). */
  async start(): Promise<void> {
    await this.refresh().catch(() => undefined);
  }

  /** Stops the timer; a fetch in flight completes but schedules nothing. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  /**
   * Credentials to serve now. Healthy and above the floor: served at once, even while a refresh
   * runs. Below the floor: wait for the (single, shared) refresh. Refresh failing: serve what is
   * still valid. Nothing valid: UnavailableError with a Retry-After.
   *
   * `minRemaining` raises the floor for one consumer (IMDS: botocore stretches IMDS credentials
   * with < 25 min left), capped like the profile's own floor at half the lifetime.
   */
  async get(minRemaining?: number): Promise<AwsCredentials> {
    const hit = this.cached(minRemaining);
    if (hit) return hit;
    const now = this.clock.now();
    const current = this.current;

    const inBackoff =
      this.nextAttemptAt !== undefined && this.nextAttemptAt > now && this.lastError !== undefined;
    // Refresh failing and still valid: serve at once. Waiting for the retry (possibly a network
    // timeout) would outlast the SDKs' own 1-2 s timeouts and only delay the same answer.
    if (this.lastError && current && this.remaining(current, now) > EXPIRY_SAFETY_MS) {
      if (!inBackoff) this.refresh().catch(() => undefined);
      return current;
    }
    if (!inBackoff || this.inflight) {
      try {
        return await this.refresh();
      } catch {
        // fall through: serve what is still valid, or say when to come back
      }
    }
    const fallback = this.current;
    if (fallback && this.remaining(fallback, this.clock.now()) > EXPIRY_SAFETY_MS) return fallback;
    throw this.unavailable();
  }

  /**
   * get()'s first step alone, synchronously: the credentials get() would serve at once (healthy
   * and above the floor), or undefined when the caller must await get(). For a fast path that
   * answers without a promise when, as almost always, the credentials are held.
   */
  cached(minRemaining?: number): AwsCredentials | undefined {
    const current = this.current;
    if (current === undefined) return undefined;
    const floor =
      minRemaining === undefined
        ? this.floor
        : Math.max(this.floor, Math.min(minRemaining, this.lifetime / 2));
    return this.remaining(current, this.clock.now()) > floor ? current : undefined;
  }

  /** Resolves when no fetch is in flight (whatever its outcome): for shutdown and tests. */
  async settled(): Promise<void> {
    await this.inflight?.then(
      () => undefined,
      () => undefined,
    );
  }

  /** True when valid credentials are held (what /readyz reports). */
  hasValid(): boolean {
    return this.current !== undefined && this.remaining(this.current, this.clock.now()) > EXPIRY_SAFETY_MS;
  }

  status(): ProfileStatus {
    const valid = this.hasValid();
    return {
      profile: this.profile,
      state: !valid ? 'empty' : this.lastError ? 'stale' : 'ready',
      expiration: valid ? this.current?.expiration : undefined,
      nextAttemptAt: this.nextAttemptAt,
      failures: this.failures,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : undefined,
    };
  }

  /** Single-flight: every caller during a fetch shares it. */
  refresh(): Promise<AwsCredentials> {
    this.inflight ??= this.runFetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async runFetch(): Promise<AwsCredentials> {
    this.clearTimer();
    const started = this.clock.now();
    try {
      const credentials = await this.opts.fetch();
      const now = this.clock.now();
      const lifetime = this.remaining(credentials, now);
      if (lifetime <= EXPIRY_SAFETY_MS) {
        // Never served; and a refresh delay derived from a lifetime <= 0 would be a hot loop.
        throw new StsError(
          'STS_BAD_RESPONSE',
          `credentials expiring at ${credentials.expiration.toISOString()} are (nearly) expired by the local clock: check the host clock`,
          { profile: this.profile, retryable: true },
        );
      }
      this.current = credentials;
      this.floor = Math.min(this.opts.timings.minRemaining, lifetime / 2);
      this.lifetime = lifetime;
      this.failures = 0;
      this.lastError = undefined;
      const nextRefreshAt = now + this.refreshDelay(credentials, now);
      this.schedule(nextRefreshAt);
      this.opts.onEvent?.({ type: 'refreshed', credentials, durationMs: now - started, nextRefreshAt });
      return credentials;
    } catch (err) {
      const now = this.clock.now();
      const error = asBrokerError(err, this.profile);
      this.failures += 1;
      this.lastError = error;
      const retryAt = now + this.retryDelay(error);
      this.schedule(retryAt);
      this.opts.onEvent?.({
        type: 'failed',
        error,
        durationMs: now - started,
        failures: this.failures,
        retryAt,
        servingStale: this.hasValid(),
      });
      throw error;
    }
  }

  /** From now until the refresh should start: `before` (plus jitter) ahead of expiry, but never
   * sooner than a quarter of the lifetime, so short-lived credentials cannot cause a refresh loop.
   * (Not half: with the default 1 h sessions and `before` = 30 min, half would always win and
   * erase the jitter, and any `before` above half the lifetime would be ignored.) */
  private refreshDelay(c: AwsCredentials, now: number): number {
    const { before, jitter } = this.opts.timings;
    const lifetime = this.remaining(c, now);
    const ahead = before * (1 + jitter * this.random());
    return Math.max(lifetime - ahead, lifetime / 4, 0);
  }

  /** Capped exponential backoff with full jitter; at least what the upstream asked for. */
  private retryDelay(error: BrokerError): number {
    const { initial, max } = this.backoff;
    const cap = error.retryable ? Math.min(max, initial * 2 ** (this.failures - 1)) : max;
    const jittered = error.retryable ? cap * this.random() : cap * (0.5 + this.random() / 2);
    const asked = (error.retryAfterSeconds ?? 0) * 1000;
    return Math.max(jittered, asked, 10);
  }

  private schedule(at: number): void {
    this.clearTimer();
    this.nextAttemptAt = at;
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.refresh().catch(() => undefined);
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private remaining(c: AwsCredentials, now: number): number {
    return c.expiration.getTime() - now;
  }

  private unavailable(): UnavailableError {
    const now = this.clock.now();
    const retryAfterSeconds = Math.max(1, Math.ceil(((this.nextAttemptAt ?? now) - now) / 1000));
    const reason = this.lastError ? this.lastError.message : 'the first fetch has not finished';
    return new UnavailableError(`no valid credentials yet: ${reason}`, {
      profile: this.profile,
      retryAfterSeconds,
      cause: this.lastError,
    });
  }
}

/** Every failure of a fetch as a BrokerError filed under the profile. */
function asBrokerError(err: unknown, profile: string): BrokerError {
  if (isBrokerError(err)) return err.withProfile(profile);
  return new UnavailableError(`unexpected failure: ${err instanceof Error ? err.message : String(err)}`, {
    profile,
    cause: err,
  });
}
