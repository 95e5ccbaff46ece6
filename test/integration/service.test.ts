// `serve` as a real process run like a service, against the real OP and STS emulator: readiness
// and watchdog to a notification socket, the metrics listener, SIGHUP and file-watch reloads
// (good and bad), SIGTERM draining an in-flight request (and cutting one that outlasts
// server.shutdownTimeout), exit 70 on an unhandled rejection. Every byte the processes print is
// kept and scanned for every secret the test used or was given.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { serveProcess, until } from '../harness/serve-process.ts';
import { CLIENT_SECRET, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REJECT_PRELOAD = path.join(HERE, '../harness/reject-when-serving.ts');
const NOTIFY_RECEIVER = path.join(HERE, '../harness/notify-receiver.py');

let world: World;
/** Everything every spawned process wrote, stdout and stderr. */
const output: string[] = [];
/** Every secret the test used or received: none may appear in `output`. */
const secrets = new Set<string>([CLIENT_SECRET]);

before(async () => {
  world = await startWorld();
});
after(async () => {
  await world.close();
});

function serve(configFile: string, opts: { env?: Record<string, string>; preload?: string } = {}) {
  return serveProcess(configFile, { ...opts, output });
}

async function writeConfig(name: string, doc: Record<string, unknown>): Promise<string> {
  return world.file(name, stringify(doc), 0o644);
}

function baseConfig(name: string, profiles: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, `${name}.token`) },
    sts: { endpoint: world.sts.url },
    logging: { level: 'info' },
    profiles,
    ...extra,
  };
}

