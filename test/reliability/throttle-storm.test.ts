// STS throttling and 5xx storms across 50 profiles. The policy (src/cache/refresher.ts, with the
// default refresh.backoff of src/config/schema/refresh.ts): a failed fetch is retried after a wait drawn uniformly from
// [0, min(5 min, 1 s × 2^(failures−1))] ("full jitter"), at least 10 ms. What must hold:
// each profile's retries stay inside that envelope, the waits really are spread over it (mean ≈ ½
// of the cap), STS sees exactly the attempts the schedule makes and no more, and — the point of
// the jitter — 50 profiles that failed together do not retry together.
//
// The profiles present a token file holding a JWT the real OpenID Provider issued (valid for a
// day of fake time): each attempt is then exactly one STS call, which keeps 1,000+ attempts fast.
// Fake time jumps from one due retry to the next and waits (in real time) for the STS emulator to
// answer, so every attempt happens at exactly its scheduled time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefreshSchema } from '../../src/config/schema/index.ts';
import { type FaultyWorld, ROLE, startFaultyWorld } from '../harness/faulty-world.ts';
import { seeded } from '../harness/seeded-random.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const PROFILES = 50;
const EXCHANGE = 'AssumeRoleWithWebIdentity';
/** Retries of two profiles this close (ms) count as "together". */
const BUCKET = 100;
/** From this retry on the policy's cap (≥ 4 s) leaves room to spread 50 profiles over 40+ buckets. */
const SPREAD_FROM = 3;

let w: FaultyWorld;
let tokenFile: string;
before(async () => {
  w = await startFaultyWorld();
  const { broker } = await w.broker({ issuer: await w.profile() });
  const proof = await broker.stepsOf('issuer').prove();
  assert.equal(proof.kind, 'web-identity');
  tokenFile = await w.world.file('storm-token', proof.kind === 'web-identity' ? proof.token : '');
});
after(async () => {
  await w.close();
});

interface Failure {
  code: string;
  failures: number;
  at: number;
  retryAt: number;
}

/** The backoff a profile gets when its config says nothing. */
const BACKOFF = RefreshSchema.parse({}).backoff;

/** The cap of the wait after the k-th consecutive failure. */
function capOf(k: number): number {
  return Math.min(BACKOFF.max, BACKOFF.initial * 2 ** (k - 1));
}

/**
 * 50 profiles start while STS answers every call with `kind`, for `stormMs` of fake time; then STS
 * recovers. Returns each profile's failures (when, and when it was told to retry) and STS's count.
 */
async function storm(kind: 'throttle' | '503', random: () => number, stormMs: number) {
  const names = Array.from({ length: PROFILES }, (_, i) => `${kind}-${random === constant ? 'c' : 's'}-${i}`);
  const profile = { source: { type: 'web-identity-file', tokenFile }, role: { arn: ROLE } };
  const { broker } = await w.broker(Object.fromEntries(names.map((n) => [n, profile])), { random });
  const stsBefore = w.sts.calls(EXCHANGE);
  const logsBefore = w.world.logs.length;
  // More than a storm can use (~13 per profile); the emulator's fault queue is an array, keep it small.
  if (kind === 'throttle') w.sts.faults.throttleNext(PROFILES * 40);
  else w.sts.faults.failNext(PROFILES * 40, 503);
  // Start on fresh connections: a pooled one idle for ~5 s races the emulator's keep-alive timeout,
  // and the reset (STS_UNREACHABLE, retried like any other failure) would muddle the codes checked.
  w.stsProxy.resetAll();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const t0 = w.clock.now();
  const nextDue = (only: (s: { state: string }) => boolean = () => true) => {
    const all = broker.readiness().profiles;
    return Math.min(...names.filter((n) => only(all[n]!)).map((n) => all[n]!.nextAttemptAt!));
  };
  const recovering = (s: { state: string }) => s.state !== 'ready';
  try {
    await broker.start();
    for (let due = nextDue(); due <= t0 + stormMs; due = nextDue()) {
      await w.clock.advanceTo(due);
      await broker.settled();
    }
    const stormCalls = w.sts.calls(EXCHANGE) - stsBefore;
    w.sts.faults.reset();
    // Recovery: every profile's next retry succeeds.
    for (let due = nextDue(recovering); Number.isFinite(due); due = nextDue(recovering)) {
      await w.clock.advanceTo(due);
      await broker.settled();
    }
    const failures = new Map<string, Failure[]>(names.map((n) => [n, []]));
    for (const line of w.world.logs.slice(logsBefore)) {
      const entry = JSON.parse(line);
      const list = failures.get(entry.profile);
      if (!list || entry.failures === undefined) continue;
      assert.equal(
        entry.durationMs,
        0,
        `${entry.profile}: each attempt runs at one fake instant (${entry.msg})`,
      );
      const previous = list.at(-1);
      list.push({
        code: entry.outcome,
        failures: entry.failures,
        at: previous ? previous.retryAt : t0,
        retryAt: Date.parse(entry.retryAt),
      });
    }
    return { names, failures, t0, stormCalls, totalCalls: w.sts.calls(EXCHANGE) - stsBefore };
  } finally {
    broker.stop();
    w.sts.faults.reset();
  }
}

