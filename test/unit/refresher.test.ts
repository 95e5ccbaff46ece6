// The Refresher (src/cache/refresher.ts) under a fake clock: when it refreshes, who waits, what is
// served during an outage, and how often the source is called. Everything runs in fake time, so
// "an hour of outage" takes milliseconds and every count is exact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BackoffTimings,
  EXPIRY_SAFETY_MS,
  type RefreshEvent,
  Refresher,
  type RefreshTimings,
} from '../../src/cache/refresher.ts';
import { BrokerError, SourceError, StsError, UnavailableError } from '../../src/errors.ts';
import type { AwsCredentials } from '../../src/model/credentials.ts';
import { FakeClock, flush } from '../harness/fake-clock.ts';
import { seeded } from '../harness/seeded-random.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
/** botocore re-fetches on every call below this (docs/sdk-contract.md, Container endpoint): the hard line. */
const BOTOCORE_WINDOW = 15 * MIN;

const TIMINGS: RefreshTimings = { before: 30 * MIN, minRemaining: 20 * MIN, jitter: 0.1 };
const BACKOFF: BackoffTimings = { initial: 1 * SEC, max: 5 * MIN };

// ---------------------------------------------------------------- fake source

/** The whole "OIDC proof + STS exchange" as one scripted async call. */
class FakeSource {
  /** Clock time of every call, in order. */
  readonly calls: number[] = [];
  /** How long a call takes (fake time), success or failure. */
  latencyMs = 0;
  /** Lifetime of the credentials a successful call returns. */
  lifetimeMs = HOUR;
  /** When set, calls fail with this (evaluated per call: index is 1-based). */
  fail: ((call: number) => Error | undefined) | undefined;

  constructor(private readonly clock: FakeClock) {}

  get count(): number {
    return this.calls.length;
  }

  readonly fetch = async (): Promise<AwsCredentials> => {
    const n = this.calls.push(this.clock.now());
    const started = this.clock.now();
    if (this.latencyMs > 0)
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.latencyMs));
    const error = this.fail?.(n);
    if (error) throw error;
    return {
      accessKeyId: `ASIA${String(n).padStart(12, '0')}`,
      secretAccessKey: `secret-${n}`,
      sessionToken: `token-${n}`,
      expiration: new Date(started + this.lifetimeMs),
      accountId: '123456789012',
      roleArn: 'arn:aws:iam::123456789012:role/app',
      assumedRoleArn: `arn:aws:sts::123456789012:assumed-role/app/s${n}`,
    };
  };
}

const throttled = () =>
  new StsError('STS_THROTTLED', 'STS throttled AssumeRoleWithWebIdentity', { retryable: true });
const unreachable = () => new SourceError('OIDC_UNREACHABLE', 'issuer did not answer', { retryable: true });
const denied = () =>
  new StsError('STS_ACCESS_DENIED', 'not authorized to assume the role', { retryable: false });

function setup(
  opts: { random?: () => number; timings?: RefreshTimings; backoff?: BackoffTimings; start?: number } = {},
) {
  const clock = new FakeClock(opts.start);
  const source = new FakeSource(clock);
  const events: RefreshEvent[] = [];
  const refresher = new Refresher({
    profile: 'app',
    fetch: source.fetch,
    timings: opts.timings ?? TIMINGS,
    backoff: opts.backoff ?? BACKOFF,
    clock,
    random: opts.random ?? (() => 0.5),
    onEvent: (e) => events.push(e),
  });
  const remaining = (c: AwsCredentials) => c.expiration.getTime() - clock.now();
  return { clock, source, events, refresher, remaining };
}

type Outcome<T> =
  | { state: 'fulfilled'; value: T }
  | { state: 'rejected'; reason: unknown }
  | { state: 'pending' };

/** Where a promise stands once pending work has run, without moving the clock. */
async function settleNow<T>(p: Promise<T>): Promise<Outcome<T>> {
  let out: Outcome<T> = { state: 'pending' };
  p.then(
    (value) => {
      out = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      out = { state: 'rejected', reason };
    },
  );
  await flush();
  return out;
}

function fulfilled<T>(o: Outcome<T>, what: string): T {
  if (o.state !== 'fulfilled') {
    const why = o.state === 'rejected' ? String((o.reason as Error).message) : 'still pending';
    assert.fail(`${what}: expected credentials now, got ${why}`);
  }
  return o.value;
}

