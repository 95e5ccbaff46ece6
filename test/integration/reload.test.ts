// Broker.reload() against the real OP and STS emulator: kept profiles keep their credentials and
// timers (no new STS call), changed ones get a new Refresher, removed ones answer 404, a failing
// reload changes nothing. And the metrics listener: health and metrics, never credentials.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { createNotifier } from '../../src/cli/sd-notify.ts';
import { Service } from '../../src/cli/service.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema/index.ts';
import { buildOpsApp } from '../../src/server/ops-app.ts';
import type { Metrics } from '../../src/telemetry/metrics.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await check(), 'condition reached');
}

async function metricsValue(metrics: Metrics, outcome: string): Promise<number> {
  const m = await metrics.reloads.get();
  return m.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

async function get(app: FastifyInstance, url: string, authorization?: string) {
  return app.inject({ url, headers: authorization ? { authorization } : {} });
}

describe('Broker.reload', () => {
  it('keeps unchanged profiles’ cache, replaces changed ones, adds and removes', async () => {
    const config = world.config({
      kept: world.oidcProfile(),
      changed: world.oidcProfile(),
      removed: world.oidcProfile(),
    });
    const { broker, app, metrics } = await world.broker(config);
    await broker.start();
    const token = await world.token();
    const before = Object.fromEntries(
      await Promise.all(
        ['kept', 'changed', 'removed'].map(async (p) => [
          p,
          (await get(app, `/v1/credentials/${p}`, token)).json(),
        ]),
      ),
    );
    await app.inject({ url: '/metrics' }); // sets the per-profile gauges
    assert.match(
      await metrics.registry.metrics(),
      /credential_broker_credentials_expiry_seconds\{profile="removed"\}/,
    );
    const callsBefore = world.sts.calls('AssumeRoleWithWebIdentity');

    const next = world.config({
      kept: world.oidcProfile(),
      changed: world.oidcProfile({ role: { sessionName: 'renamed-{profile}' } }),
      added: world.oidcProfile(),
    });
    const summary = await broker.reload(next);
    assert.deepEqual(summary, {
      added: ['added'],
      changed: ['changed'],
      removed: ['removed'],
      kept: ['kept'],
    });
    assert.equal(
      world.sts.calls('AssumeRoleWithWebIdentity') - callsBefore,
      2,
      'one exchange each for the changed and the added profile, none for the kept one',
    );
    assert.equal(broker.config, next);

    const kept = (await get(app, '/v1/credentials/kept', token)).json();
    assert.equal(kept.AccessKeyId, before.kept.AccessKeyId, 'kept profile serves its cached credentials');
    const changed = (await get(app, '/v1/credentials/changed', token)).json();
    assert.notEqual(changed.AccessKeyId, before.changed.AccessKeyId);
    assert.match(world.sts.session(changed.AccessKeyId)?.sessionName ?? '', /^renamed-changed$/);
    assert.equal((await get(app, '/v1/credentials/added', token)).statusCode, 200);
    const removed = await get(app, '/v1/credentials/removed', token);
    assert.equal(removed.statusCode, 404);
    assert.equal(removed.json().code, 'PROFILE_NOT_FOUND');

    const ready = (await get(app, '/readyz')).json();
    assert.deepEqual(Object.keys(ready.profiles).sort(), ['added', 'changed', 'kept']);
    await app.inject({ url: '/metrics' });
    assert.doesNotMatch(await metrics.registry.metrics(), /profile="removed"\}/, 'its gauges are gone');
  });

  it('a top-level STS setting change counts as a change for every profile', async () => {
    const { broker } = await world.broker(world.config({ a: world.oidcProfile() }));
    await broker.start();
    const next = world.config(
      { a: world.oidcProfile() },
      { sts: { region: 'us-east-1', endpoint: world.sts.url, timeout: '4s' } },
    );
    assert.deepEqual((await broker.reload(next)).changed, ['a']);
    const same = world.config(
      { a: world.oidcProfile() },
      { sts: { region: 'us-east-1', endpoint: world.sts.url, timeout: '4s' } },
    );
    assert.deepEqual((await broker.reload(same)).kept, ['a'], 'deep-equal, not identity');
  });
});

describe('Service.reload (what SIGHUP runs)', () => {
  it('reloads never overlap: three at once run as two; the log level applies at once', async () => {
    const doc = (level: string) =>
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'token') },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        logging: { level },
        profiles: { a: world.oidcProfile() },
      });
    const file = await world.file('svc-reload.yaml', doc('info'), 0o644);
    const { broker, metrics, logger } = await world.broker(world.config({ a: world.oidcProfile() }));
    const config = (await loadConfigFile(file)).config;
    const service = new Service({
      file,
      config,
      broker,
      logger,
      metrics,
      notifier: createNotifier(logger, {}),
    });
    await writeFile(file, doc('warn'));
    const results = await Promise.all([
      service.reload('one'),
      service.reload('two'),
      service.reload('three'),
    ]);
    assert.deepEqual(results, [true, true, true]);
    await until(async () => (await metricsValue(metrics, 'success')) === 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      await metricsValue(metrics, 'success'),
      2,
      'the first, then one more for the two that arrived during it',
    );
    assert.equal(logger.level, 'warn');
  });
});

