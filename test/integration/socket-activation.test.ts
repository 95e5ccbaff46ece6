// systemd socket activation: `serve` takes the listening socket PID 1 passed (LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES; fd 3) instead of binding the port, so the port is never unowned
// while the broker restarts (port squatting). The process tests start serve the way systemd does:
// a python3 stand-in binds the port, puts it at fd 3 and execs the broker (same pid).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { checkPassedAddress, passedSockets } from '../../src/cli/socket-activation.ts';
import { ConfigError } from '../../src/errors.ts';
import { BrokerProcess, brokerEntry, freePort } from '../harness/serve-process.ts';
import { startWorld, type World } from '../harness/world.ts';

const LISTEN_FDS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../harness/listen-fds.py');
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

let world: World;
const processes: BrokerProcess[] = [];
before(async () => {
  world = await startWorld();
});
after(async () => {
  for (const p of processes) await p.stop();
  await world.close();
});

/** `serve --config FILE` with a listening socket on 127.0.0.1:port passed as fd 3. */
function activated(port: number, configFile: string, fdName = 'credential-broker.socket'): BrokerProcess {
  const child = spawn(
    'python3',
    [
      LISTEN_FDS,
      String(port),
      fdName,
      process.execPath,
      ...brokerEntry().args,
      'serve',
      '--config',
      configFile,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  const p = new BrokerProcess(child);
  processes.push(p);
  return p;
}

async function config(name: string, listen: string): Promise<string> {
  return world.file(
    name,
    stringify({
      server: { listen, tokenFile: path.join(world.dir, 'token') },
      sts: { endpoint: world.sts.url },
      profiles: { default: world.oidcProfile() },
    }),
    0o644,
  );
}

describe('socket activation', () => {
  it('serve takes the socket systemd passed (it never binds the port) and serves credentials through it', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const broker = activated(port, await config('activated.yaml', `127.0.0.1:${port}`));
    const listening = await broker.waitFor(
      (e) => e.msg === 'credential broker listening',
      'listening',
      30_000,
    );
    assert.deepEqual(listening.socketActivated, ['credentials']);
    assert.equal(listening.address, `http://127.0.0.1:${port}`);
    // Were it to bind 127.0.0.1:PORT itself, the held socket would make that EADDRINUSE.
    const res = await fetch(`http://127.0.0.1:${port}/v1/credentials`, {
      headers: { authorization: await world.token() },
    });
    assert.equal(res.status, 200);
    assert.match(((await res.json()) as { AccessKeyId: string }).AccessKeyId, /^ASIA/);
    broker.child.kill('SIGTERM');
    assert.equal(await broker.exited, 0);
  });

  it('a passed socket on another address than server.listen: exit 78 naming both and the fix', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const other = await freePort();
    const broker = activated(port, await config('mismatch.yaml', `127.0.0.1:${other}`));
    assert.equal(await broker.exited, 78);
    assert.match(
      broker.allOutput,
      new RegExp(
        `the socket systemd passed for server\\.listen listens on 127\\.0\\.0\\.1:${port}, but server\\.listen is 127\\.0\\.0\\.1:${other}; make ListenStream=`,
      ),
    );
  });

  it('reads LISTEN_* only when LISTEN_PID is this process; names imds and metrics; removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_FDS: '3', LISTEN_PID: '42', LISTEN_FDNAMES: 'metrics:main:imds' };
    assert.deepEqual(passedSockets(env, 42), { metrics: 3, credentials: 4, imds: 5 });
    assert.deepEqual(env, {}, 'a child must not take them for its own');
    assert.deepEqual(
      passedSockets({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42),
      {},
      'passed to another process',
    );
    assert.deepEqual(
      passedSockets({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42),
      { credentials: 3 },
      'no names',
    );
    assert.throws(
      () => passedSockets({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'a:b' }, 42),
      (err: unknown) =>
        err instanceof ConfigError && /more than one socket for the credentials listener/.test(err.message),
    );
    assert.throws(() => passedSockets({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), ConfigError);
    // port 0 in the config accepts any port; the host must match
    assert.doesNotThrow(() =>
      checkPassedAddress(
        'server.listen',
        { host: '127.0.0.1', port: 0 },
        { address: '127.0.0.1', port: 9911 },
      ),
    );
    assert.throws(
      () =>
        checkPassedAddress(
          'server.listen',
          { host: '127.0.0.1', port: 9911 },
          { address: '0.0.0.0', port: 9911 },
        ),
      ConfigError,
    );
  });
});
