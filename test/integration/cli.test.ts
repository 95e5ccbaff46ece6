// The command line: help/version, exit codes (0, 1, 64, 78), `check` against the real OP and
// STS emulator, and `serve` as a real process that shuts down cleanly on SIGTERM.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cli } from '../harness/cli.ts';
import { serveProcess } from '../harness/serve-process.ts';
import { ROLE_ARN, startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

/** A config file for the world: STS endpoint, token file, the given profiles. */
async function configFile(name: string, profiles: Record<string, unknown>): Promise<string> {
  return world.file(
    name,
    stringify({
      server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, `${name}.token`) },
      sts: { endpoint: world.sts.url },
      profiles,
    }),
    0o644,
  );
}

describe('credential-broker CLI', () => {
  it('--help and --version exit 0; no command or an unknown one exits 64', async () => {
    const help = await cli('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /credential-broker serve \[--config FILE\]/);
    const version = await cli('--version');
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+ \(commit ([0-9a-f]{7,40}(-dirty)?|unknown)\)\n$/);
    assert.equal((await cli()).code, 64);
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command "frobnicate"; commands: serve, check/);
    const flag = await cli('check', '--colour');
    assert.equal(flag.code, 64);
    assert.match(flag.stderr, /Unknown option '--colour'/);
  });

  it('an invalid config exits 78 with one line naming file, path and fix', async () => {
    const file = await configFile('bad.yaml', {
      default: world.oidcProfile({ role: { arn: 'not-an-arn' } }),
    });
    const out = await cli('check', '--config', file);
    assert.equal(out.code, 78);
    assert.equal(out.stderr.trim().split('\n').length, 1);
    assert.match(
      out.stderr,
      new RegExp(`^credential-broker: ${file}: profiles\\.default\\.role\\.arn: expected an IAM role ARN`),
    );
    const missing = await cli('serve', '--config', path.join(world.dir, 'absent.yaml'));
    assert.equal(missing.code, 78);
    assert.match(missing.stderr, /cannot read the config file \(no such file\); pass --config PATH/);
  });

  it('check: one live exchange per profile proved by GetCallerIdentity; exit 1 naming the failing profile', async () => {
    const file = await configFile('check.yaml', {
      good: world.oidcProfile(),
      untrusted: world.oidcProfile({ role: { arn: 'arn:aws:iam::123456789012:role/nobody' } }),
    });
    const both = await cli('check', '--config', file);
    assert.equal(both.code, 1);
    assert.match(
      both.stdout,
      /^ok {3}good {2}source=oidc http:\/\/127\.0\.0\.1:\d+ {2}role=arn:aws:iam::123456789012:role\/app/m,
    );
    assert.match(
      both.stdout,
      /caller=arn:aws:sts::123456789012:assumed-role\/app\/credential-broker-good {2}expires=\d{4}-/,
    );
    // each step, timed; the failing one names its code and fix
    assert.match(both.stdout, /^ {5}✓ identity source +\d+ ms$/m);
    assert.match(
      both.stdout,
      /^FAIL untrusted .*\n {5}✓ identity source +\d+ ms\n {5}✗ STS exchange +\d+ ms {2}STS_ACCESS_DENIED: profile "untrusted": STS denied assuming.*trust policy/m,
    );
    assert.match(both.stdout, /^ {5}- running broker +\d+ ms {2}server\.listen has port 0/m);
    assert.match(both.stdout, /1 of 2 profiles ok/);

    const one = await cli('check', '--config', file, '--profile', 'good', '--json');
    assert.equal(one.code, 0);
    const report = JSON.parse(one.stdout);
    assert.equal(report.results.length, 1);
    assert.equal(report.results[0].ok, true);
    assert.equal(report.results[0].role, ROLE_ARN);
    assert.deepEqual(
      report.results[0].steps.map((st: { name: string; ok: boolean }) => [st.name, st.ok]),
      [
        ['identity source', true],
        ['STS exchange', true],
        ['GetCallerIdentity', true],
        ['running broker', true],
      ],
    );

    const nope = await cli('check', '--config', file, '--profile', 'nope');
    assert.equal(nope.code, 78);
    assert.match(nope.stderr, /no profile "nope"; configured: good, untrusted/);
  });

  it('check asks a running broker for the profile, and reports STS clock skew', async () => {
    const { StsEmulator } = await import('../harness/sts-emulator.ts');
    const skewed = await StsEmulator.start({ now: () => Date.now() + 3 * 60_000 });
    try {
      skewed.registerOidcProvider({ issuer: world.op.issuer, clientIds: ['sts.amazonaws.com'] });
      skewed.trustRole({ roleArn: ROLE_ARN, issuer: world.op.issuer });
      const probe = (await import('node:net')).createServer();
      const port = await new Promise<number>((resolve) =>
        probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)),
      );
      await new Promise((resolve) => probe.close(resolve));
      const tokenFile = path.join(world.dir, 'running.token');
      const config = {
        server: { listen: `127.0.0.1:${port}`, tokenFile },
        sts: { endpoint: skewed.url },
        profiles: { default: world.oidcProfile() },
      };
      const file = await world.file('running.yaml', stringify(config), 0o644);

      const absent = await cli('check', '--config', file);
      assert.equal(absent.code, 0, absent.stdout);
      assert.match(absent.stdout, /- running broker .*no (token file|broker listening)/);
      assert.match(absent.stdout, /warning: this host's clock is 1[78]\d s behind STS's .*NTP/);

      const { broker, app } = await world.broker(
        (await import('../../src/config/load.ts')).parseConfig(stringify(config), file),
      );
      await broker.start();
      await app.listen({ host: '127.0.0.1', port });
      const running = await cli('check', '--config', file);
      assert.equal(running.code, 0, running.stdout);
      assert.match(
        running.stdout,
        new RegExp(
          `✓ running broker +\\d+ ms {2}http://127\\.0\\.0\\.1:${port}/v1/credentials/default serves it`,
        ),
      );
      await app.close();
    } finally {
      await skewed.close();
    }
  });

  it('serve: listens, becomes ready, serves, and exits 0 on SIGTERM', async () => {
    const file = await configFile('serve.yaml', { default: world.oidcProfile() });
    const served = serveProcess(file);
    const address = await served.address();
    const token = await (await import('node:fs/promises')).readFile(
      path.join(world.dir, 'serve.yaml.token'),
      'utf8',
    );
    let res = await fetch(`${address}/v1/credentials`, { headers: { authorization: token } });
    for (let i = 0; res.status === 503 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${address}/v1/credentials`, { headers: { authorization: token } });
    }
    assert.equal(res.status, 200);
    served.child.kill('SIGTERM');
    assert.equal(await served.exited, 0);
    assert.equal(served.stderr, '');
    assert.ok(served.logs.some((l) => l.msg === 'shutting down: finishing in-flight requests'));
  });
});
