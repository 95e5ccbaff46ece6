// Reliability: 40 SIGHUPs about 100 ms apart against the real serve process while clients send a
// fixed number of requests over keep-alive connections. Before each signal the file is swapped
// (atomically, as editors and config management do) between two versions that differ in one
// profile, and every tenth version is invalid. Not one request may fail, the process stays up,
// the unchanged profiles keep the very same credentials, and STS sees exactly one exchange per
// reload that changed a profile: no reload storm becomes an STS storm. The work is fixed, not the
// time: on a slow machine the storm takes longer and asserts the same.
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { type BrokerProcess, brokerEntry, serveProcess, waitReady } from '../harness/serve-process.ts';
import { startWorld, type World } from '../harness/world.ts';

const SIGNALS = 40;
const SIGNAL_EVERY_MS = 100;
const CLIENTS = 12;
/** Requests each client sends after each signal, while that reload runs. */
const REQUESTS_PER_SIGNAL = 3;
/** Signals after which the test waits for that version's outcome before swapping the file again,
 * so that what the assertions count surely happened: each invalid version (n % 10 === 9) is read
 * and refused, and each version n % 10 === 1 takes effect with `churn` changed. The other 32
 * signals storm. */
const waitsForOutcome = (n: number) => n % 10 === 9 || n % 10 === 1;

let world: World;
let served: BrokerProcess | undefined;

before(async () => {
  world = await startWorld();
});
after(async () => {
  await served?.stop();
  await world.close();
});

