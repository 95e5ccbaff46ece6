// Keeping credentials fresh, end to end: the broker's Refresher driven by a fake clock that the
// STS emulator shares, with the real OpenID Provider and the real STS wire protocol, so that
// every STS call counted below really happened and "an hour" takes milliseconds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { FakeClock } from '../harness/fake-clock.ts';
import { OidcOp } from '../harness/oidc-op.ts';
import { StsEmulator } from '../harness/sts-emulator.ts';
import { ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const EXCHANGE = 'AssumeRoleWithWebIdentity';

let world: World;
let op: OidcOp; // tokens valid for a day of fake time
before(async () => {
  world = await startWorld();
  op = await OidcOp.start({
    clients: [{ clientId: 'secret-client', clientSecret: 'day-secret' }],
    accessTokenTtl: 86_400,
  });
});
after(async () => {
  await op.close();
  await world.close();
});

/** A broker whose clock, random source and STS emulator all run on one fake clock. */
async function fakeTimeBroker(opts: { skewMs?: number; profile?: Record<string, unknown> } = {}) {
  const clock = new FakeClock(Date.now());
  const sts = await StsEmulator.start({ now: () => clock.now() + (opts.skewMs ?? 0) });
  sts.registerOidcProvider({ issuer: op.issuer, clientIds: ['sts.amazonaws.com'] });
  sts.trustRole({ roleArn: ROLE_ARN, issuer: op.issuer });
  const secret = await world.file('day-secret', 'day-secret');
  const config = ConfigSchema.parse({
    server: { listen: '127.0.0.1:0', tokenFile: `${world.dir}/token` },
    sts: { endpoint: sts.url, timeout: '10s', clockSkewTolerance: '1m' },
    profiles: {
      default: {
        source: {
          type: 'oidc',
          issuer: op.issuer,
          clientId: 'secret-client',
          clientAuth: { method: 'client_secret_basic', clientSecret: `file:${secret}` },
        },
        role: { arn: ROLE_ARN },
        ...opts.profile,
      },
    },
  });
  const built = await world.broker(config, { clock, random: () => 0.5 });
  const token = await world.token();
  const get = async () => {
    const res = await built.app.inject({ url: '/v1/credentials', headers: { authorization: token } });
    return { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] };
  };
  /** Advance fake time, then wait (in real time) for any fetch that started to finish. */
  const step = async (ms: number) => {
    await clock.advance(ms);
    await built.broker.settled();
  };
  return { ...built, clock, sts, get, step, close: () => sts.close() };
}

function remainingMs(body: { Expiration: string }, now: number): number {
  return Date.parse(body.Expiration) - now;
}

