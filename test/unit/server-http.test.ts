// The HTTP contract of docs/design.md "Serving" that the server alone decides: client-token auth
// (401 before 404), the browser/rebinding guard and Host rules, the wire format and the 503, on
// the credentials, IMDS and metrics listeners. The broker behind them is a FakeBroker
// (test/harness/fake-broker.ts); where credentials come from is tested end to end in
// test/integration/server.test.ts.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImdsConfig } from '../../src/config/schema/index.ts';
import { UnavailableError } from '../../src/errors.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { buildOpsApp } from '../../src/server/ops-app.ts';
import { FAKE_ACCOUNT, fakeCredentials } from '../harness/fake-broker.ts';
import { type ServerWorld, startServerWorld } from '../harness/server-world.ts';

let world: ServerWorld;
before(async () => {
  world = await startServerWorld();
});
after(() => world.close());

const EXPIRATION_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe('GET /v1/credentials', () => {
  it('serves the ECS JSON of what the broker holds, for a profile and for "default", exactly', async () => {
    const { broker, app } = await world.app({ default: {}, other: {} });
    const token = await world.token();
    for (const [url, profile] of [
      ['/v1/credentials', 'default'],
      ['/v1/credentials/default', 'default'],
      ['/v1/credentials/other', 'other'],
    ] as const) {
      const res = await app.inject({ url, headers: { authorization: token } });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store', 'credentials are never cached on the way');
      const held = broker.profiles.get(profile)?.credentials;
      assert.ok(held);
      const body = res.json();
      assert.deepEqual(body, {
        AccessKeyId: held.accessKeyId,
        SecretAccessKey: held.secretAccessKey,
        Token: held.sessionToken,
        Expiration: held.expiration.toISOString().replace('.000Z', 'Z'),
        AccountId: FAKE_ACCOUNT,
        RoleArn: held.roleArn,
      });
      assert.match(body.Expiration, EXPIRATION_FORMAT);
    }
  });

  it('serves from the cache and, when it holds nothing, from credentials()', async () => {
    const { broker, app } = await world.app();
    const held = broker.profiles.get('default')?.credentials;
    const authorization = await world.token();
    assert.equal((await app.inject({ url: '/v1/credentials', headers: { authorization } })).statusCode, 200);
    assert.deepEqual(
      broker.calls.map((c) => c.method),
      ['cached'],
      'a held set is answered without a promise',
    );
    // below the refresh floor the cache holds nothing: the route awaits credentials()
    broker.cacheHolds = false;
    const res = await app.inject({ url: '/v1/credentials', headers: { authorization } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().AccessKeyId, held?.accessKeyId);
    assert.deepEqual(broker.calls.slice(1), [
      { method: 'cached', profile: 'default', minRemainingMs: undefined },
      { method: 'credentials', profile: 'default', minRemainingMs: undefined },
    ]);
  });

  it('503 CREDENTIALS_UNAVAILABLE with the error message and Retry-After when nothing valid is held', async () => {
    const error = new UnavailableError('cannot reach the provider', {
      profile: 'default',
      retryAfterSeconds: 7,
    });
    const { app } = await world.app({ default: { error } });
    const res = await app.inject({ url: '/v1/credentials', headers: { authorization: await world.token() } });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), {
      code: 'CREDENTIALS_UNAVAILABLE',
      message: 'profile "default": cannot reach the provider',
    });
    assert.equal(res.headers['retry-after'], '7');
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().profiles.default.lastError, 'CREDENTIALS_UNAVAILABLE');
    const defaulted = await world.app({ default: { error: new UnavailableError('nothing held') } });
    const retry = await defaulted.app.inject({
      url: '/v1/credentials',
      headers: { authorization: await world.token() },
    });
    assert.equal(retry.headers['retry-after'], '1', 'Retry-After: 1 when the error names no time');
  });

  it('creates the token file 0600 with 256 random bits and no trailing newline', async () => {
    await world.app();
    const token = await world.token();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(path.join(world.dir, 'token'))).mode & 0o777, 0o600);
  });

  it('401 for a missing or wrong token, naming the variable; never the credentials', async () => {
    const { app, metrics } = await world.app();
    const missing = await app.inject({ url: '/v1/credentials/default' });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json().code, 'TOKEN_MISSING');
    assert.match(missing.json().message, /AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE/);
    // Older SDKs (AWS CLI 2.9, botocore < 1.31) read only the variable with the token itself.
    assert.match(
      missing.json().message,
      /botocore < 1\.31\) read only AWS_CONTAINER_AUTHORIZATION_TOKEN: set it to the file's contents/,
    );
    const wrong = await app.inject({ url: '/v1/credentials/default', headers: { authorization: 'nope' } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().code, 'TOKEN_INVALID');
    assert.doesNotMatch(wrong.body, /ASIA/);
    const token = await world.token();
    const withNewline = await app.inject({
      url: '/v1/credentials/default',
      headers: { authorization: `${token} ` },
    });
    assert.equal(withNewline.statusCode, 401, 'tokens are compared exactly');
    assert.match(
      await metrics.registry.metrics(),
      /credential_broker_auth_failures_total\{reason="invalid"\} 2/,
    );
  });

  it('per-profile tokens: another profile’s token gets 403, the shared token does not open it', async () => {
    const ownFile = path.join(world.dir, 'payments.token');
    const { app } = await world.app({ default: {}, payments: { tokenFile: ownFile } });
    const shared = await world.token();
    const own = await readFile(ownFile, 'utf8');
    assert.notEqual(shared, own);
    assert.equal(
      (await app.inject({ url: '/v1/credentials/payments', headers: { authorization: own } })).statusCode,
      200,
    );
    const cross = await app.inject({ url: '/v1/credentials/payments', headers: { authorization: shared } });
    assert.equal(cross.statusCode, 403);
    assert.equal(cross.json().code, 'TOKEN_NOT_FOR_PROFILE');
    assert.equal(
      (await app.inject({ url: '/v1/credentials/default', headers: { authorization: own } })).statusCode,
      403,
    );
  });

  it('a rotated token file is honoured without a restart', async () => {
    const { app } = await world.app();
    const old = await world.token();
    await writeFile(path.join(world.dir, 'token'), 'rotated-token-value-0123456789');
    await new Promise((r) => setTimeout(r, 1100)); // token files are re-read at most once a second
    assert.equal(
      (await app.inject({ url: '/v1/credentials', headers: { authorization: old } })).statusCode,
      401,
    );
    assert.equal(
      (
        await app.inject({
          url: '/v1/credentials',
          headers: { authorization: 'rotated-token-value-0123456789' },
        })
      ).statusCode,
      200,
    );
  });

  it('an unknown profile is 401 without a valid token (names cannot be listed); the 401 names no server path', async () => {
    const ownFile = path.join(world.dir, 'payments-2.token');
    const { app } = await world.app({ default: {}, payments: { tokenFile: ownFile } });
    const logsBefore = world.logs.length;
    for (const url of ['/v1/credentials/nope', '/v1/credentials/payments', '/v1/credentials/default']) {
      for (const headers of [{}, { authorization: 'guess' }]) {
        const res = await app.inject({ url, headers });
        assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`);
        assert.ok(!res.body.includes(world.dir), `no server path in ${res.body}`);
      }
    }
    const refused = world.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'credential request refused');
    assert.ok(refused.length > 0);
    assert.ok(
      refused.every(
        (l) => l.tokenFile === (l.profile === 'payments' ? ownFile : path.join(world.dir, 'token')),
      ),
      'the log names the token file for the operator',
    );
    const own = await readFile(ownFile, 'utf8');
    const withProfileToken = await app.inject({
      url: '/v1/credentials/nope',
      headers: { authorization: own },
    });
    assert.equal(withProfileToken.statusCode, 404, 'any valid token may learn that a profile does not exist');
  });

  it('404 for an unknown profile, 400 for a malformed name, 404 JSON for unknown routes', async () => {
    const { app, broker } = await world.app();
    const token = await world.token();
    const unknown = await app.inject({ url: '/v1/credentials/nope', headers: { authorization: token } });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), {
      code: 'PROFILE_NOT_FOUND',
      message: 'no profile "nope" is configured',
    });
    const bad = await app.inject({ url: '/v1/credentials/a%20b', headers: { authorization: token } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'BAD_REQUEST');
    const route = await app.inject({ url: '/latest/meta-data/' });
    assert.equal(route.statusCode, 404);
    assert.equal(route.json().code, 'NOT_FOUND');
    assert.deepEqual(broker.calls, [], 'the broker was never asked');
  });

  it('refuses browser-originated and DNS-rebinding requests', async () => {
    const { app, broker } = await world.app();
    const authorization = await world.token();
    const cases: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
      { 'sec-fetch-dest': 'empty' },
      { host: 'evil.example:9911' },
    ];
    for (const extra of cases) {
      const res = await app.inject({ url: '/v1/credentials', headers: { authorization, ...extra } });
      assert.equal(res.statusCode, 403, JSON.stringify(extra));
      assert.match(res.json().code, /^(BROWSER_REQUEST_REFUSED|HOST_REFUSED)$/);
    }
    assert.deepEqual(broker.calls, [], 'refused before the broker is asked');
    for (const host of ['127.0.0.1:9911', 'localhost:9911', '[::1]:9911']) {
      assert.equal(
        (await app.inject({ url: '/v1/credentials', headers: { authorization, host } })).statusCode,
        200,
        host,
      );
    }
    // Node's fetch() sends a lone `sec-fetch-mode: cors`: a script, not a browser.
    const nodeFetch = await app.inject({
      url: '/v1/credentials',
      headers: { authorization, 'sec-fetch-mode': 'cors' },
    });
    assert.equal(nodeFetch.statusCode, 200);
  });
});

describe('Host and request target', () => {
  /** Sends raw bytes to a listening app; resolves with the status line. */
  const statusOf = (port: number, head: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    });

  it('400 for duplicate or malformed Host headers and for absolute-form targets naming another host', async () => {
    const { app } = await world.app();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const auth = `Authorization: ${await world.token()}`;
    const refused = {
      'two Host headers': `GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.com\r\n${auth}`,
      'two Host headers, the bad one first': `GET /v1/credentials HTTP/1.1\r\nHost: evil.com\r\nhost: 127.0.0.1\r\n${auth}`,
      'userinfo-like Host': `GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1:80@evil.com\r\n${auth}`,
      'junk after an IPv6 literal': `GET /v1/credentials HTTP/1.1\r\nHost: [::1]evil.example\r\n${auth}`,
      'absolute form, another host': `GET http://evil.example/v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
      'absolute form with userinfo': `GET http://127.0.0.1@evil.example/v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
      'asterisk form': `GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
    };
    for (const [what, head] of Object.entries(refused)) {
      assert.match(await statusOf(port, head), /^HTTP\/1\.1 400 /, what);
    }
    const accepted = {
      'origin form': `GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}`,
      'absolute form naming this listener': `GET http://127.0.0.1:${port}/v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
      'IPv6 loopback with port': `GET /v1/credentials HTTP/1.1\r\nHost: [::1]:${port}\r\n${auth}`,
    };
    for (const [what, head] of Object.entries(accepted)) {
      assert.match(await statusOf(port, head), /^HTTP\/1\.1 200 /, what);
    }
  });
});

describe('health and metrics', () => {
  it('the browser guard covers /healthz, /readyz and /metrics on the credentials and IMDS listeners', async () => {
    const { broker, app, config, logger, metrics } = await world.app(
      { default: {} },
      { extra: { imds: { listen: '127.0.0.1:0', profile: 'default' } as ImdsConfig } },
    );
    const imds = buildImdsApp({
      broker,
      imds: config.imds as ImdsConfig,
      limits: config.server.limits,
      logger,
      metrics,
    });
    try {
      for (const [name, listener] of Object.entries({ credentials: app, imds })) {
        for (const url of ['/healthz', '/readyz', '/metrics', '/latest/api/token']) {
          for (const headers of [
            { host: 'rebound.evil.example:9911' },
            { origin: 'http://rebound.evil.example' },
            { 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'empty' },
          ]) {
            const res = await listener.inject({ url, headers });
            assert.equal(res.statusCode, 403, `${name} ${url} ${JSON.stringify(headers)}`);
            assert.doesNotMatch(res.body, /default|expiration/i, 'no profile name, no expiry');
          }
        }
      }
      const ready = await app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 200, 'an SDK-like request passes');
      assert.equal(ready.json().profiles.default.state, 'ready');
    } finally {
      await imds.close();
    }
  });

  it('/readyz: 503 while a profile that must be ready holds nothing, a lazy one does not hold it', async () => {
    const empty = new UnavailableError('nothing yet');
    const { broker, app } = await world.app({
      default: { error: empty },
      later: { error: empty, lazy: true },
    });
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
    broker.profiles.set('default', { roleArn: broker.roleArn('default'), credentials: fakeCredentials('r') });
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
    assert.equal(ready.json().profiles.later.state, 'empty');
    assert.match(ready.json().profiles.default.expiration, /Z$/);
  });

  it('the metrics listener: any IP and metrics.hosts as Host (scrapers, probes), no rebound name, no Origin', async () => {
    const { broker, config, logger, metrics } = await world.app(
      { default: {} },
      { extra: { metrics: { listen: '0.0.0.0:9912', hosts: ['broker-metrics.monitoring.svc'] } } },
    );
    const ops = buildOpsApp({
      broker,
      listener: config.metrics,
      limits: config.server.limits,
      logger,
      metrics,
    });
    try {
      for (const host of [
        '10.1.2.3:9912',
        '[fd00::5]:9912',
        'broker-metrics.monitoring.svc:9912',
        'localhost',
      ]) {
        assert.equal((await ops.inject({ url: '/metrics', headers: { host } })).statusCode, 200, host);
      }
      // an operator opening /metrics in a browser: a navigation has Sec-Fetch-* but no Origin
      const navigation = await ops.inject({
        url: '/metrics',
        headers: { host: '10.1.2.3:9912', 'sec-fetch-site': 'none', 'sec-fetch-dest': 'document' },
      });
      assert.equal(navigation.statusCode, 200);
      assert.match(navigation.body, /credential_broker_credentials_expiry_seconds\{profile="default"\} \d+/);
      for (const headers of [
        { host: 'rebound.evil.example:9912' },
        { host: '10.1.2.3:9912', origin: 'http://evil.example' },
        { host: '10.1.2.3:9912@evil.example' },
      ]) {
        const res = await ops.inject({ url: '/readyz', headers });
        assert.ok([400, 403].includes(res.statusCode), `${JSON.stringify(headers)} → ${res.statusCode}`);
        assert.doesNotMatch(res.body, /default/);
      }
    } finally {
      await ops.close();
    }
  });
});
