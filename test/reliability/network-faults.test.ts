// A broken network between the broker and its upstreams: a fault proxy (test/harness/fault-proxy.ts)
// sits between the broker and the real OpenID Provider, and another between the broker and the
// STS emulator, and resets, cuts, black-holes or slows the bytes. What clients of the broker must
// see: a warm request answered from the cache at once while the upstream hangs; a cold request
// answered 503 + Retry-After within the configured timeouts, never a hang; 503 only when nothing
// valid is left; and recovery once the network passes again.
//
// The Refresher runs on a fake clock (so "50 minutes later" is instant); the network timeouts are
// real, set to 1 s so that every hang costs about a second of real time. Nothing here measures
// speed: "at once" means answered from the cache (the broker's synchronous cached(), which cannot
// wait on an upstream), and "within the timeouts" is a bound ten seconds wide, where a hang the
// timeout missed would last minutes (the slow drip) or forever (the black hole).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type FaultMode, FaultProxy } from '../harness/fault-proxy.ts';
import { type FaultyWorld, startFaultyWorld } from '../harness/faulty-world.ts';
import { RolesAnywhereEmulator } from '../harness/roles-anywhere-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';

const SEC = 1000;
const MIN = 60 * SEC;
const TIMEOUT = 1000; // source.timeout and sts.timeout
/** Real time a request waiting on a failing fetch may take: the timeout plus slack for a loaded
 * machine. A fault the timeout did not cut lasts far longer: 1 byte per 200 ms, or never. */
const BOUNDED_MS = TIMEOUT + 10_000;
const EXCHANGE = 'AssumeRoleWithWebIdentity';
const FAULTS: FaultMode[] = ['reset', 'reset-mid', 'black-hole', 'slow'];

let w: FaultyWorld;
before(async () => {
  w = await startFaultyWorld();
});
after(async () => {
  await w.close();
});

async function faultyBroker(opts: { lazy?: boolean } = {}) {
  w.idpProxy.mode = 'pass';
  w.stsProxy.mode = 'pass';
  // Fresh connections for each test: a pooled one left idle by the previous test may race the
  // upstream's 5 s keep-alive timeout and fail for a reason that is not this test's fault.
  w.idpProxy.resetAll();
  w.stsProxy.resetAll();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const profile = await w.profile({ source: { timeout: `${TIMEOUT}ms` }, lazy: opts.lazy ?? false });
  const built = await w.broker({ default: profile }, { stsTimeoutMs: TIMEOUT });
  const token = await w.world.token();
  // Which requests the cache answered: cached() is synchronous, so such a request waited on nothing.
  let cacheHits = 0;
  const cached = built.broker.cached.bind(built.broker);
  built.broker.cached = (profile, minRemaining) => {
    const hit = cached(profile, minRemaining);
    if (hit) cacheHits++;
    return hit;
  };
  /** One credential request: whether the cache answered it, and its real-time latency (for the log). */
  const get = async () => {
    const [hitsBefore, started] = [cacheHits, performance.now()];
    const res = await built.app.inject({ url: '/v1/credentials', headers: { authorization: token } });
    return {
      status: res.statusCode,
      body: res.json(),
      retryAfter: res.headers['retry-after'],
      fromCache: cacheHits > hitsBefore,
      ms: performance.now() - started,
    };
  };
  const state = () => built.broker.readiness().profiles.default!;
  return { ...built, get, state };
}

function proxyOf(upstream: 'idp' | 'sts'): FaultProxy {
  return upstream === 'idp' ? w.idpProxy : w.stsProxy;
}

const expectedCode = { idp: 'OIDC_UNREACHABLE', sts: 'STS_UNREACHABLE' } as const;