describe('refresh against the real STS emulator', () => {
  it('1,000 simultaneous cold requests share one exchange', async () => {
    const { app } = await world.broker(world.config({ default: world.oidcProfile({ lazy: true }) }));
    const token = await world.token();
    const before = world.sts.calls(EXCHANGE);
    world.sts.faults.delayMs = 200; // keep the exchange in flight while every request arrives
    try {
      const responses = await Promise.all(
        Array.from({ length: 1000 }, () =>
          app.inject({ url: '/v1/credentials', headers: { authorization: token } }),
        ),
      );
      assert.equal(world.sts.calls(EXCHANGE) - before, 1, 'exactly one STS call');
      assert.ok(responses.every((r) => r.statusCode === 200));
      assert.equal(new Set(responses.map((r) => r.json().AccessKeyId)).size, 1);
    } finally {
      world.sts.faults.delayMs = 0;
    }
  });

  it('refreshes 30–33 min before expiry, with jitter, and never serves under the 20 min floor', async () => {
    const t = await fakeTimeBroker();
    try {
      const t0 = t.clock.now();
      await t.broker.start();
      assert.equal(t.sts.calls(EXCHANGE), 1);
      const first = (await t.get()).body.AccessKeyId;
      // random = 0.5 → 30 min × (1 + 0.1 × 0.5) = 31.5 min ahead of the 60 min expiry
      // (STS's Expiration has whole seconds, so the point may come up to 1 s earlier)
      await t.step(28.5 * MIN - SEC - 1);
      assert.equal(t.sts.calls(EXCHANGE), 1, 'not before the refresh point');
      await t.step(SEC + 1);
      assert.equal(t.sts.calls(EXCHANGE), 2, 'at the refresh point');
      assert.notEqual((await t.get()).body.AccessKeyId, first);
      // three hours, a request a minute: always more than minRemaining (20 min) left
      let least = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 180; i++) {
        await t.step(MIN);
        const res = await t.get();
        assert.equal(res.status, 200);
        least = Math.min(least, remainingMs(res.body, t.clock.now()));
      }
      assert.ok(least > 20 * MIN - SEC, `least remaining served: ${least / MIN} min`);
      assert.ok(least > 15 * MIN, 'above botocore’s 15 min advisory window');
      const hours = (t.clock.now() - t0) / (60 * MIN);
      assert.ok(
        t.sts.calls(EXCHANGE) <= Math.ceil(hours * 2.2) + 1,
        `${t.sts.calls(EXCHANGE)} calls in ${hours} h`,
      );
    } finally {
      await t.close();
    }
  });

  it('STS throttling: retries follow the backoff schedule (no storm), then succeed', async () => {
    const t = await fakeTimeBroker();
    try {
      t.sts.faults.throttleNext(3);
      await t.broker.start();
      assert.equal(t.sts.calls(EXCHANGE), 1);
      const cold = await t.get();
      assert.equal(cold.status, 503);
      assert.equal(cold.retryAfter, '1', 'Retry-After = the next attempt (0.5 s, rounded up)');
      // full jitter with random = 0.5: waits of 0.5 s, 1 s, 2 s
      const schedule = [500, 1000, 2000];
      for (const [i, wait] of schedule.entries()) {
        await t.step(wait - 1);
        assert.equal(t.sts.calls(EXCHANGE), i + 1, `no call before ${wait} ms`);
        await t.step(1);
        assert.equal(t.sts.calls(EXCHANGE), i + 2, `call ${i + 2} after ${wait} ms`);
      }
      const ok = await t.get();
      assert.equal(ok.status, 200);
      assert.equal(t.sts.calls(EXCHANGE), 4, '3 throttled + 1 success; 2 client requests added none');
    } finally {
      await t.close();
    }
  });

  it('IdP down for twice the refresh margin: zero failed requests, recovery on the first retry after it is back', async () => {
    const t = await fakeTimeBroker();
    try {
      await t.broker.start();
      const old = (await t.get()).body.AccessKeyId;
      op.down = true;
      await t.step(28.5 * MIN); // the refresh point: the refresh fails
      const failedBefore = t.sts.calls(EXCHANGE);
      let served = 0;
      for (let elapsed = 0; elapsed < 20 * MIN; elapsed += 30 * SEC) {
        await t.step(30 * SEC);
        const res = await t.get();
        assert.equal(res.status, 200, `request at +${elapsed / MIN} min failed`);
        assert.equal(res.body.AccessKeyId, old);
        served++;
      }
      assert.equal(served, 40);
      assert.equal(t.sts.calls(EXCHANGE), failedBefore, 'the IdP failed first; STS was not called');
      assert.equal((await t.app.inject({ url: '/readyz' })).json().profiles.default.state, 'stale');
      op.down = false;
      const nextAttempt = t.broker.readiness().profiles.default!.nextAttemptAt!;
      assert.ok(nextAttempt - t.clock.now() <= 5 * MIN, 'the next retry is at most the backoff cap away');
      await t.step(nextAttempt - t.clock.now());
      assert.equal(t.sts.calls(EXCHANGE), failedBefore + 1, 'recovered with one call');
      const fresh = await t.get();
      assert.notEqual(fresh.body.AccessKeyId, old);
      assert.equal((await t.app.inject({ url: '/readyz' })).json().profiles.default.state, 'ready');
    } finally {
      op.down = false;
      await t.close();
    }
  });

  it('credentials expire during an STS outage: 503 + Retry-After and /readyz false, then recovery', async () => {
    const t = await fakeTimeBroker();
    try {
      await t.broker.start();
      t.sts.faults.down = true;
      await t.step(59 * MIN - 2 * SEC); // just before the last minute (Expiration has whole seconds)
      assert.equal((await t.get()).status, 200);
      await t.step(2 * SEC);
      const res = await t.get();
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'CREDENTIALS_UNAVAILABLE');
      assert.match(res.body.message, /cannot reach STS/);
      assert.ok(
        Number(res.retryAfter) >= 1 && Number(res.retryAfter) <= 300,
        `Retry-After ${res.retryAfter}`,
      );
      assert.equal((await t.app.inject({ url: '/readyz' })).statusCode, 503);
      t.sts.faults.down = false;
      await t.step(Number(res.retryAfter) * SEC);
      assert.equal((await t.get()).status, 200);
      assert.equal((await t.app.inject({ url: '/readyz' })).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  it('requests during a refresh get the old, still valid credentials without waiting', async () => {
    const t = await fakeTimeBroker();
    try {
      await t.broker.start();
      const old = (await t.get()).body.AccessKeyId;
      t.sts.faults.delayMs = 1500; // real time: the refresh stays in flight
      await t.clock.advance(28.5 * MIN);
      const started = performance.now();
      const during = await t.get();
      const waited = performance.now() - started;
      assert.equal(during.body.AccessKeyId, old);
      assert.ok(waited < 500, `waited ${waited} ms`);
      await t.broker.settled();
      assert.notEqual((await t.get()).body.AccessKeyId, old);
    } finally {
      await t.close();
    }
  });

  for (const skewMin of [5, -5]) {
    it(`STS clock ${skewMin > 0 ? 'ahead' : 'behind'} by 5 min: expiry corrected to this host’s clock, skew reported`, async () => {
      const t = await fakeTimeBroker({ skewMs: skewMin * MIN });
      try {
        const t0 = t.clock.now();
        await t.broker.start();
        const res = await t.get();
        assert.equal(res.status, 200);
        const lifetime = Date.parse(res.body.Expiration) - t0;
        assert.ok(
          Math.abs(lifetime - 60 * MIN) <= 2 * SEC,
          `served lifetime ${lifetime / MIN} min by the local clock`,
        );
        // The Date header has a 1 s resolution: the measured skew is within a second or two.
        const metrics = (await t.app.inject({ url: '/metrics' })).body;
        const gauge = Number(
          /credential_broker_sts_clock_skew_seconds\{profile="default"\} (-?\d+)/.exec(metrics)?.[1],
        );
        assert.ok(Math.abs(gauge - skewMin * 60) <= 2, `skew gauge ${gauge}`);
        const warning = world.logs
          .map((l) => JSON.parse(l))
          .findLast((l) => String(l.msg).includes('sts.clockSkewTolerance'));
        assert.ok(warning, 'a warning names the setting');
        assert.ok(
          Math.abs(warning.clockSkewSeconds - skewMin * 60) <= 2,
          `logged skew ${warning.clockSkewSeconds}`,
        );
        // the refresh still comes 31.5 min before the (local) expiry
        await t.step(28.5 * MIN);
        assert.equal(t.sts.calls(EXCHANGE), 2);
      } finally {
        await t.close();
      }
    });
  }
});