const constant = () => 0.5;

/** The most profiles retrying within one BUCKET, over retries SPREAD_FROM and later. */
function mostTogether(failures: Map<string, Failure[]>): number {
  const buckets = new Map<number, number>();
  for (const list of failures.values()) {
    for (const f of list.filter((x) => x.failures >= SPREAD_FROM)) {
      const b = Math.floor(f.retryAt / BUCKET);
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
  }
  return Math.max(...buckets.values());
}

describe('STS storms across 50 profiles', () => {
  for (const kind of ['throttle', '503'] as const) {
    it(`${kind} for 10 min: every profile follows the backoff envelope, retries are spread, STS sees only the schedule`, async () => {
      const { names, failures, stormCalls, totalCalls } = await storm(kind, seeded(kind.length), 10 * MIN);
      const expectedCode = kind === 'throttle' ? 'STS_THROTTLED' : 'STS_UNAVAILABLE';
      const ratios: number[] = [];
      let attempts = 0;
      for (const name of names) {
        const list = failures.get(name)!;
        assert.ok(list.length >= 9, `${name}: ${list.length} failures in 10 min`);
        for (const [i, f] of list.entries()) {
          assert.equal(f.failures, i + 1, `${name}: consecutive failure count`);
          assert.equal(f.code, expectedCode, `${name} failure ${f.failures}: ${f.code}`);
          const wait = f.retryAt - f.at;
          const cap = capOf(f.failures);
          // ±1 ms: the log's retryAt is rounded to the millisecond.
          assert.ok(
            wait >= 9 && wait <= cap + 1,
            `${name} failure ${f.failures}: waited ${wait} ms, cap ${cap}`,
          );
          ratios.push(wait / cap);
        }
        // Each profile's attempts: its failures plus the one success. The schedule alone made them.
        attempts += list.length + 1;
      }
      assert.equal(totalCalls, attempts, 'STS saw exactly the scheduled attempts, nothing else');
      assert.equal(stormCalls, attempts - PROFILES, 'during the storm: only failures');
      const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
      assert.ok(mean > 0.4 && mean < 0.6, `waits use the whole envelope: mean wait/cap ${mean.toFixed(3)}`);
      const together = mostTogether(failures);
      assert.ok(
        together <= PROFILES * 0.2,
        `${together} of ${PROFILES} profiles retried within the same ${BUCKET} ms`,
      );
      const perProfile = attempts / PROFILES;
      // ~9 doublings to reach the 5 min cap (≈ 4 min on average), then one per 2.5 min on average.
      assert.ok(perProfile <= 20, `${perProfile} STS calls per profile in a 10 min storm`);
      console.log(
        `# ${kind}: ${attempts} STS calls (${perProfile.toFixed(1)} per profile, code ${expectedCode}); ` +
          `mean wait/cap ${mean.toFixed(3)}; at most ${together} of ${PROFILES} profiles within ${BUCKET} ms`,
      );
    });
  }

  it('control: with the same jitter value for every profile they would retry in lockstep (the check above can fail)', async () => {
    const { failures } = await storm('throttle', constant, 20 * SEC);
    assert.equal(mostTogether(failures), PROFILES);
  });
});
