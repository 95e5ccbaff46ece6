// The systemd notifier: silent without $NOTIFY_SOCKET, one warning (not one per ping) when
// systemd-notify cannot be run, and WATCHDOG=1 at half of $WATCHDOG_USEC through the real
// systemd-notify to a datagram socket (where python3 can stand in for systemd's end).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createNotifier } from '../../src/cli/sd-notify.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

const RECEIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), '../harness/notify-receiver.py');

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

describe('systemd notifier', () => {
  it('does nothing without NOTIFY_SOCKET', async () => {
    const { logger, lines } = capture();
    const n = createNotifier(logger, {}, 'no-such-systemd-notify');
    await n.ready('ready');
    n.startWatchdog();
    n.close();
    assert.deepEqual(lines, []);
  });

  it('warns once when systemd-notify cannot be run, naming the fix', async () => {
    const { logger, lines } = capture();
    const n = createNotifier(logger, { NOTIFY_SOCKET: '/nonexistent/notify' }, 'no-such-systemd-notify');
    await n.ready('ready');
    await n.status('x');
    await n.stopping();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    assert.match(String(lines[0]!.msg), /use Type=exec in the unit or install systemd-notify/);
  });

  it('gives systemd-notify NOTIFY_SOCKET and PATH only, none of the broker environment (env: secrets)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-notify-env-'));
    try {
      // A stand-in systemd-notify found on PATH, as the real one is, that writes down its environment.
      const dump = path.join(dir, 'env.txt');
      await writeFile(path.join(dir, 'systemd-notify'), `#!/bin/sh\nenv > '${dump}'\n`, { mode: 0o755 });
      const { logger, lines } = capture();
      const PATH = `${dir}:${process.env.PATH}`;
      const env = { NOTIFY_SOCKET: '/run/notify-test', PATH, CLIENT_SECRET: 'sh-secret', HOME: '/root' };
      await createNotifier(logger, env).ready('ready');
      assert.deepEqual(lines, [], 'the stand-in ran');
      const seen = (await readFile(dump, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.slice(0, l.indexOf('=')));
      // sh itself adds PWD (and some shells SHLVL, _); none of them came from the broker.
      const fromBroker = seen.filter((name) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(name)).sort();
      assert.deepEqual(fromBroker, ['NOTIFY_SOCKET', 'PATH']);
      assert.doesNotMatch(await readFile(dump, 'utf8'), /sh-secret/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pings WATCHDOG=1 at half the watchdog interval, only for its own pid', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-notify-'));
    const socket = path.join(dir, 'notify');
    const receiver = spawn('python3', [RECEIVER, socket], { stdio: ['ignore', 'pipe', 'ignore'] });
    const messages: string[] = [];
    const started = await new Promise<boolean>((resolve) => {
      receiver.once('error', () => resolve(false));
      receiver.once('exit', () => resolve(false));
      createInterface({ input: receiver.stdout }).on('line', (l) => {
        if (l === 'listening') resolve(true);
        else messages.push(l);
      });
    });
    try {
      if (!started) return t.skip('python3 is not available to receive notifications');
      const { logger, lines } = capture();
      const env = { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' };
      const other = createNotifier(logger, { ...env, WATCHDOG_PID: String(process.pid + 1) });
      other.startWatchdog(); // systemd watches another process: no pings from us
      const n = createNotifier(logger, env);
      n.startWatchdog();
      await new Promise((r) => setTimeout(r, 700));
      n.close();
      other.close();
      const pings = messages.filter((m) => m === 'WATCHDOG=1').length;
      assert.deepEqual(lines, [], 'systemd-notify ran without errors');
      // one at once, then every 200 ms: 3–4 in 700 ms (process start-up may delay the last)
      assert.ok(pings >= 3 && pings <= 5, `${pings} pings`);
    } finally {
      receiver.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
