// systemd/credential-broker.service: the hardening the design asks for, checked by parsing the
// unit, and by systemd's own tools where they are installed (Debian's `systemd` package):
// `systemd-analyze verify` clean and `systemd-analyze security --offline=true` exposure <= 2.0.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = path.join(ROOT, 'systemd/credential-broker.service');
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

describe('systemd unit', () => {
  it('is hardened, notifies readiness, reloads on SIGHUP and takes secrets through LoadCredential=', async () => {
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
      NotifyAccess: 'all', // systemd-notify is a child process
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
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.ok(service.get('SystemCallFilter')?.includes('@system-service'));
    assert.match(one('ExecStart') ?? '', / serve --config \/etc\/credential-broker\/config\.yaml$/);
    assert.equal(
      one('ExecStartPost'),
      '-/bin/chmod 0640 %t/credential-broker/token',
      'token readable by the group',
    );
    assert.ok(
      (service.get('LoadCredential') ?? []).every((v) =>
        /^[\w.-]+:\/etc\/credential-broker\/secrets\//.test(v),
      ),
      'LoadCredential=NAME:/etc/credential-broker/secrets/FILE',
    );
    // the watchdog must outlast a GC pause, and the stop timeout the drain (shutdownTimeout 10 s)
    assert.ok(Number.parseInt(one('WatchdogSec') ?? '', 10) >= 10);
    assert.ok(Number.parseInt(one('TimeoutStopSec') ?? '', 10) > 10);
    // no writable+executable ban: V8's JIT needs it (the unit explains why it is absent)
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined);
  });

  it('sysusers and tmpfiles entries create the user and the token folder the unit names', async () => {
    const sysusers = await readFile(path.join(ROOT, 'systemd/credential-broker.sysusers'), 'utf8');
    assert.match(sysusers, /^u credential-broker - /m);
    const tmpfiles = await readFile(path.join(ROOT, 'systemd/credential-broker.tmpfiles'), 'utf8');
    assert.match(tmpfiles, /^d \/run\/credential-broker 0750 credential-broker credential-broker -$/m);
  });

  it('systemd-analyze verify is clean', async (t) => {
    if (!(await which('systemd-analyze')))
      return t.skip('systemd-analyze is not installed (Debian: systemd)');
    const { stdout, stderr } = await run('systemd-analyze', ['verify', UNIT]);
    assert.equal(`${stdout}${stderr}`.trim(), '');
  });

  it('systemd-analyze security --offline=true rates the exposure at 2.0 or less', async (t) => {
    if (!(await which('systemd-analyze')))
      return t.skip('systemd-analyze is not installed (Debian: systemd)');
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT]).catch(
      // it exits non-zero above its --threshold (default 100), never for our score
      (err: { stdout: string }) => ({ stdout: err.stdout }),
    );
    const score = /Overall exposure level for credential-broker\.service: (\d+\.\d)/.exec(stdout);
    assert.ok(score, stdout.slice(-300));
    t.diagnostic(`exposure ${score[1]}`);
    assert.ok(Number(score[1]) <= 2.0, `exposure ${score[1]}`);
  });
});
