// systemd/: the service and socket units and the secrets drop-in, checked by parsing them, and by
// systemd's own tools where they are installed (Debian's `systemd` package): `systemd-analyze
// verify` clean (with and without the drop-in) and `systemd-analyze security --offline=true`
// exposure <= 1.5. Why NotifyAccess=all and not main is shown with the broker's own notifier and
// the real systemd-notify.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createNotifier } from '../../src/cli/sd-notify.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = path.join(ROOT, 'systemd/credential-broker.service');
const SOCKET = path.join(ROOT, 'systemd/credential-broker.socket');
const DROP_IN = path.join(ROOT, 'systemd/credential-broker.service.d/credentials.conf.example');
const run = promisify(execFile);

/** [Section] → key → every value given (systemd keys may repeat). */
async function parseUnit(file: string): Promise<Map<string, Map<string, string[]>>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of (await readFile(file, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `unparseable line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

async function which(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );
}

/** The last value of KEY in [SECTION], failing when it is not set. */
function lastValue(unit: Map<string, Map<string, string[]>>, section: string, key: string): string {
  const values = unit.get(section)?.get(key);
  assert.ok(values, `[${section}] ${key}= is set`);
  return values[values.length - 1]!;
}

/** The units as installed: both in one folder, the drop-in (optionally) in NAME.service.d/. */
async function installed(withDropIn: boolean): Promise<{ dir: string; unit: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cb-units-'));
  // verify wants ExecStart='s program to exist: the .deb's /usr/bin/credential-broker is the source
  // tree's bin/credential-broker.js here.
  const unit = (await readFile(UNIT, 'utf8')).replace(
    /^ExecStart=\/usr\/bin\/credential-broker /m,
    `ExecStart=${path.join(ROOT, 'bin/credential-broker.js')} `,
  );
  await writeFile(path.join(dir, 'credential-broker.service'), unit);
  await copyFile(SOCKET, path.join(dir, 'credential-broker.socket'));
  if (withDropIn) {
    await mkdir(path.join(dir, 'credential-broker.service.d'));
    await copyFile(DROP_IN, path.join(dir, 'credential-broker.service.d/credentials.conf'));
  }
  return { dir, unit: path.join(dir, 'credential-broker.service') };
}

async function exposure(unit: string): Promise<number> {
  const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', unit]).catch(
    // it exits non-zero above its --threshold (default 100), never for our score
    (err: { stdout: string }) => ({ stdout: err.stdout }),
  );
  const score = /Overall exposure level for credential-broker\.service: (\d+\.\d)/.exec(stdout);
  assert.ok(score, stdout.slice(-300));
  return Number(score[1]);
}

describe('systemd unit', () => {
  it('is hardened, notifies readiness, reloads on SIGHUP, limits core dumps, memory and tasks', async () => {
    const unit = await parseUnit(UNIT);
    const service = unit.get('Service');
    assert.ok(service, '[Service] section');
    const one = (key: string) => {
      const values = service.get(key);
      assert.ok(values, `${key}= is set`);
      return values[values.length - 1];
    };
    const expected: Record<string, string> = {
      Type: 'notify',
      NotifyAccess: 'all', // systemd-notify is a child process: see the notifier test below
      ExecReload: '/bin/kill -HUP $MAINPID',
      Restart: 'on-failure',
      RestartPreventExitStatus: '78',
      User: 'credential-broker',
      RuntimeDirectory: 'credential-broker',
      RuntimeDirectoryMode: '0750',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      SystemCallArchitectures: 'native',
      UMask: '0077',
      LimitCORE: '0', // a core dump would hold credentials and secrets in clear
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.ok(service.get('SystemCallFilter')?.includes('@system-service'));
    assert.equal(
      one('ExecStart'),
      '/usr/bin/credential-broker serve --config /etc/credential-broker/config.yaml',
    );
    assert.equal(
      one('ExecStartPost'),
      '-/bin/chmod 0640 %t/credential-broker/token',
      'token readable by the group',
    );
    // bounded, not unlimited: 120-140 MB RSS (docs/performance.md) and about a dozen threads
    const memory = /^(\d+)M$/.exec(one('MemoryMax') ?? '');
    assert.ok(
      memory && Number(memory[1]) >= 256 && Number(memory[1]) <= 1024,
      `MemoryMax=${one('MemoryMax')}`,
    );
    const tasks = Number(one('TasksMax'));
    assert.ok(tasks >= 32 && tasks <= 256, `TasksMax=${one('TasksMax')}`);
    // the watchdog must outlast a GC pause, and the stop timeout the drain (shutdownTimeout 10 s)
    assert.ok(Number.parseInt(one('WatchdogSec') ?? '', 10) >= 10);
    assert.ok(Number.parseInt(one('TimeoutStopSec') ?? '', 10) > 10);
    // no writable+executable ban: V8's JIT needs it (the unit explains why it is absent)
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined);
  });

  it('starts with nothing but the config: no LoadCredential= or other file a fresh install lacks', async () => {
    const service = (await parseUnit(UNIT)).get('Service')!;
    // LoadCredential= fails the start when its file is missing: it is the opt-in drop-in's job.
    assert.equal(service.get('LoadCredential'), undefined, 'LoadCredential= belongs in the drop-in');
    assert.equal(service.get('SetCredential'), undefined);
    for (const key of [
      'EnvironmentFile',
      'LoadCredentialEncrypted',
      'ConditionPathExists',
      'AssertPathExists',
    ])
      assert.ok(
        (service.get(key) ?? []).every((v) => v.startsWith('-')),
        `${key}= would need a file`,
      );
    // The one file it reads is the config the .deb ships and docs/operations.md installs.
    const execStart = lastValue(await parseUnit(UNIT), 'Service', 'ExecStart');
    const config = /--config (\S+)$/.exec(execStart)?.[1];
    assert.equal(config, '/etc/credential-broker/config.yaml');
    const ops = await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8');
    assert.ok(ops.includes(config), 'docs/operations.md says where the config comes from');
  });

  it('secrets are an opt-in drop-in: LoadCredential=NAME:/etc/credential-broker/secrets/FILE', async () => {
    const dropIn = await parseUnit(DROP_IN);
    assert.deepEqual([...dropIn.keys()], ['Service'], 'only a [Service] section');
    const loads = dropIn.get('Service')!.get('LoadCredential') ?? [];
    assert.ok(loads.length > 0, 'at least one active example');
    for (const v of loads) assert.match(v, /^[\w.-]+:\/etc\/credential-broker\/secrets\/[\w.-]+$/);
    const text = await readFile(DROP_IN, 'utf8');
    assert.match(text, /systemctl edit credential-broker/, 'says how to install it');
    // and docs/operations.md shows the same file and how a config names what it loads
    const ops = await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8');
    assert.ok(ops.includes('systemd/credential-broker.service.d/credentials.conf.example'));
    assert.match(ops, /credential:oidc-client-secret/);
  });

  it('the socket unit holds the credentials port the broker listens on by default', async () => {
    const socket = await parseUnit(SOCKET);
    const listen = socket.get('Socket')?.get('ListenStream');
    assert.deepEqual(listen, ['127.0.0.1:9911']);
    // the broker's default server.listen: with no listen setting, it takes this socket
    const defaults = parseConfig(
      'profiles:\n  p:\n    source: { type: web-identity-file, tokenFile: /t }\n    role: { arn: "arn:aws:iam::123456789012:role/r" }\n',
      'defaults.yaml',
    );
    assert.equal(defaults.server.listen, listen[0]);
    assert.equal(lastValue(socket, 'Socket', 'Accept'), 'no', 'one listening socket, passed as fd 3');
    assert.equal(lastValue(socket, 'Socket', 'Service'), 'credential-broker.service');
    assert.equal(
      socket.get('Socket')?.get('ReusePort'),
      undefined,
      'no SO_REUSEPORT: nobody binds beside it',
    );
    assert.equal(lastValue(socket, 'Install', 'WantedBy'), 'sockets.target');
    // the service needs it and starts after it (systemd.socket(5))
    const unit = await parseUnit(UNIT);
    assert.ok(unit.get('Unit')?.get('Requires')?.includes('credential-broker.socket'));
    assert.ok(unit.get('Unit')?.get('After')?.includes('credential-broker.socket'));
  });

  it('sysusers and tmpfiles entries create the user and the token folder the unit names', async () => {
    const sysusers = await readFile(path.join(ROOT, 'systemd/credential-broker.sysusers'), 'utf8');
    assert.match(sysusers, /^u credential-broker - /m);
    const tmpfiles = await readFile(path.join(ROOT, 'systemd/credential-broker.tmpfiles'), 'utf8');
    assert.match(tmpfiles, /^d \/run\/credential-broker 0750 credential-broker credential-broker -$/m);
  });

  it('systemd-analyze verify is clean: service, socket, and service with the secrets drop-in', async (t) => {
    if (!(await which('systemd-analyze')))
      return t.skip('systemd-analyze is not installed (Debian: systemd)');
    for (const withDropIn of [false, true]) {
      const { dir, unit } = await installed(withDropIn);
      try {
        // the unit's folder is searched for NAME.service.d/ drop-ins too
        const { stdout, stderr } = await run('systemd-analyze', [
          'verify',
          unit,
          path.join(dir, 'credential-broker.socket'),
        ]);
        assert.equal(`${stdout}${stderr}`.trim(), '', withDropIn ? 'with the drop-in' : 'without');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('systemd-analyze security --offline=true rates the exposure at 1.5 or less, drop-in included', async (t) => {
    if (!(await which('systemd-analyze')))
      return t.skip('systemd-analyze is not installed (Debian: systemd)');
    for (const withDropIn of [false, true]) {
      const { dir, unit } = await installed(withDropIn);
      try {
        const score = await exposure(unit);
        t.diagnostic(`exposure ${score}${withDropIn ? ' with the drop-in' : ''}`);
        assert.ok(score <= 1.5, `exposure ${score}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('NotifyAccess=all, not main: the unprivileged broker’s systemd-notify child sends with its own PID', async (t) => {
    // NotifyAccess=main accepts a message only when its sender (SCM_CREDENTIALS) is the main PID.
    // systemd-notify claims its parent's PID, which the kernel allows only with CAP_SYS_ADMIN;
    // the unit runs as a user with no capabilities. Here: the broker's notifier, its child run as
    // root (the claim works: the receiver sees our PID) and as nobody with no capabilities (the
    // claim falls back to the child's own PID, which main would drop).
    if (process.getuid?.() !== 0) return t.skip('needs root to run the child as another user');
    for (const cmd of ['systemd-notify', 'setpriv', 'python3'])
      if (!(await which(cmd))) return t.skip(`${cmd} is not installed`);
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-notify-pid-'));
    await chmod(dir, 0o755);
    const socket = path.join(dir, 'notify');
    // A notify socket that reports the sender PID the kernel vouches for, as systemd reads it.
    const receiver = spawn('python3', [
      '-c',
      `import socket, struct, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
while True:
    msg, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = 0
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS: pid = struct.unpack("iII", data[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for i in range(0, len(data) - len(data) % 4, 4): os.close(struct.unpack("i", data[i:i + 4])[0])
    print(pid, msg.decode().replace(chr(10), "|"), flush=True)`,
      socket,
    ]);
    const lines = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]();
    try {
      assert.equal((await lines.next()).value, 'listening');
      const logger = createLogger({ destination: { write: () => {} } });
      const senderOf = async (command: string) => {
        await createNotifier(logger, { NOTIFY_SOCKET: socket, PATH: process.env.PATH }, command).ready(
          'ready',
        );
        const line: string = (await lines.next()).value;
        assert.match(line, /^\d+ READY=1\|STATUS=ready$/);
        await lines.next(); // BARRIER=1
        return Number(line.split(' ')[0]);
      };
      assert.equal(
        await senderOf('systemd-notify'),
        process.pid,
        'with CAP_SYS_ADMIN the child speaks for us',
      );
      const unprivileged = path.join(dir, 'notify-as-nobody');
      await writeFile(
        unprivileged,
        '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all systemd-notify "$@"\n',
        { mode: 0o755 },
      );
      const sender = await senderOf(unprivileged);
      assert.ok(sender > 0 && sender !== process.pid, `sender ${sender}: not the main PID ${process.pid}`);
      const unit = await parseUnit(UNIT);
      assert.equal(
        lastValue(unit, 'Service', 'NotifyAccess'),
        'all',
        'main would drop READY=1 and WATCHDOG=1',
      );
    } finally {
      receiver.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