/** A Service wired as `serve` wires it: the client tokens are readied and swapped on reload. */
function serviceLikeServe(
  file: string,
  config: Config,
  built: Pick<Awaited<ReturnType<World['broker']>>, 'broker' | 'logger' | 'metrics' | 'tokens'>,
): Service {
  const { broker, logger, metrics, tokens } = built;
  return new Service({
    file,
    config,
    broker,
    logger,
    metrics,
    notifier: createNotifier(logger, {}),
    prepareReload: (next) => tokens.prepare(next),
  });
}

describe('Service.reload with client tokens (as serve wires them)', () => {
  it('a failing reload (token file cannot be created) leaves the running config and tokens in force', async () => {
    const config = world.config({ a: world.oidcProfile() });
    const { broker, app, logger, metrics, tokens } = await world.broker(config);
    await broker.start();
    const blocker = await world.file('not-a-dir', 'x');
    const file = await world.file(
      'bad-tokens.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(blocker, 'token') },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        profiles: { b: world.oidcProfile() },
      }),
      0o644,
    );
    const service = serviceLikeServe(file, config, { broker, logger, metrics, tokens });
    assert.equal(await service.reload('test'), false);
    assert.ok(
      world.logs.some(
        (l) => /config reload failed/.test(l) && /cannot create or read the client token file/.test(l),
      ),
      'the log names the token file problem',
    );
    assert.equal(broker.config, config);
    assert.deepEqual(broker.profileNames(), ['a']);
    assert.equal(tokens.current.fileFor('a'), path.join(world.dir, 'token'));
    assert.equal((await get(app, '/v1/credentials/a', await world.token())).statusCode, 200);
  });

  it('a reload that moves the token file swaps the tokens the credentials routes check', async () => {
    const config = world.config({ a: world.oidcProfile() });
    const { broker, app, logger, metrics, tokens } = await world.broker(config);
    await broker.start();
    const oldToken = await world.token();
    const moved = path.join(world.dir, 'moved-token');
    const file = await world.file(
      'moved-tokens.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: moved },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        profiles: { a: world.oidcProfile() },
      }),
      0o644,
    );
    const service = serviceLikeServe(file, config, { broker, logger, metrics, tokens });
    assert.equal(await service.reload('test'), true);
    const newToken = await readFile(moved, 'utf8');
    assert.notEqual(newToken, oldToken);
    assert.equal((await get(app, '/v1/credentials/a', newToken)).statusCode, 200, 'the new token grants');
    assert.equal((await get(app, '/v1/credentials/a', oldToken)).statusCode, 401, 'the old one no more');
  });
});

describe('metrics listener', () => {
  it('serves /metrics, /healthz and /readyz, and no credentials even with a valid token', async () => {
    world.op.down = true;
    const config = world.config({
      good: world.oidcProfile({ lazy: true }),
      idpDown: world.oidcProfile(),
      denied: world.oidcProfile({ role: { arn: 'arn:aws:iam::123456789012:role/nobody' } }),
    });
    const { broker, metrics, logger } = await world.broker(config);
    const ops = buildOpsApp({
      broker,
      listener: config.metrics,
      limits: config.server.limits,
      logger,
      metrics,
    });
    try {
      await broker.start();
    } finally {
      world.op.down = false;
    }
    await broker.refreshNow('denied').catch(() => undefined);
    const token = await world.token();
    for (const url of ['/v1/credentials', '/v1/credentials/good']) {
      const res = await get(ops, url, token);
      assert.equal(res.statusCode, 404, url);
      assert.doesNotMatch(res.body, /AccessKeyId|ASIA/);
    }
    assert.deepEqual((await get(ops, '/healthz')).json(), { status: 'ok' });
    const ready = await get(ops, '/readyz');
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().profiles.idpDown.lastError, 'OIDC_UNREACHABLE');

    const text = (await get(ops, '/metrics')).body;
    assert.match(
      text,
      /credential_broker_fetch_errors_total\{profile="idpDown",source="oidc",stage="source",reason="OIDC_UNREACHABLE"\} 1/,
    );
    assert.match(
      text,
      /credential_broker_fetch_errors_total\{profile="denied",source="oidc",stage="sts",reason="STS_ACCESS_DENIED"\} [1-9]/,
    );
    assert.match(text, /credential_broker_profile_state\{profile="idpDown",state="empty"\} 1/);
    assert.match(text, /credential_broker_profile_state\{profile="idpDown",state="ready"\} 0/);
    const next = /credential_broker_refresh_next_attempt_seconds\{profile="idpDown"\} (-?\d+)/.exec(text);
    assert.ok(next, 'the retry is scheduled');
    assert.ok(Number(next[1]) >= 0 && Number(next[1]) <= 2, `retry in ${next[1]} s (first backoff <= 1 s)`);
    assert.doesNotMatch(
      text,
      /credential_broker_refresh_next_attempt_seconds\{profile="good"\}/,
      'lazy, never fetched',
    );
    await ops.close();
  });
});