function rejectedUnavailable(o: Outcome<unknown>, what: string): UnavailableError {
  if (o.state !== 'rejected') assert.fail(`${what}: expected UnavailableError now, got ${o.state}`);
  assert.ok(o.reason instanceof UnavailableError, `${what}: ${String(o.reason)}`);
  return o.reason;
}

// ---------------------------------------------------------------- tests

describe('Refresher', () => {
  test('refreshes `before` ahead of expiry plus a jitter share within bounds, above every SDK window', async () => {
    const seen: number[] = [];
    for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
      const { clock, source, refresher } = setup({ random: () => r });
      await refresher.start();
      assert.equal(source.count, 1);
      const expiry = clock.now() + HOUR;
      const expectedAhead = TIMINGS.before * (1 + TIMINGS.jitter * r);

      await clock.advanceTo(expiry - expectedAhead - 1);
      assert.equal(source.count, 1, `r=${r}: refreshed too early`);
      await clock.advance(1);
      assert.equal(source.count, 2, `r=${r}: no refresh at ${expectedAhead / MIN} min before expiry`);

      const ahead = expiry - source.calls[1]!;
      assert.ok(
        ahead >= TIMINGS.before && ahead <= TIMINGS.before * (1 + TIMINGS.jitter),
        `r=${r}: ahead ${ahead}`,
      );
      assert.ok(ahead - TIMINGS.minRemaining >= 10 * MIN, 'leaves ≥ 10 min of retries before the floor');
      assert.ok(ahead > BOTOCORE_WINDOW);
      seen.push(ahead);
      refresher.stop();
    }
    assert.equal(
      new Set(seen).size,
      seen.length,
      `jitter must spread refresh points: ${seen.map((s) => s / MIN)}`,
    );
  });

  test('1,000 simultaneous cold get() share exactly one fetch (and one failure)', async () => {
    const { clock, source, refresher } = setup();
    source.latencyMs = 200;
    const gets = Array.from({ length: 1000 }, () => refresher.get());
    await clock.advance(200);
    const results = await Promise.all(gets);
    assert.equal(source.count, 1);
    assert.ok(results.every((c) => c === results[0]));
    assert.equal(results[0]!.accessKeyId, 'ASIA000000000001');

    // a failing cold fetch is shared too: 1,000 callers, one attempt, one UnavailableError each
    const cold = setup();
    cold.source.latencyMs = 200;
    cold.source.fail = () => unreachable();
    const failing = Array.from({ length: 1000 }, () =>
      cold.refresher.get().then(
        () => 'ok',
        (e: unknown) => e,
      ),
    );
    await cold.clock.advance(200);
    const errors = await Promise.all(failing);
    assert.equal(cold.source.count, 1);
    assert.ok(errors.every((e) => e instanceof UnavailableError));
    refresher.stop();
    cold.refresher.stop();
  });

  test('get() during a refresh (above the floor) returns the old credentials without waiting', async () => {
    const { clock, source, refresher } = setup({ random: () => 0 });
    source.latencyMs = 5 * SEC;
    const started = refresher.start();
    await clock.advance(5 * SEC);
    await started;
    const first = fulfilled(await settleNow(refresher.get()), 'after start');

    await clock.advanceTo(first.expiration.getTime() - TIMINGS.before);
    assert.equal(source.count, 2, 'refresh started');
    const during = fulfilled(await settleNow(refresher.get()), 'get during refresh');
    assert.equal(during, first, 'served the old credentials');
    assert.equal(source.count, 2, 'and did not start another fetch');

    await clock.advance(5 * SEC);
    const after = fulfilled(await settleNow(refresher.get()), 'after refresh');
    assert.notEqual(after.accessKeyId, first.accessKeyId);
    assert.equal(source.count, 2);
    refresher.stop();
  });

  test('while the source is healthy, get() never returns less than minRemaining (also after a host suspend)', async () => {
    const { clock, source, refresher, remaining } = setup({ random: seeded(7) });
    source.latencyMs = 2 * SEC;
    const started = refresher.start();
    await clock.advance(2 * SEC);
    await started;

    let minSeen = Number.POSITIVE_INFINITY;
    const check = async (what: string) => {
      const p = refresher.get();
      let out = await settleNow(p);
      if (out.state === 'pending') {
        // below the floor: waiting for the shared refresh is allowed, serving old credentials is not
        await clock.advance(source.latencyMs);
        out = await settleNow(p);
      }
      const c = fulfilled(out, what);
      minSeen = Math.min(minSeen, remaining(c));
      assert.ok(remaining(c) > TIMINGS.minRemaining, `${what}: ${remaining(c) / MIN} min left`);
    };

    for (let t = 0; t < 6 * HOUR; t += 30 * SEC) {
      await check(`t=${t / MIN} min`);
      await clock.advance(30 * SEC);
    }
    // 6 h of 1 h credentials refreshed 30..33 min ahead: one fetch every ~27..30 min
    assert.ok(source.count >= 12 && source.count <= 15, `fetches: ${source.count}`);

    // The host sleeps until 10 min are left: timers (monotonic) did not run, the wall clock moved on.
    const before = source.count;
    const held = fulfilled(await settleNow(refresher.get()), 'before suspend');
    clock.suspend(remaining(held) - 10 * MIN);
    await check('after suspend');
    assert.equal(source.count, before + 1, 'exactly one fetch');
    assert.ok(minSeen > TIMINGS.minRemaining);
    refresher.stop();
  });

  test('source down for twice the refresh margin: zero failed get(), stale served at once, recovers on the first retry', async () => {
    const { clock, source, refresher, remaining, events } = setup();
    await refresher.start();
    const first = fulfilled(await settleNow(refresher.get()), 'start');
    const expiry = first.expiration.getTime();

    // The outage begins just before the refresh point and lasts 2 × (before − minRemaining) = 20 min,
    // so it runs well past the floor. Each failing call takes 3 s (a network timeout).
    const margin = TIMINGS.before - TIMINGS.minRemaining;
    source.latencyMs = 3 * SEC;
    source.fail = () => unreachable();
    const outageStart = clock.now() + HOUR - TIMINGS.before * (1 + TIMINGS.jitter * 0.5) - 1;
    await clock.advanceTo(outageStart);
    const outageEnd = outageStart + 2 * margin;

    let gets = 0;
    while (clock.now() < outageEnd) {
      await clock.advance(5 * SEC);
      // SDK container-provider timeouts are 1–2 s: a stale answer must not wait for a failing retry.
      const c = fulfilled(
        await settleNow(refresher.get()),
        `t=${(clock.now() - outageStart) / MIN} min into outage`,
      );
      assert.equal(c.accessKeyId, first.accessKeyId);
      assert.ok(remaining(c) > EXPIRY_SAFETY_MS);
      assert.ok(refresher.hasValid());
      gets++;
    }
    assert.ok(gets >= 240);
    assert.equal(refresher.status().state, 'stale');
    const failedFetches = source.count - 1;
    assert.ok(failedFetches >= 8 && failedFetches <= 25, `fetches during the outage: ${failedFetches}`);
    assert.ok(expiry - clock.now() < TIMINGS.minRemaining, 'the outage went below the floor');

    // the source comes back: the very next scheduled attempt succeeds, nothing earlier, nothing more
    source.fail = undefined;
    const retryAt = refresher.status().nextAttemptAt!;
    assert.ok(retryAt > clock.now());
    const count = source.count;
    await clock.advanceTo(retryAt - 1);
    assert.equal(source.count, count);
    await clock.advance(1 + source.latencyMs);
    assert.equal(source.count, count + 1);
    const fresh = fulfilled(await settleNow(refresher.get()), 'after recovery');
    assert.notEqual(fresh.accessKeyId, first.accessKeyId);
    assert.equal(refresher.status().state, 'ready');
    assert.equal(refresher.status().failures, 0);
    assert.equal(events.at(-1)!.type, 'refreshed');
    refresher.stop();
  });

  test('throttled N times: fetches follow the capped exponential backoff (no storm), then succeed', async () => {
    const N = 6;
    const { clock, source, refresher, events } = setup({ random: () => 0.5 });
    source.fail = (n) => (n <= N ? throttled() : undefined);
    await refresher.start();
    assert.equal(source.count, 1);

    // 100 clients polling every 100 ms during the backoff add no fetches
    for (let i = 0; i < 400; i++) {
      const o = await settleNow(Promise.all(Array.from({ length: 100 }, () => refresher.get())));
      if (o.state === 'fulfilled') break;
      const err = rejectedUnavailable(o, `poll ${i}`);
      const next = refresher.status().nextAttemptAt!;
      assert.equal(err.retryAfterSeconds, Math.max(1, Math.ceil((next - clock.now()) / 1000)));
      await clock.advance(100);
    }
    // full jitter with random()=0.5: waits of 0.5 × 1, 2, 4, 8, 16, 32 s
    const t0 = source.calls[0]!;
    assert.deepEqual(
      source.calls.map((t) => t - t0),
      [0, 500, 1500, 3500, 7500, 15_500, 31_500],
    );
    assert.equal(source.count, N + 1);
    assert.equal(events.filter((e) => e.type === 'failed').length, N);
    assert.equal(refresher.status().state, 'ready');
    refresher.stop();
  });

  test('full jitter stays inside the doubling cap, the cap stops at backoff.max, an hour of throttling is ~30 calls', async () => {
    const { clock, source, refresher, events } = setup({ random: seeded(42) });
    source.fail = () => throttled();
    await refresher.start();
    await clock.advance(HOUR);
    const failed = events.filter((e) => e.type === 'failed');
    assert.equal(failed.length, source.count);
    const caps = failed.map((_, i) => Math.min(BACKOFF.max, BACKOFF.initial * 2 ** i));
    failed.forEach((e, i) => {
      const wait = e.retryAt - source.calls[i]!;
      assert.ok(wait >= 10 && wait <= caps[i]!, `failure ${i + 1}: waited ${wait} ms, cap ${caps[i]}`);
      if (i + 1 < source.count)
        assert.equal(source.calls[i + 1], e.retryAt, 'retried exactly when scheduled');
    });
    assert.equal(caps.at(-1), BACKOFF.max, 'the cap reached backoff.max and stayed there');
    // ~8 min to reach the cap, then one call per backoff.max × E[random] = 2.5 min
    assert.ok(source.count >= 15 && source.count <= 45, `fetches in 1 h of throttling: ${source.count}`);
    assert.equal(refresher.hasValid(), false);
    refresher.stop();
  });

  test('credentials expire during an outage: UnavailableError with Retry-After, hasValid() false, then recovery', async () => {
    const { clock, source, refresher, remaining } = setup();
    await refresher.start();
    const first = fulfilled(await settleNow(refresher.get()), 'start');
    const expiry = first.expiration.getTime();
    source.fail = () => new StsError('STS_UNAVAILABLE', 'STS answered 503', { retryable: true });

    // served until EXPIRY_SAFETY_MS before expiry, never after
    while (clock.now() < expiry - EXPIRY_SAFETY_MS - 10 * SEC) {
      await clock.advance(10 * SEC);
      const c = fulfilled(await settleNow(refresher.get()), 'valid stale credentials');
      assert.ok(remaining(c) > EXPIRY_SAFETY_MS);
    }
    await clock.advanceTo(expiry - EXPIRY_SAFETY_MS);
    const err = rejectedUnavailable(await settleNow(refresher.get()), 'at the safety margin');
    assert.equal(err.code, 'CREDENTIALS_UNAVAILABLE');
    const next = refresher.status().nextAttemptAt!;
    assert.equal(err.retryAfterSeconds, Math.max(1, Math.ceil((next - clock.now()) / 1000)));
    assert.ok(err.retryAfterSeconds! >= 1 && err.retryAfterSeconds! <= BACKOFF.max / 1000);
    assert.equal(refresher.hasValid(), false);
    assert.equal(refresher.status().state, 'empty');
    assert.equal(refresher.status().expiration, undefined);
    assert.match(err.message, /STS answered 503/);

    await clock.advance(10 * MIN);
    rejectedUnavailable(await settleNow(refresher.get()), 'after expiry');

    source.fail = undefined;
    await clock.advanceTo(refresher.status().nextAttemptAt!);
    assert.equal(refresher.hasValid(), true);
    const fresh = fulfilled(await settleNow(refresher.get()), 'recovered');
    assert.ok(remaining(fresh) > TIMINGS.minRemaining);
    assert.equal(refresher.status().state, 'ready');
    refresher.stop();
  });

  test('permanent errors surface at once and are retried only after ~backoff.max (no hot loop)', async () => {
    const { clock, source, refresher, events } = setup({ random: () => 0.5 });
    source.fail = () => denied();
    const err = rejectedUnavailable(await settleNow(refresher.get()), 'cold get');
    assert.equal(source.count, 1);
    assert.ok(err.cause instanceof BrokerError);
    assert.equal(err.cause.code, 'STS_ACCESS_DENIED');
    assert.match(err.message, /not authorized/);

    const failed = events[0];
    assert.ok(failed?.type === 'failed');
    const wait = failed.retryAt - source.calls[0]!;
    assert.ok(wait >= BACKOFF.max / 2 && wait <= BACKOFF.max, `waited ${wait}`);

    // clients hammering get() do not cause attempts
    for (let i = 0; i < 200; i++) {
      rejectedUnavailable(await settleNow(refresher.get()), `get ${i}`);
      await clock.advance(SEC);
    }
    assert.equal(source.count, 1);
    await clock.advance(HOUR - 200 * SEC);
    // every retry waits backoff.max × (0.5..1): at most 2 h / backoff.max... here exactly 60 / 3.75 + 1
    assert.equal(source.count, 17);
    assert.ok(source.count <= (2 * HOUR) / BACKOFF.max + 1);
    refresher.stop();
  });

  test('retryAfterSeconds from the upstream error is honoured', async () => {
    const { clock, source, refresher } = setup({ random: () => 0.5 });
    source.fail = (n) =>
      n === 1
        ? new StsError('STS_THROTTLED', 'Rate exceeded', { retryable: true, retryAfterSeconds: 42 })
        : undefined;
    await refresher.start();
    const err = rejectedUnavailable(await settleNow(refresher.get()), 'throttled');
    assert.equal(err.retryAfterSeconds, 42);
    await clock.advance(42 * SEC - 1);
    assert.equal(source.count, 1, 'no attempt before the upstream said');
    await clock.advance(1);
    assert.equal(source.count, 2);
    fulfilled(await settleNow(refresher.get()), 'after 42 s');
    refresher.stop();
  });

  test('short-lived credentials (lifetime < before, even < minRemaining) do not cause a refresh loop', async () => {
    for (const lifetime of [25 * MIN, 10 * MIN]) {
      const { clock, source, refresher, remaining } = setup({ random: () => 0.5 });
      source.lifetimeMs = lifetime;
      await refresher.start();
      let minServed = Number.POSITIVE_INFINITY;
      for (let t = 0; t < 2 * HOUR; t += 10 * SEC) {
        const c = fulfilled(await settleNow(refresher.get()), `lifetime ${lifetime / MIN} min`);
        minServed = Math.min(minServed, remaining(c));
        await clock.advance(10 * SEC);
      }
      // the timer refreshes them (at a quarter of their lifetime), get() does not: 720 get() calls,
      // at most 2 h / (lifetime / 4) fetches
      const gaps = source.calls.slice(1).map((t, i) => t - source.calls[i]!);
      const minGap = Math.min(...gaps);
      assert.ok(minGap >= lifetime / 4, `lifetime ${lifetime / MIN} min: gap ${minGap / MIN} min`);
      assert.ok(source.count <= (2 * HOUR) / (lifetime / 4) + 1, `fetches: ${source.count}`);
      // and what is served keeps at least half their lifetime (for 25 min: above botocore's 15 min)
      assert.ok(minServed >= lifetime / 2, `served ${minServed / MIN} min`);
      if (lifetime > 2 * BOTOCORE_WINDOW - 5 * MIN) assert.ok(minServed > BOTOCORE_WINDOW);
      refresher.stop();
    }
  });

  test('already expired (or nearly expired) credentials are never served and cause no loop', async () => {
    for (const lifetime of [-5 * MIN, 0, 30 * SEC]) {
      const { clock, source, refresher } = setup({ random: () => 0.5 });
      source.lifetimeMs = lifetime;
      await refresher.start();
      await clock.advance(10 * MIN);
      const o = await settleNow(refresher.get());
      rejectedUnavailable(o, `lifetime ${lifetime / SEC} s`);
      assert.equal(refresher.hasValid(), false);
      // backoff schedule (0.5, 1, 2, ... s), not a timer storm: ~10 attempts in 10 min
      assert.ok(source.count <= 15, `lifetime ${lifetime / SEC} s: ${source.count} fetches in 10 min`);
      refresher.stop();
    }
  });

  test('stop() clears the timer and a fetch in flight schedules nothing', async () => {
    const { clock, source, refresher } = setup();
    await refresher.start();
    assert.equal(clock.pending(), 1, 'refresh timer armed');
    refresher.stop();
    assert.equal(clock.pending(), 0);
    await clock.advance(3 * HOUR);
    assert.equal(source.count, 1);

    const b = setup();
    b.source.latencyMs = 5 * SEC;
    const started = b.refresher.start();
    await b.clock.advance(SEC);
    b.refresher.stop();
    await b.clock.advance(4 * SEC);
    await started;
    assert.equal(b.clock.pending(), 0, 'nothing scheduled after stop');
    await b.clock.advance(3 * HOUR);
    assert.equal(b.source.count, 1);
  });
});
