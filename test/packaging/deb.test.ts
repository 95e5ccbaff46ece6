// The .deb (scripts/package-deb.ts) installs with dpkg, runs on its own Node, and purges clean:
// built here (gzip -1, the same files as the release's xz), installed, `--version` and `check`
// with the shipped config run through /usr/bin/credential-broker, then `check` with a config that
// does a live exchange against the test world (the real OP and the STS emulator), and one whose
// Kerberos profile shows whether the kerberos addon came along and loads, then `dpkg --purge`.
// Root only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { buildId } from '../../scripts/bundle.ts';
import { kerberosAddon, packageDeb } from '../../scripts/package-deb.ts';
import { ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const run = promisify(execFile);
const gone = (p: string) =>
  stat(p).then(
    () => false,
    () => true,
  );
const skip =
  process.getuid?.() !== 0
    ? 'needs root (dpkg -i)'
    : await run('sh', ['-c', 'command -v dpkg dpkg-deb']).then(
        () => undefined,
        () => 'dpkg is not installed',
      );

describe('credential-broker .deb', { skip }, () => {
  let dir: string;
  let world: World | undefined;
  after(async () => {
    await run('dpkg', ['--purge', 'credential-broker']).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
    await world?.close();
  });

  it('installs, answers --version and check on its own Node, and purges what it put there', async (t) => {
    dir = await mkdtemp(path.join(tmpdir(), 'cb-deb-'));
    let started = Date.now();
    const deb = await packageDeb(dir, true);
    t.diagnostic(`built in ${Date.now() - started} ms, ${(await stat(deb)).size} bytes`);
    started = Date.now();
    await run('dpkg', ['-i', deb], { timeout: 300_000 });
    const id = buildId();
    const version = await run('/usr/bin/credential-broker', ['--version']);
    assert.equal(version.stdout, `${id.version} (commit ${id.commit})\n`);
    // the shipped config is valid (exit 1, not 78) and names the one thing left to configure
    const check = await run('/usr/bin/credential-broker', ['check']).catch((e) => e);
    t.diagnostic(`install → first check ${Date.now() - started} ms`);
    assert.equal(check.code, 1, `${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /WEB_IDENTITY_TOKEN_UNREADABLE.*\/etc\/credential-broker\/web-identity-token/);
    // the installed program, on its own Node, exchanges a real OP's token at STS
    world = await startWorld();
    const live = await world.file(
      'live.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'live.token') },
        sts: { endpoint: world.sts.url },
        profiles: { live: world.oidcProfile() },
      }),
    );
    const exchanges = world.sts.calls('AssumeRoleWithWebIdentity');
    const checked = await run('/usr/bin/credential-broker', ['check', '--config', live, '--json']).catch(
      (e) => e,
    );
    assert.equal(checked.code ?? 0, 0, `${checked.stdout}${checked.stderr}`);
    const report = JSON.parse(checked.stdout);
    assert.equal(report.results[0].ok, true);
    assert.equal(report.results[0].role, ROLE_ARN);
    assert.equal(world.sts.calls('AssumeRoleWithWebIdentity'), exchanges + 1, 'one live exchange');
    // The kerberos addon, when this tree has it built, is carried and loads on the .deb's Node: a
    // Kerberos profile then gets past loading it and stops at its keytab, which does not exist.
    const carried = kerberosAddon() !== undefined;
    assert.equal(!(await gone('/opt/credential-broker/node_modules/kerberos')), carried);
    const krb = await world.file(
      'krb.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'krb.token') },
        sts: { endpoint: world.sts.url },
        profiles: {
          krb: world.oidcProfile({
            source: {
              clientAuth: {
                method: 'kerberos',
                principal: 'svc@EXAMPLE.TEST',
                keytab: path.join(world.dir, 'no-such.keytab'),
              },
            },
          }),
        },
      }),
    );
    const krbCheck = await run('/usr/bin/credential-broker', ['check', '--config', krb, '--json']).catch(
      (e) => e,
    );
    const krbReport = JSON.parse(krbCheck.stdout);
    assert.equal(
      krbReport.results[0].error?.code,
      carried ? 'KERBEROS_KEYTAB' : 'KERBEROS_UNAVAILABLE',
      krbCheck.stdout,
    );
    const mode = (await stat('/etc/credential-broker/config.yaml')).mode & 0o777;
    assert.equal(mode, 0o640, 'the config is readable by the broker group only');
    const { stdout: passwd } = await run('getent', ['passwd', 'credential-broker']);
    assert.match(passwd, /^credential-broker:/);
    assert.match(
      await readFile('/usr/lib/systemd/system/credential-broker.service', 'utf8'),
      /^ExecStart=\/usr\/bin\/credential-broker serve/m,
    );

    await run('dpkg', ['--purge', 'credential-broker'], { timeout: 300_000 });
    for (const p of ['/opt/credential-broker', '/etc/credential-broker', '/usr/bin/credential-broker'])
      assert.ok(await gone(p), `${p} is removed by purge`);
    // the system user stays, as Debian packages leave theirs (packaging/deb/postrm)
  });
});
