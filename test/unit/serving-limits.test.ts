// The serving side's own bookkeeping, on a controlled clock: failed-token mistakes per source
// (an SDK's retries count once), IMDS session tokens (TTL, bound), the allow-list matcher, and the
// Refresher's per-consumer floor that keeps IMDS answers above botocore's 25-minute stretch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Refresher } from '../../src/cache/refresher.ts';
import type { AwsCredentials } from '../../src/model/credentials.ts';
import { FailedTokenLimiter } from '../../src/server/failed-tokens.ts';
import { addressMatcher } from '../../src/server/hardening.ts';
import { IMDS_MIN_REMAINING_MS } from '../../src/server/imds-routes.ts';
import { ImdsTokenStore } from '../../src/server/imds-tokens.ts';
import { FakeClock } from '../harness/fake-clock.ts';

const SEC = 1000;
const MIN = 60 * SEC;

describe('FailedTokenLimiter', () => {
  it('counts one SDK call with its retries (JS: 4 tries ~1 s apart) as one mistake', () => {
    let t = 0;
    const limiter = new FailedTokenLimiter(2, 10 * MIN, () => t);
    const verdicts = [0, 1, 2, 3].map((i) => {
      t = i * 2 * SEC;
      return limiter.fail('10.0.0.1');
    });
    assert.deepEqual(
      verdicts.map((v) => v.mistakes),
      [1, 1, 1, 1],
    );
    // a fifth failure inside the burst is more than any SDK retries: a new mistake
    t = 7 * SEC;
    assert.equal(limiter.fail('10.0.0.1').mistakes, 2);
  });

  it('answers "limited" beyond the budget, per source, until the window has passed', () => {
    let t = 0;
    const limiter = new FailedTokenLimiter(2, 10 * MIN, () => t);
    for (const at of [0, 60, 120]) {
      t = at * SEC;
      limiter.fail('10.0.0.1');
    }
    const third = limiter.fail('10.0.0.1'); // same burst as the 120 s mistake
    assert.equal(third.mistakes, 3);
    assert.equal(third.limited, true);
    assert.equal(third.retryAfterSeconds, 600 - 120);
    assert.equal(limiter.fail('10.0.0.2').limited, false, 'another source has its own budget');
    t = 11 * MIN; // the 0 s and 60 s mistakes left the window
    const later = limiter.fail('10.0.0.1');
    assert.equal(later.limited, false);
    assert.equal(later.mistakes, 2);
  });
});

describe('ImdsTokenStore', () => {
  it('honours the TTL and bounds the number of tokens, dropping the soonest-expiring', () => {
    let t = 0;
    const store = new ImdsTokenStore(2, () => t);
    const a = store.issue(10);
    const b = store.issue(100);
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(store.valid(a) && store.valid(b));
    assert.equal(store.valid(`${a}x`), false);
    assert.equal(store.valid(undefined), false);
    const c = store.issue(100);
    assert.equal(store.size, 2);
    assert.equal(store.valid(a), false, 'the soonest-expiring was dropped');
    t = 50 * SEC;
    assert.ok(store.valid(b) && store.valid(c));
    t = 101 * SEC;
    assert.equal(store.valid(b), false, 'expired');
  });

  it('when full, drops expired tokens first, then the soonest-expiring, not the first issued', () => {
    let t = 0;
    const store = new ImdsTokenStore(3, () => t);
    const longLived = store.issue(21_600); // an SDK's token, issued first
    const short = store.issue(60);
    const shorter = store.issue(30);
    // a flood of short-TTL tokens must not take the long-lived one issued first
    const d = store.issue(60);
    assert.ok(store.valid(longLived), 'the first issued stays');
    assert.equal(store.valid(shorter), false, 'the soonest-expiring went');
    assert.ok(store.valid(short) && store.valid(d));
    t = 61 * SEC; // short and d expired
    const e = store.issue(100);
    const f = store.issue(100);
    assert.ok(store.valid(longLived) && store.valid(e) && store.valid(f), 'expired ones went first');
    assert.equal(store.size, 3);
  });
});

describe('addressMatcher (server.allow)', () => {
  it('matches CIDRs and single addresses, IPv4-mapped IPv6 as IPv4', () => {
    const allowed = addressMatcher(['10.0.0.0/8', '192.168.1.7', '::1/128']);
    assert.equal(allowed('10.200.3.4'), true);
    assert.equal(allowed('::ffff:10.1.2.3'), true);
    assert.equal(allowed('192.168.1.7'), true);
    assert.equal(allowed('192.168.1.8'), false);
    assert.equal(allowed('::1'), true);
    assert.equal(allowed('127.0.0.1'), false);
    assert.equal(allowed('not-an-ip'), false);
  });
});

describe('Refresher.get(minRemaining): the IMDS floor', () => {
  function refresher(clock: FakeClock, lifetimeMs: number) {
    let calls = 0;
    const r = new Refresher({
      profile: 'p',
      clock,
      random: () => 0,
      // 1 h sessions, and a refresh that starts late (20 min before expiry): between 25 and 20 min
      // the profile's own floor (15 min) would still serve, the IMDS floor must not.
      timings: { before: 20 * MIN, minRemaining: 15 * MIN, jitter: 0 },
      backoff: { initial: SEC, max: 5 * MIN },
      fetch: async (): Promise<AwsCredentials> => {
        calls += 1;
        return {
          accessKeyId: `ASIA${calls}`,
          secretAccessKey: 's',
          sessionToken: 't',
          expiration: new Date(clock.now() + lifetimeMs),
          accountId: '123456789012',
          roleArn: 'arn:aws:iam::123456789012:role/app',
          assumedRoleArn: undefined,
        };
      },
    });
    return { r, calls: () => calls };
  }

  it('refreshes for a consumer that needs more than 25 min, while others keep the cached ones', async () => {
    const clock = new FakeClock();
    const { r, calls } = refresher(clock, 60 * MIN);
    await r.start();
    clock.suspend(36 * MIN); // 24 min left, no timer fired
    const plain = await r.get();
    assert.equal(plain.accessKeyId, 'ASIA1', 'above the profile floor: served as is');
    const imds = await r.get(IMDS_MIN_REMAINING_MS);
    assert.equal(imds.accessKeyId, 'ASIA2', 'IMDS waited for fresh credentials');
    assert.ok(imds.expiration.getTime() - clock.now() > IMDS_MIN_REMAINING_MS);
    assert.equal(calls(), 2);
    r.stop();
  });

  it('caps the raised floor at half the lifetime, so short sessions cannot loop', async () => {
    const clock = new FakeClock();
    const { r, calls } = refresher(clock, 40 * MIN);
    await r.start();
    clock.suspend(15 * MIN); // 25 min left of 40: above half the lifetime (20)
    await r.get(IMDS_MIN_REMAINING_MS);
    assert.equal(calls(), 1);
    r.stop();
  });
});
