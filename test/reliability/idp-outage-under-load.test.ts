// An IdP outage under steady load: eight profiles, forty apps polling the broker's real listener
// every 15 s (of fake time), and the OpenID Provider unreachable (its connections reset by a fault
// proxy) for twice the refresh margin (2 × (refresh.before − refresh.minRemaining) = 20 min)
// across every profile's refresh point. The single-client version of this outage is in
// test/integration/refresh.test.ts; this one is about load: no request may fail, and the calls
// to the IdP and STS must follow the refresh schedule, not the number of requests.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { Pool } from 'undici';
import { type FaultyWorld, startFaultyWorld } from '../harness/faulty-world.ts';
import { seeded } from '../harness/seeded-random.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const PROFILES = Array.from({ length: 8 }, (_, i) => `app${i}`);
const CLIENTS = 40;
const POLL = 15 * SEC;
const OUTAGE_START = 25 * MIN; // before the earliest refresh point (60 − 33 = 27 min)
const OUTAGE = 2 * (30 - 20) * MIN;
const END = 55 * MIN;
const EXCHANGE = 'AssumeRoleWithWebIdentity';
/** Full jitter from 1 s doubling to 5 min: ~9 attempts to reach the cap, then one per 2.5 min on
 * average; over 20 min that is ~16 per profile. Twice that is the bound. */
const MAX_IDP_ATTEMPTS_PER_PROFILE = 32;

let w: FaultyWorld;
before(async () => {
  w = await startFaultyWorld();
});
after(async () => {
  await w.close();
});

it('IdP down for 20 min across every refresh point, 40 apps polling 8 profiles: no failed request, bounded IdP and STS calls', async () => {
  const profiles = Object.fromEntries(await Promise.all(PROFILES.map(async (p) => [p, await w.profile()])));
  const { broker, app } = await w.broker(profiles, { random: seeded(10) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const pool = new Pool(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, {
    connections: 16,
  });
  const token = await w.world.token();
  const t0 = w.clock.now();
  try {
    await broker.start();
    assert.equal(w.sts.calls(EXCHANGE), PROFILES.length, 'one exchange per profile at start');
    const served = new Map<string, Set<string>>(PROFILES.map((p) => [p, new Set()]));
    let requests = 0;
    const failures: string[] = [];
    let idpBefore = 0;
    let idpDuring = 0;
    let stsDuring = 0;
    let least = Number.POSITIVE_INFINITY;

    const round = async () => {
      const answers = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const profile = PROFILES[i % PROFILES.length]!;
          const res = await pool.request({
            path: `/v1/credentials/${profile}`,
            method: 'GET',
            headers: { authorization: token },
          });
          const body = (await res.body.json()) as Record<string, string>;
          return { profile, status: res.statusCode, body };
        }),
      );
      for (const { profile, status, body } of answers) {
        requests++;
        const at = (w.clock.now() - t0) / MIN;
        if (status !== 200) {
          failures.push(`${profile} at +${at.toFixed(2)} min: ${status} ${body.code}`);
          continue;
        }
        served.get(profile)!.add(body.AccessKeyId!);
        least = Math.min(least, Date.parse(body.Expiration!) - w.clock.now());
      }
    };

    for (let elapsed = 0; elapsed < END; elapsed += POLL) {
      if (elapsed === OUTAGE_START) {
        w.idpProxy.mode = 'reset';
        w.idpProxy.resetAll();
        idpBefore = w.idpProxy.accepted;
        stsDuring = w.sts.calls(EXCHANGE);
      }
      if (elapsed === OUTAGE_START + OUTAGE) {
        idpDuring = w.idpProxy.accepted - idpBefore;
        stsDuring = w.sts.calls(EXCHANGE) - stsDuring;
        w.idpProxy.mode = 'pass';
        // STS connections sat idle through the outage's seconds of real time; one reused just as
        // the emulator's 5 s keep-alive closes it would add a failed attempt to the exact count below.
        w.stsProxy.resetAll();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await w.clock.advance(POLL);
      await broker.settled();
      await round();
    }

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${requests} requests failed`);
    assert.ok(least > 60 * SEC, `least remaining lifetime served: ${(least / MIN).toFixed(1)} min`);
    const readiness = broker.readiness();
    for (const p of PROFILES) {
      assert.equal(readiness.profiles[p]!.state, 'ready', `${p} recovered`);
      assert.equal(served.get(p)!.size, 2, `${p}: the first credentials through the outage, then new ones`);
    }
    // Every refresh point fell inside the outage, so the IdP failed every attempt and STS saw none.
    assert.equal(stsDuring, 0, 'no STS call while the IdP is down');
    assert.equal(
      w.sts.calls(EXCHANGE),
      2 * PROFILES.length,
      'exactly one exchange per profile at start and one at recovery, whatever the load',
    );
    assert.ok(idpDuring >= PROFILES.length, 'every profile tried the IdP during the outage');
    assert.ok(
      idpDuring <= MAX_IDP_ATTEMPTS_PER_PROFILE * PROFILES.length,
      `${idpDuring} IdP connection attempts during the outage`,
    );
    console.log(
      `# ${requests} requests, 0 failed; IdP attempts during the 20 min outage: ${idpDuring} ` +
        `(${(idpDuring / PROFILES.length).toFixed(1)} per profile); STS calls: ${w.sts.calls(EXCHANGE)}; ` +
        `least remaining served ${(least / MIN).toFixed(1)} min`,
    );
  } finally {
    broker.stop();
    await pool.close();
  }
});