describe('network faults between the broker and its upstreams', () => {
  it('the path through both proxies works (so the failures below are the faults’)', async () => {
    const t = await faultyBroker();
    const before = [w.idpProxy.accepted, w.stsProxy.accepted];
    await t.broker.start();
    const res = await t.get();
    assert.equal(res.status, 200);
    assert.ok(w.idpProxy.accepted > before[0]!, 'IdP traffic went through its proxy');
    assert.ok(w.stsProxy.accepted > before[1]!, 'STS traffic went through its proxy');
    t.broker.stop();
  });

  for (const upstream of ['idp', 'sts'] as const) {
    for (const mode of FAULTS) {
      it(`${upstream} ${mode}: warm requests are answered from the cache at once; recovery after`, async () => {
        const t = await faultyBroker();
        try {
          await t.broker.start();
          const old = (await t.get()).body.AccessKeyId;
          proxyOf(upstream).mode = mode;
          proxyOf(upstream).resetAll(); // pooled connections must meet the fault too
          const stsBefore = w.sts.calls(EXCHANGE);
          // random 0.5: the refresh starts 31.5 min before the 60 min expiry
          await w.clock.advance(28.5 * MIN + SEC);
          const started = performance.now();
          let slowest = 0;
          let served = 0;
          // Ask while the refresh is held by the fault (a hang lasts about TIMEOUT).
          do {
            const res = await t.get();
            assert.equal(res.status, 200, `request ${served} during the fault`);
            assert.equal(res.body.AccessKeyId, old);
            assert.ok(res.fromCache, `request ${served} was answered from the cache, not after the refresh`);
            slowest = Math.max(slowest, res.ms);
            served++;
            await new Promise((r) => setTimeout(r, 50));
          } while (t.state().failures === 0 && performance.now() - started < BOUNDED_MS);
          await t.broker.settled();
          const refreshMs = performance.now() - started;
          assert.ok(refreshMs < BOUNDED_MS, `the failed refresh took ${refreshMs.toFixed(0)} ms`);
          const s = t.state();
          assert.equal(s.state, 'stale', 'still serving valid credentials');
          assert.equal(s.lastError?.code, expectedCode[upstream], s.lastError?.message);
          if (upstream === 'idp')
            assert.equal(w.sts.calls(EXCHANGE), stsBefore, 'STS not called without a token');
          // Still warm after the failure: stale-while-valid, no waiting.
          const stale = await t.get();
          assert.equal(stale.status, 200);
          assert.equal(stale.body.AccessKeyId, old);
          assert.ok(stale.fromCache, 'stale credentials are served from the cache');

          proxyOf(upstream).mode = 'pass';
          await w.clock.advanceTo(s.nextAttemptAt!);
          await t.broker.settled();
          const fresh = await t.get();
          assert.equal(fresh.status, 200);
          assert.notEqual(fresh.body.AccessKeyId, old, 'recovered with new credentials');
          assert.equal(t.state().state, 'ready');
          console.log(
            `# ${upstream} ${mode}: ${served} warm requests, slowest ${slowest.toFixed(0)} ms; refresh failed after ${refreshMs.toFixed(0)} ms`,
          );
        } finally {
          t.broker.stop();
          proxyOf(upstream).mode = 'pass';
        }
      });

      it(`${upstream} ${mode}: cold requests get 503 + Retry-After within the timeouts, then 200`, async () => {
        const t = await faultyBroker({ lazy: true });
        try {
          proxyOf(upstream).mode = mode;
          proxyOf(upstream).resetAll();
          const accepted = proxyOf(upstream).accepted;
          // 20 apps asking at once share one fetch and its one timeout.
          const answers = await Promise.all(Array.from({ length: 20 }, () => t.get()));
          for (const res of answers) {
            assert.equal(res.status, 503);
            assert.equal(res.body.code, 'CREDENTIALS_UNAVAILABLE');
            assert.ok(
              Number(res.retryAfter) >= 1 && Number(res.retryAfter) <= 300,
              `Retry-After ${res.retryAfter}`,
            );
            assert.ok(res.ms < BOUNDED_MS, `a cold request took ${res.ms.toFixed(0)} ms`);
          }
          // Discovery + token (IdP), or one exchange (STS): a couple of connections, not 20.
          assert.ok(proxyOf(upstream).accepted - accepted <= 3, 'one shared fetch');
          assert.equal(t.state().lastError?.code, expectedCode[upstream]);
          // In backoff: further cold requests are answered at once, without another attempt.
          const { failures, nextAttemptAt } = t.state();
          const again = await t.get();
          assert.equal(again.status, 503);
          // An attempt started by this request would fail against the same fault once settled.
          await t.broker.settled();
          assert.deepEqual(
            { failures: t.state().failures, nextAttemptAt: t.state().nextAttemptAt },
            { failures, nextAttemptAt },
            'the request in backoff started no attempt',
          );

          proxyOf(upstream).mode = 'pass';
          await w.clock.advanceTo(t.state().nextAttemptAt!);
          await t.broker.settled();
          const ok = await t.get();
          assert.equal(ok.status, 200, JSON.stringify(ok.body));
          const slowest = Math.max(...answers.map((a) => a.ms));
          console.log(`# ${upstream} ${mode}: cold 503 after at most ${slowest.toFixed(0)} ms`);
        } finally {
          t.broker.stop();
          proxyOf(upstream).mode = 'pass';
        }
      });
    }
  }

  // smithy's requestTimeout stops counting once the headers are in, and its socket timeout is
  // an idle timer each dripped byte resets: only a deadline on the whole call catches this one.
  it('sts sends its headers at once and drips the body: the call is still cut at sts.timeout', async () => {
    const t = await faultyBroker({ lazy: true });
    try {
      w.stsProxy.mode = 'slow';
      w.stsProxy.slow.afterBytes = 300; // the emulator's status line and headers are ~250 bytes
      w.stsProxy.resetAll();
      const res = await t.get();
      assert.equal(res.status, 503);
      assert.ok(res.ms < BOUNDED_MS, `took ${res.ms.toFixed(0)} ms`);
      assert.equal(t.state().lastError?.code, 'STS_UNREACHABLE', t.state().lastError?.message);
      console.log(`# sts body drip: cold 503 after ${res.ms.toFixed(0)} ms`);
    } finally {
      t.broker.stop();
      w.stsProxy.mode = 'pass';
      w.stsProxy.slow.afterBytes = 0;
    }
  });

  // IAM Roles Anywhere is the other AWS endpoint the broker calls (x509 source), with its own
  // http.request: the same whole-call bound must hold there.
  describe('roles anywhere', () => {
    const RA_ROLE = 'arn:aws:iam::123456789012:role/x509-faulty';
    let ra: RolesAnywhereEmulator;
    let raProxy: FaultProxy;
    let source: Record<string, unknown>;
    before(async () => {
      ra = await RolesAnywhereEmulator.start({ sts: w.sts, now: () => w.clock.now() });
      raProxy = await FaultProxy.start({ targetPort: Number(new URL(ra.url).port) });
      const root = await TestCa.root('Fault Test Root CA', 'ec');
      const leaf = await root.issue('faulty.hosts.example');
      source = {
        type: 'x509',
        certificateFile: await w.world.file('faulty.crt', leaf.certPem, 0o644),
        privateKey: `file:${await w.world.file('faulty.key', leaf.keyPem)}`,
        trustAnchorArn: ra.createTrustAnchor(root.certPem),
        profileArn: ra.createProfile({ roleArns: [RA_ROLE] }),
        endpoint: raProxy.url,
        timeout: `${TIMEOUT}ms`,
      };
    });
    after(async () => {
      await raProxy.close();
      await ra.close();
    });

    for (const [mode, afterBytes] of [
      ['black-hole', 0],
      ['slow', 0],
      ['slow', 300],
    ] as const) {
      it(`${mode}${afterBytes ? ' body' : ''}: a cold x509 request gets 503 within source.timeout, then 200`, async () => {
        const { broker, app } = await w.broker({ x509: { source, role: { arn: RA_ROLE }, lazy: true } });
        const token = await w.world.token();
        const get = () => app.inject({ url: '/v1/credentials/x509', headers: { authorization: token } });
        try {
          raProxy.mode = mode;
          raProxy.slow.afterBytes = afterBytes;
          raProxy.resetAll();
          const started = performance.now();
          const res = await get();
          const ms = performance.now() - started;
          assert.equal(res.statusCode, 503);
          assert.ok(Number(res.headers['retry-after']) >= 1);
          assert.ok(ms < BOUNDED_MS, `took ${ms.toFixed(0)} ms`);
          const state = broker.readiness().profiles.x509!;
          assert.equal(state.lastError?.code, 'STS_UNREACHABLE', state.lastError?.message);
          raProxy.mode = 'pass';
          await w.clock.advanceTo(state.nextAttemptAt!);
          await broker.settled();
          assert.equal((await get()).statusCode, 200);
          console.log(
            `# roles anywhere ${mode}${afterBytes ? ' body' : ''}: cold 503 after ${ms.toFixed(0)} ms`,
          );
        } finally {
          broker.stop();
          raProxy.mode = 'pass';
          raProxy.slow.afterBytes = 0;
        }
      });
    }
  });
});
