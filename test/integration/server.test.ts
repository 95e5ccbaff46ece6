// The HTTP contract of DESIGN.md "Serving", through app.inject() against a broker whose
// credentials come from the real OP and STS emulator.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImdsConfig } from '../../src/config/schema/index.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { buildOpsApp } from '../../src/server/ops-app.ts';
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

  it('creates the token file 0600 with 256 random bits and no trailing newline', async () => {
    await world.broker(world.config({ default: world.oidcProfile() }));
    const token = await world.token();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(path.join(world.dir, 'token'))).mode & 0o777, 0o600);
  });

  it('401 for a missing or wrong token, naming the variable; never the credentials', async () => {
    const { broker, app, metrics } = await world.broker(world.config({ default: world.oidcProfile() }));
    await broker.start();
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
    const { broker, app } = await world.broker(
      world.config({ default: world.oidcProfile(), payments: world.oidcProfile({ tokenFile: ownFile }) }),
    );
    await broker.start();
    const shared = await world.token();
    const own = await (await import('node:fs/promises')).readFile(ownFile, 'utf8');
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
    const { broker, app } = await world.broker(world.config({ default: world.oidcProfile() }));
    await broker.start();
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
    const ownFile = path.join(world.dir, 'payments.token');
    const { broker, app } = await world.broker(
      world.config({ default: world.oidcProfile(), payments: world.oidcProfile({ tokenFile: ownFile }) }),
    );
    await broker.start();
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
        (l) => l.tokenFile === path.join(world.dir, l.profile === 'payments' ? 'payments.token' : 'token'),
      ),
      'the log names the token file for the operator',
    );
    const own = await (await import('node:fs/promises')).readFile(ownFile, 'utf8');
    const withProfileToken = await app.inject({
      url: '/v1/credentials/nope',
      headers: { authorization: own },
    });
    assert.equal(withProfileToken.statusCode, 404, 'any valid token may learn that a profile does not exist');
  });

  it('404 for an unknown profile, 400 for a malformed name, 404 JSON for unknown routes', async () => {
    const { app } = await world.broker(world.config({ default: world.oidcProfile() }));
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

  it('refuses browser-originated and DNS-rebinding requests', async () => {
    const { broker, app } = await world.broker(world.config({ default: world.oidcProfile() }));
    await broker.start();
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
    const { broker, app } = await world.broker(world.config({ default: world.oidcProfile() }));
    await broker.start();
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
    const config = world.config(
      { default: world.oidcProfile() },
      { imds: { listen: '127.0.0.1:0', profile: 'default' } as ImdsConfig },
    );
    const { broker, app, logger, metrics } = await world.broker(config);
    await broker.start();
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
      assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'an SDK-like request passes');
    } finally {
      await imds.close();
    }
  });

  it('the metrics listener: any IP and metrics.hosts as Host (scrapers, probes), no rebound name, no Origin', async () => {
    const config = world.config(
      { default: world.oidcProfile() },
      { metrics: { listen: '0.0.0.0:9912', hosts: ['broker-metrics.monitoring.svc'] } },
    );
    const { broker, logger, metrics } = await world.broker(config);
    await broker.start();
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