/** A real JWT from the OP (client_credentials), for a web-identity-file profile. */
async function jwtFromOp(): Promise<string> {
  const res = await fetch(world.op.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`secret-client:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 200);
  const { access_token: jwt } = (await res.json()) as { access_token: string };
  assert.match(jwt, /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
  return jwt;
}

async function credentials(base: string, profile: string, token: string) {
  const res = await fetch(`${base}/v1/credentials/${profile}`, { headers: { authorization: token } });
  const body = (await res.json()) as Record<string, string>;
  if (res.status === 200) {
    secrets.add(body.SecretAccessKey!);
    secrets.add(body.Token!);
  }
  return { status: res.status, body };
}

/** A notification-socket listener (systemd's stand-in); undefined where python3 is missing. */
function notifyReceiver(socketPath: string): { messages: string[]; stop(): void } | undefined {
  try {
    execFileSync('python3', ['--version']);
    execFileSync('sh', ['-c', 'command -v systemd-notify']);
  } catch {
    return undefined;
  }
  const messages: string[] = [];
  const child = spawn('python3', [NOTIFY_RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout! }).on('line', (l) => messages.push(l));
  return { messages, stop: () => child.kill() };
}

describe('serve as a service', () => {
  it('notifies, serves, reloads on SIGHUP and on file change, keeps the old config on a bad one, drains on SIGTERM', async (t) => {
    const jwt = await jwtFromOp();
    secrets.add(jwt);
    const jwtFile = await world.file('k8s.jwt', jwt);
    const profiles = {
      oidc: world.oidcProfile(),
      jwtfile: { source: { type: 'web-identity-file', tokenFile: jwtFile }, role: { arn: ROLE_ARN } },
      denied: world.oidcProfile({ role: { arn: 'arn:aws:iam::123456789012:role/nobody' } }),
      later: world.oidcProfile({ lazy: true }),
    };
    const initial = baseConfig('svc', profiles, { metrics: { listen: '127.0.0.1:0' } });
    const file = await writeConfig('svc.yaml', initial);
    const socketPath = path.join(world.dir, 'notify.sock');
    const notify = notifyReceiver(socketPath);
    if (!notify) t.diagnostic('python3 or systemd-notify missing: notification socket not checked');
    else await until('notify receiver', () => notify.messages.includes('listening'));
    const env: Record<string, string> = notify ? { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '200000' } : {};
    const served = serve(file, { env });
    try {
      const listening = await served.waitFor((e) => e.msg === 'credential broker listening', 'listening');
      const base = String(listening.address);
      const metricsBase = String(listening.metricsAddress);
      assert.match(metricsBase, /^http:\/\/127\.0\.0\.1:\d+$/);
      await served.waitFor((e) => e.msg.startsWith('not ready yet'), 'first fetch done');
      const token = await readFile(path.join(world.dir, 'svc.token'), 'utf8');
      secrets.add(token);

      // a successful exchange on each source, a failed one, bad token requests
      const oidc = await credentials(base, 'oidc', token);
      assert.equal(oidc.status, 200);
      assert.equal((await credentials(base, 'jwtfile', token)).status, 200);
      assert.equal((await credentials(base, 'denied', token)).status, 503);
      assert.equal((await credentials(base, 'oidc', 'not-the-token')).status, 401);
      assert.equal((await credentials(base, 'oidc', `${token}x`)).status, 401);
      assert.equal((await fetch(`${base}/v1/credentials/oidc`)).status, 401);

      // the metrics listener: metrics and health, no credentials
      const metricsText = await (await fetch(`${metricsBase}/metrics`)).text();
      assert.match(
        metricsText,
        /credential_broker_fetch_errors_total\{profile="denied",source="oidc",stage="sts",reason="STS_ACCESS_DENIED"\}/,
      );
      assert.match(metricsText, /credential_broker_auth_failures_total\{reason="invalid"\} 2/);
      assert.match(metricsText, /process_resident_memory_bytes/);
      assert.equal((await fetch(`${metricsBase}/healthz`)).status, 200);
      const noCreds = await fetch(`${metricsBase}/v1/credentials/oidc`, {
        headers: { authorization: token },
      });
      assert.equal(noCreds.status, 404);
      assert.doesNotMatch(await noCreds.text(), /AccessKeyId/);

      if (notify) {
        await until('READY=1', () => notify.messages.some((m) => m.startsWith('READY=1')));
        await until('WATCHDOG=1', () => notify.messages.includes('WATCHDOG=1'));
      }

      // SIGHUP: remove `denied`, change `jwtfile`, keep `oidc`; a listener change needs a restart
      const stsCalls = world.sts.calls('AssumeRoleWithWebIdentity');
      const { denied: _removed, ...rest } = profiles;
      const reloaded = baseConfig(
        'svc',
        { ...rest, jwtfile: { ...rest.jwtfile, role: { arn: ROLE_ARN, sessionName: 'changed' } } },
        { metrics: { listen: '127.0.0.1:1' } },
      );
      await writeFile(file, stringify(reloaded));
      served.child.kill('SIGHUP');
      const done = await served.waitFor((e) => e.msg === 'config reloaded', 'config reloaded');
      assert.deepEqual(
        { kept: done.kept, changed: done.changed, removed: done.removed, added: done.added },
        { kept: ['oidc', 'later'], changed: ['jwtfile'], removed: ['denied'], added: [] },
      );
      assert.equal(done.trigger, 'SIGHUP');
      await served.waitFor((e) => e.setting === 'metrics.listen', 'restart warning');
      assert.equal(world.sts.calls('AssumeRoleWithWebIdentity') - stsCalls, 1, 'only the changed profile');
      const again = await credentials(base, 'oidc', token);
      assert.equal(again.body.AccessKeyId, oidc.body.AccessKeyId, 'kept profile: same cached credentials');
      assert.equal((await credentials(base, 'denied', token)).status, 404);
      assert.equal(
        (await fetch(`${metricsBase}/healthz`)).status,
        200,
        'listeners unchanged until a restart',
      );

      // an invalid config: logged, and the running config stays
      await writeFile(
        file,
        stringify({ ...reloaded, profiles: { oidc: { ...rest.oidc, role: { arn: 'nope' } } } }),
      );
      served.child.kill('SIGHUP');
      const failed = await served.waitFor((e) => e.msg.startsWith('config reload failed'), 'reload failed');
      assert.equal(failed.code, 'CONFIG_INVALID');
      assert.match(String(failed.error), /profiles\.oidc\.role\.arn: expected an IAM role ARN/);
      assert.equal((await credentials(base, 'jwtfile', token)).status, 200);

      // file watch: turned on by a reload, then a save alone reloads
      await writeFile(file, stringify({ ...reloaded, reload: { watch: true } }));
      served.child.kill('SIGHUP');
      await served.waitForNth(2, (e) => e.msg === 'config reloaded', 'second reload');
      await writeFile(
        file,
        stringify({
          ...reloaded,
          reload: { watch: true },
          profiles: { ...reloaded.profiles, watched: world.oidcProfile() },
        }),
      );
      const watched = await served.waitFor(
        (e) => e.msg === 'config reloaded' && e.trigger === 'file change',
        'watch',
      );
      assert.deepEqual(watched.added, ['watched']);
      assert.equal((await credentials(base, 'watched', token)).status, 200);

      // SIGTERM with a request in flight (a lazy profile's first fetch, STS slowed down): it completes
      world.sts.faults.delayMs = 800;
      const inflight = credentials(base, 'later', token);
      await until(
        'the fetch to start',
        () => world.sts.calls('AssumeRoleWithWebIdentity') > stsCalls + 2,
        5000,
      );
      served.child.kill('SIGTERM');
      assert.equal((await inflight).status, 200, 'the in-flight request finished');
      assert.equal(await served.exited, 0);
      assert.ok(served.logs.some((e) => e.msg === 'shutting down: finishing in-flight requests'));
      assert.ok(
        !served.logs.some((e) => e.msg.includes('did not finish')),
        'drained as soon as the request finished (keep-alive connections closed), not at the timeout',
      );
      assert.equal(served.stderr, '');
      if (notify) {
        for (const m of ['RELOADING=1', 'STOPPING=1'])
          assert.ok(
            notify.messages.some((x) => x.split('|').includes(m)),
            `${m} in ${notify.messages.join(', ')}`,
          );
      }
    } finally {
      world.sts.faults.reset();
      notify?.stop();
      served.child.kill('SIGKILL');
    }
  });

  it('SIGTERM: a request that outlasts server.shutdownTimeout is cut, and the exit is still 0', async () => {
    const file = await writeConfig(
      'slow.yaml',
      baseConfig(
        'slow',
        { later: world.oidcProfile({ lazy: true }) },
        {
          server: {
            listen: '127.0.0.1:0',
            tokenFile: path.join(world.dir, 'slow.token'),
            shutdownTimeout: '300ms',
          },
        },
      ),
    );
    const served = serve(file);
    try {
      const { address } = await served.waitFor((e) => e.msg === 'credential broker listening', 'listening');
      await served.waitFor((e) => e.msg.startsWith('ready'), 'ready');
      const token = await readFile(path.join(world.dir, 'slow.token'), 'utf8');
      secrets.add(token);
      world.sts.faults.delayMs = 5000;
      const calls = world.sts.calls('AssumeRoleWithWebIdentity');
      const inflight = fetch(`${address}/v1/credentials/later`, { headers: { authorization: token } }).then(
        (r) => r.status,
        () => 'cut',
      );
      await until('the fetch to start', () => world.sts.calls('AssumeRoleWithWebIdentity') > calls, 5000);
      const started = Date.now();
      served.child.kill('SIGTERM');
      assert.equal(await served.exited, 0);
      const took = Date.now() - started;
      assert.ok(took < 2500, `exited ${took} ms after SIGTERM (bound 300 ms + exit)`);
      assert.equal(await inflight, 'cut');
      assert.ok(
        served.logs.some((e) => String(e.msg).includes('did not finish within server.shutdownTimeout')),
      );
    } finally {
      world.sts.faults.reset();
      served.child.kill('SIGKILL');
    }
  });

  it('an unhandled rejection is logged once and the process exits 70 for the supervisor to restart', async () => {
    const file = await writeConfig('fatal.yaml', baseConfig('fatal', { default: world.oidcProfile() }));
    const served = serve(file, { preload: REJECT_PRELOAD });
    try {
      assert.equal(await served.exited, 70);
      const fatal = served.logs.filter((e) => e.level === 'fatal');
      assert.equal(fatal.length, 1, JSON.stringify(fatal));
      assert.match(fatal[0]!.msg, /unhandled promise rejection: exiting with code 70/);
      assert.match(JSON.stringify(fatal[0]!.err), /first unhandled failure \(test\)/);
      assert.equal(served.stderr, '');
    } finally {
      served.child.kill('SIGKILL');
    }
  });

  it('a listener that cannot bind: one line naming the setting and the cause, exit 1, nothing left running', async () => {
    const taken = new URL(world.sts.url).host; // the emulator holds this port
    const file = await writeConfig(
      'busy.yaml',
      baseConfig('busy', { default: world.oidcProfile() }, { metrics: { listen: taken } }),
    );
    const served = serve(file);
    try {
      assert.equal(await served.exited, 1, 'exits by itself: the credentials listener was closed again');
      assert.equal(
        served.stderr.trim(),
        `credential-broker: cannot listen on ${taken} (metrics.listen): the address is in use: is another broker running? pick another port`,
      );
    } finally {
      served.child.kill('SIGKILL');
    }
  });

  it('no secret the test used or received appears anywhere in the output', () => {
    const all = output.join('\n');
    assert.ok(all.length > 1000, 'the flows above produced output');
    assert.ok(secrets.size >= 8, `secrets collected: ${secrets.size}`);
    for (const secret of secrets) {
      assert.ok(secret.length >= 16, 'a real secret, not an empty string');
      assert.ok(!all.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the log`);
    }
    assert.doesNotMatch(all, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}\./, 'no JWT at all');
  });
});