describe('reload storm', () => {
  // A hang guard, not a speed bound: several times what this takes on a loaded 2-core machine.
  it('SIGHUP every 100 ms under load: 0 failed requests, kept profiles keep their credentials, STS calls bounded', {
    timeout: 300_000,
  }, async (t) => {
    t.diagnostic(`broker entry: ${brokerEntry().label}`);
    const file = path.join(world.dir, 'storm.yaml');
    const paymentsTokenFile = path.join(world.dir, 'payments.token');
    const version = (n: number) =>
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'token') },
        sts: { endpoint: world.sts.url, timeout: '10s' },
        logging: { level: 'info' },
        profiles: {
          default: world.oidcProfile(),
          payments: world.oidcProfile({ tokenFile: paymentsTokenFile }),
          // the one profile that changes between versions: each effective reload re-exchanges it
          churn: world.oidcProfile({ role: { sessionName: `churn-${n % 2}` } }),
          // invalid every tenth version: the reload fails and the running config stays
          ...(n % 10 === 9 ? { broken: { source: { type: 'oidc' } } } : {}),
        },
      });
    // rename, as editors and config management do: a reload never reads a half-written file
    const swap = async (n: number) => {
      await writeFile(`${file}.next`, version(n));
      await rename(`${file}.next`, file);
    };
    await swap(0);
    served = serveProcess(file);
    const base = await served.address();
    await waitReady(base);
    const token = await readFile(path.join(world.dir, 'token'), 'utf8');
    const paymentsToken = await readFile(paymentsTokenFile, 'utf8');
    const callsBefore = world.sts.calls('AssumeRoleWithWebIdentity');

    const pool = new Pool(base, { connections: CLIENTS, keepAliveTimeout: 10_000 });
    const seenKeys: Record<string, Set<string>> = {
      default: new Set(),
      payments: new Set(),
      churn: new Set(),
    };
    const failures: string[] = [];
    let requests = 0;
    const profiles = ['default', 'payments', 'churn'] as const;
    const burst = async (i: number, round: number) => {
      for (let k = 0; k < REQUESTS_PER_SIGNAL; k++) {
        const profile = profiles[(i + round + k) % 3]!;
        try {
          const res = await pool.request({
            method: 'GET',
            path: `/v1/credentials/${profile}`,
            headers: { authorization: profile === 'payments' ? paymentsToken : token },
          });
          const body = (await res.body.json()) as { AccessKeyId?: string; code?: string };
          if (res.statusCode !== 200) failures.push(`${profile}: ${res.statusCode} ${body.code}`);
          else seenKeys[profile]!.add(body.AccessKeyId!);
        } catch (err) {
          failures.push(`${profile}: ${(err as Error).message}`);
        }
        requests += 1;
      }
    };
    type Entry = (typeof served.logs)[number];
    const refused = (e: Entry) => e.msg.startsWith('config reload failed');
    const churned = (e: Entry) => e.msg === 'config reloaded' && (e.changed as string[]).includes('churn');

    for (let n = 1; n <= SIGNALS; n++) {
      const seen = served.logs.length;
      await swap(n);
      served.child.kill('SIGHUP');
      await Promise.all([
        new Promise((r) => setTimeout(r, SIGNAL_EVERY_MS)),
        ...Array.from({ length: CLIENTS }, (_, i) => burst(i, n)),
      ]);
      if (!waitsForOutcome(n)) continue;
      // Version n stays in the file until the next swap and a SIGHUP followed the swap, so a
      // reload reads it and gives this outcome (refused; or `churn` changed, as version n's churn
      // differs from version n - 1's, the last valid one). Each wait counts one distinct entry.
      const outcome = n % 10 === 9 ? refused : churned;
      const waitStart = Date.now();
      while (!served.logs.slice(seen).some(outcome)) {
        assert.ok(Date.now() - waitStart < 30_000, `version ${n} of the config was reloaded`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // every reload started has finished: none is left to run after the last signal
    const isStart = (e: { msg: string }) => e.msg === 'reloading the config';
    const isEnd = (e: { msg: string }) =>
      e.msg === 'config reloaded' || e.msg.startsWith('config reload failed');
    const settle = Date.now();
    while (served.logs.filter(isStart).length !== served.logs.filter(isEnd).length) {
      assert.ok(Date.now() - settle < 30_000, 'the reloads in progress finish');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300)); // a coalesced reload queued behind the last one
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => burst(i, SIGNALS + 1)));
    await pool.close();

    const reloaded = served.logs.filter((e) => e.msg === 'config reloaded');
    const failed = served.logs.filter((e) => e.msg.startsWith('config reload failed'));
    const changed = reloaded.reduce((n, e) => n + (e.changed as string[]).length, 0);
    const stsCalls = world.sts.calls('AssumeRoleWithWebIdentity') - callsBefore;
    t.diagnostic(
      `${requests} requests by ${CLIENTS} clients, ${SIGNALS} SIGHUPs, ${reloaded.length} reloads (+${failed.length} refused invalid configs), ${stsCalls} STS exchanges`,
    );

    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${requests} requests failed`);
    assert.equal(requests, (SIGNALS + 1) * CLIENTS * REQUESTS_PER_SIGNAL, 'every request was answered');
    assert.equal(served.child.exitCode, null, 'still running');
    assert.ok(reloaded.length >= 4, `${reloaded.length} reloads took effect`);
    assert.ok(failed.length >= 4, `the 4 invalid versions were refused (${failed.length} refusals)`);
    assert.ok(failed.every((e) => e.code === 'CONFIG_INVALID'));
    for (const e of reloaded) {
      // a reload may find churn as it runs (the file flipped twice, or after a refused version)
      const moved = [...(e.changed as string[]), ...(e.added as string[]), ...(e.removed as string[])];
      assert.ok(moved.length === 0 || (moved.length === 1 && moved[0] === 'churn'), JSON.stringify(e));
      assert.deepEqual(
        (e.kept as string[]).filter((p) => p !== 'churn'),
        ['default', 'payments'],
      );
    }
    assert.equal(seenKeys.default!.size, 1, 'default served one set of credentials throughout');
    assert.equal(seenKeys.payments!.size, 1, 'payments served one set of credentials throughout');
    assert.ok(seenKeys.churn!.size > 1, 'the changed profile was re-exchanged');
    assert.equal(stsCalls, changed, 'one STS exchange per changed profile per reload, nothing more');

    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    served.child.kill('SIGTERM');
    assert.equal(await served.exited, 0);
    assert.equal(served.stderr, '');
    assert.deepEqual(
      served.logs.filter((e) => (e.level as number) >= 50 && !e.msg.startsWith('config reload failed')),
      [],
      'no error besides the refused configs',
    );
  });
});
