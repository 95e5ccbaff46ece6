// `credential-broker status` against real `serve` processes found from the same config file: one
// ready, one with a profile whose IdP refuses the client (not ready, its last error code shown),
// and none at all (69, naming the URL and the setting it came from).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cli } from '../harness/cli.ts';
import { type BrokerProcess, freePort, serveProcess, until } from '../harness/serve-process.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
const brokers: BrokerProcess[] = [];

async function configFor(name: string, profiles: Record<string, unknown>): Promise<string> {
  const port = await freePort();
  return world.file(
    `${name}.yaml`,
    stringify({
      server: { listen: `127.0.0.1:${port}`, tokenFile: path.join(world.dir, `${name}-token`) },
      sts: { endpoint: world.sts.url, region: 'us-east-1' },
      profiles,
    }),
    0o644,
  );
}

let ready: string;
let notReady: string;
let nobody: string;

before(async () => {
  world = await startWorld();
  ready = await configFor('ready', {
    default: world.oidcProfile(),
    later: world.oidcProfile({ lazy: true }),
  });
  notReady = await configFor('not-ready', {
    default: world.oidcProfile(),
    broken: world.oidcProfile({ source: { clientId: 'no-such-client' } }),
  });
  nobody = await configFor('nobody', { default: world.oidcProfile() });
  for (const file of [ready, notReady]) brokers.push(serveProcess(file));
  await Promise.all(
    brokers.map((b) => b.waitFor((l) => /^(ready|not ready)/.test(l.msg), 'first fetch', 60_000)),
  );
});
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  await world.close();
});

describe('credential-broker status', () => {
  it('a ready broker: exit 0, a row per profile with its expiry; --json is /readyz with the URL', async () => {
    const out = await cli('status', '--config', ready);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^broker at http:\/\/127\.0\.0\.1:\d+\/readyz: ready\n/);
    assert.match(out.stdout, /^PROFILE +STATE +EXPIRES +FAILURES +LAST ERROR$/m);
    assert.match(out.stdout, /^default +ready +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+m\) +0 +-$/m);
    assert.match(out.stdout, /^later +lazy \(not fetched yet\) +- +0 +-$/m);

    const json = await cli('status', '-c', ready, '--json');
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ready, true);
    assert.equal(report.profiles.default.state, 'ready');
    assert.ok(Date.parse(report.profiles.default.expiration) > Date.now());
    assert.equal(report.profiles.later.lazy, true);
    // --url: the base URL is enough
    const base = new URL(report.url).origin;
    const byUrl = await cli('status', '--url', base, '--json');
    assert.equal(byUrl.code, 0, byUrl.stderr);
    assert.deepEqual(Object.keys(JSON.parse(byUrl.stdout).profiles), ['default', 'later']);
  });

  it('a profile without credentials: exit 1, NOT READY, its failures and last error code', async () => {
    // The broken profile's first fetch has failed by now; its row shows it.
    let out = await cli('status', '-c', notReady);
    await until('a failure counted', async () => {
      out = await cli('status', '-c', notReady);
      return /^broken +empty +- +[1-9]/m.test(out.stdout);
    });
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stdout, /: NOT READY\n/);
    assert.match(out.stdout, /^broken +empty +- +[1-9]\d* +[A-Z][A-Z_]+$/m);
    assert.match(out.stdout, /^default +ready /m);
    const json = JSON.parse((await cli('status', '-c', notReady, '--json')).stdout);
    assert.equal(json.ready, false);
    assert.match(json.profiles.broken.lastError, /^[A-Z][A-Z_]+$/);
  });

  it('no broker: exit 69 naming the URL, server.listen and the config file; --url too', async () => {
    const out = await cli('status', '-c', nobody);
    assert.equal(out.code, 69);
    assert.equal(out.stdout, '');
    assert.match(
      out.stderr,
      /no broker answers at http:\/\/127\.0\.0\.1:\d+\/readyz \(ECONNREFUSED[^)]*\): is credential-broker serve running\? The URL comes from server\.listen \(127\.0\.0\.1:\d+\) in .*nobody\.yaml; pass --url/,
    );
    const port = new URL(`http://${(await cli('status', '-c', nobody)).stderr.match(/127\.0\.0\.1:\d+/)![0]}`)
      .port;
    const byUrl = await cli('status', '--url', `http://127.0.0.1:${port}`);
    assert.equal(byUrl.code, 69);
    assert.match(byUrl.stderr, /The URL comes from --url/);
  });

  it('a URL that is not a broker: exit 69 naming it', async () => {
    const out = await cli('status', '--url', `${world.sts.url}/`);
    assert.equal(out.code, 69);
    assert.match(out.stderr, /answered \d+ .*not a broker's readiness: check --url/);
  });
});
