// The credentials listener end to end: app.inject() against the real broker, whose credentials
// come from the real OP and STS emulator (what was served is what STS issued; an IdP outage is a
// 503 and /readyz names its code; exchanges show in /metrics and the log). What the server alone
// decides (auth, guard, Host, wire format) is tested against a fake broker: test/unit/server-http.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

const EXPIRATION_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe('GET /v1/credentials', () => {
  it('serves the ECS JSON for a profile and for "default", with the exact Expiration format', async () => {
    const { broker, app } = await world.broker(
      world.config({ default: world.oidcProfile(), other: world.oidcProfile() }),
    );
    await broker.start();
    const token = await world.token();
    for (const url of ['/v1/credentials', '/v1/credentials/default', '/v1/credentials/other']) {
      const res = await app.inject({ url, headers: { authorization: token } });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store', 'credentials are never cached on the way');
      const body = res.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'AccessKeyId',
        'AccountId',
        'Expiration',
        'RoleArn',
        'SecretAccessKey',
        'Token',
      ]);
      assert.match(body.AccessKeyId, /^ASIA/);
      assert.match(body.Expiration, EXPIRATION_FORMAT);
      assert.equal(body.AccountId, ACCOUNT);
      assert.equal(body.RoleArn, ROLE_ARN);
      // what was served is what STS issued
      assert.ok(world.sts.session(body.AccessKeyId), 'the emulator knows the served key');
    }
  });

  it('IdP down at startup: 503 with Retry-After and /readyz false; recovers when it is back', async () => {
    world.op.down = true;
    const { broker, app } = await world.broker(world.config({ default: world.oidcProfile() }));
    try {
      await broker.start();
      const token = await world.token();
      const res = await app.inject({ url: '/v1/credentials', headers: { authorization: token } });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'CREDENTIALS_UNAVAILABLE');
      assert.match(res.json().message, /profile "default".*cannot reach the provider/);
      assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After: ${res.headers['retry-after']}`);
      const ready = await app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().profiles.default.lastError, 'OIDC_UNREACHABLE');
    } finally {
      world.op.down = false;
    }
    await broker.refreshNow('default');
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    assert.equal(
      (await app.inject({ url: '/v1/credentials', headers: { authorization: await world.token() } }))
        .statusCode,
      200,
    );
  });
});

describe('health and metrics', () => {
  it('/healthz, /readyz per profile, /metrics with exchanges and expiry', async () => {
    const { broker, app } = await world.broker(
      world.config({ default: world.oidcProfile(), later: world.oidcProfile({ lazy: true }) }),
    );
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503, 'not ready before the first fetch');
    await broker.start();
    assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200, 'a lazy profile does not hold readiness');
    assert.equal(ready.json().profiles.default.state, 'ready');
    assert.equal(ready.json().profiles.later.state, 'empty');
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(
      metrics,
      /credential_broker_exchanges_total\{profile="default",source="oidc",outcome="success"\} 1/,
    );
    assert.match(
      metrics,
      /credential_broker_credentials_expiry_seconds\{profile="default"\} (3[0-5]\d\d|3600)/,
    );
    // The absolute expiry beside the countdown: an hour from now, in Unix seconds.
    const at = Number(
      /credential_broker_credentials_expiry_timestamp_seconds\{profile="default"\} ([\d.e+]+)/.exec(
        metrics,
      )?.[1],
    );
    assert.ok(Math.abs(at - (Date.now() / 1000 + 3600)) < 600, `expiry timestamp ${at}`);
    assert.match(
      metrics,
      /credential_broker_build_info\{version="\d+\.\d+\.\d+[^"]*",commit="[^"]+",node="v\d+\.\d+\.\d+"\} 1/,
    );
    assert.match(metrics, /credential_broker_http_requests_total\{route="\/readyz",status="503"\} 1/);
  });

  it('logs one line per exchange with profile, role, outcome and expiry, and no secret', async () => {
    const { broker } = await world.broker(world.config({ logged: world.oidcProfile() }));
    await broker.start();
    const line = world.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.profile === 'logged' && l.outcome === 'success');
    assert.ok(line, 'an exchange line');
    assert.equal(line.role, ROLE_ARN);
    assert.equal(line.source, 'oidc');
    assert.match(line.expiration, /Z$/);
    assert.equal(typeof line.durationMs, 'number');
    const all = world.logs.join('\n');
    assert.ok(!all.includes('test-client-secret'), 'client secret never logged');
    const creds = await broker.credentials('logged');
    assert.ok(!all.includes(creds.secretAccessKey), 'no secret access key in logs');
    assert.ok(!all.includes(creds.sessionToken), 'no session token in logs');
  });
});
