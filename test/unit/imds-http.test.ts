// The IMDSv2 listener as the server alone decides it: the token dance (TTL, expiry, per-address
// bounds, IMDSv1 only when allowed), the role listing and both credential paths' JSON, against a
// FakeBroker (test/harness/fake-broker.ts). The real consumer, the JS SDK's instance-metadata
// provider with credentials from the real broker, is test/integration/imds.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { ImdsConfig } from '../../src/config/schema/index.ts';
import { UnavailableError } from '../../src/errors.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { IMDS_MIN_REMAINING_MS } from '../../src/server/imds-routes.ts';
import { FAKE_ACCOUNT } from '../harness/fake-broker.ts';
import { type ServerWorld, startServerWorld } from '../harness/server-world.ts';

const execFileAsync = promisify(execFile);

let world: ServerWorld;
const imdsApps: FastifyInstance[] = [];
before(async () => {
  world = await startServerWorld();
});
after(async () => {
  for (const a of imdsApps) await a.close();
  await world.close();
});

const TTL = 'x-aws-ec2-metadata-token-ttl-seconds';
const CREDS = '/latest/meta-data/iam/security-credentials/';
const EXTENDED = '/latest/meta-data/iam/security-credentials-extended/';
const ROLE_ARN = `arn:aws:iam::${FAKE_ACCOUNT}:role/app`;

async function imdsWorld(imds: Record<string, unknown> = {}) {
  const { broker, config, logger, metrics } = await world.app(
    { default: {}, batch: { roleArn: ROLE_ARN } },
    { extra: { imds: { listen: '127.0.0.1:0', profile: 'batch', ...imds } as ImdsConfig } },
  );
  const app = buildImdsApp({
    broker,
    imds: config.imds as ImdsConfig,
    limits: config.server.limits,
    logger,
    metrics,
  });
  imdsApps.push(app);
  return { app, broker };
}

async function sessionToken(app: FastifyInstance, ttl = '21600'): Promise<string> {
  const res = await app.inject({ method: 'PUT', url: '/latest/api/token', headers: { [TTL]: ttl } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store', 'a session token is never cached either');
  return res.body;
}

describe('IMDSv2 listener', () => {
  it('PUT /latest/api/token: echoes the TTL (capped at imds.tokenTtlMax), 400 without one', async () => {
    const { app } = await imdsWorld({ tokenTtlMax: '1h' });
    const res = await app.inject({ method: 'PUT', url: '/latest/api/token', headers: { [TTL]: '21600' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers[TTL], '3600');
    assert.match(res.body, /^[A-Za-z0-9_-]{43}$/);
    const shorter = await app.inject({ method: 'PUT', url: '/latest/api/token', headers: { [TTL]: '300' } });
    assert.equal(shorter.headers[TTL], '300');
    for (const ttl of [undefined, '0', '21601', 'abc', '-5']) {
      const bad = await app.inject({
        method: 'PUT',
        url: '/latest/api/token',
        headers: ttl === undefined ? {} : { [TTL]: ttl },
      });
      assert.equal(bad.statusCode, 400, `ttl ${ttl}`);
    }
    const forwarded = await app.inject({
      method: 'PUT',
      url: '/latest/api/token',
      headers: { [TTL]: '60', 'x-forwarded-for': '10.0.0.1' },
    });
    assert.equal(forwarded.statusCode, 403);
    assert.equal(forwarded.json().code, 'FORWARDED_REFUSED');
  });

  it('PUT /latest/api/token answers 200 whatever the Content-Type and body, as EC2 (Python urllib)', async () => {
    const { app } = await imdsWorld();
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', ''],
      ['application/x-www-form-urlencoded', 'a=b'],
      ['application/json', '{not json'],
      ['text/plain', 'hello'],
      ['application/octet-stream', 'x'],
    ] as const) {
      const res = await app.inject({
        method: 'PUT',
        url: '/latest/api/token',
        headers: { [TTL]: '60', 'content-type': type },
        payload,
      });
      assert.equal(res.statusCode, 200, `${type}: ${res.body}`);
      assert.match(res.body, /^[A-Za-z0-9_-]{43}$/);
    }
    // The real client: urllib's Request with data sends application/x-www-form-urlencoded.
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    // Async: the listener answers from this process's event loop.
    const python = await execFileAsync(
      'python3',
      [
        '-c',
        `import urllib.request, sys
base = sys.argv[1]
req = urllib.request.Request(base + "/latest/api/token", data=b"", method="PUT", headers={"${TTL}": "60"})
token = urllib.request.urlopen(req).read().decode()
req = urllib.request.Request(base + "${CREDS}", headers={"x-aws-ec2-metadata-token": token})
print(urllib.request.urlopen(req).read().decode())`,
        address,
      ],
      { timeout: 60_000 },
    );
    assert.equal(python.stdout, 'app\n');
  });

  it('lists exactly the one role name (no newline) and serves it on both paths, with a token only', async () => {
    const { app, broker } = await imdsWorld();
    for (const headers of [{}, { 'x-aws-ec2-metadata-token': 'forged' }]) {
      const refused = await app.inject({ url: CREDS, headers });
      assert.equal(refused.statusCode, 401);
      const creds = await app.inject({ url: `${CREDS}app`, headers });
      assert.equal(creds.statusCode, 401);
      assert.doesNotMatch(creds.body, /ASIA/);
    }
    const headers = { 'x-aws-ec2-metadata-token': await sessionToken(app) };
    const list = await app.inject({ url: CREDS, headers });
    assert.equal(list.statusCode, 200);
    assert.equal(list.body, 'app', 'the role name of profile "batch", exactly');
    assert.match(list.headers['content-type'] as string, /^text\/plain/);
    assert.equal((await app.inject({ url: EXTENDED, headers })).body, 'app');

    const legacyRes = await app.inject({ url: `${CREDS}app`, headers });
    assert.equal(legacyRes.headers['cache-control'], 'no-store', 'credentials are never cached on the way');
    const legacy = legacyRes.json();
    assert.equal(legacy.Code, 'Success');
    assert.equal(legacy.Type, 'AWS-HMAC');
    assert.match(legacy.LastUpdated, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.match(legacy.Expiration, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const held = broker.profiles.get('batch')?.credentials;
    assert.ok(held);
    assert.deepEqual(
      { ...legacy, LastUpdated: undefined },
      {
        Code: 'Success',
        LastUpdated: undefined,
        Type: 'AWS-HMAC',
        AccessKeyId: held.accessKeyId,
        SecretAccessKey: held.secretAccessKey,
        Token: held.sessionToken,
        Expiration: held.expiration.toISOString().replace('.000Z', 'Z'),
        AccountId: FAKE_ACCOUNT,
        RoleArn: ROLE_ARN,
      },
      'exactly what the broker holds for profile "batch", nothing more',
    );
    // IMDS consumers refresh late: the broker is asked for credentials with at least 25 min left.
    assert.ok(broker.calls.length > 0);
    for (const call of broker.calls) {
      assert.deepEqual(
        { ...call, method: undefined },
        {
          method: undefined,
          profile: 'batch',
          minRemainingMs: IMDS_MIN_REMAINING_MS,
        },
      );
    }
    const extended = (await app.inject({ url: `${EXTENDED}app`, headers })).json();
    assert.deepEqual(extended, legacy, 'the same JSON on the extended path');

    const other = await app.inject({ url: `${CREDS}someone-else`, headers });
    assert.equal(other.statusCode, 404);
    const browser = await app.inject({ url: CREDS, headers: { ...headers, origin: 'https://evil.example' } });
    assert.equal(browser.statusCode, 403);
  });

  it('503 CREDENTIALS_UNAVAILABLE with Retry-After on both paths when nothing valid is held', async () => {
    const { app, broker } = await imdsWorld();
    const batch = broker.profiles.get('batch');
    assert.ok(batch);
    batch.error = new UnavailableError('cannot reach the provider', {
      profile: 'batch',
      retryAfterSeconds: 4,
    });
    const headers = { 'x-aws-ec2-metadata-token': await sessionToken(app) };
    for (const url of [`${CREDS}app`, `${EXTENDED}app`]) {
      const res = await app.inject({ url, headers });
      assert.equal(res.statusCode, 503, url);
      assert.deepEqual(res.json(), {
        code: 'CREDENTIALS_UNAVAILABLE',
        message: 'profile "batch": cannot reach the provider',
      });
      assert.equal(res.headers['retry-after'], '4');
    }
  });

  it('a session token stops working after its TTL', async () => {
    const { app } = await imdsWorld();
    const token = await sessionToken(app, '1');
    const headers = { 'x-aws-ec2-metadata-token': token };
    assert.equal((await app.inject({ url: CREDS, headers })).statusCode, 200);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await app.inject({ url: CREDS, headers })).statusCode, 401);
  });

  it('a flood of token PUTs from one client address does not evict a token held by another (review #17, finding 8)', async () => {
    const { app } = await imdsWorld({ maxTokens: 10 });
    const put = async (remoteAddress: string, ttl: string) => {
      const res = await app.inject({
        method: 'PUT',
        url: '/latest/api/token',
        headers: { [TTL]: ttl },
        remoteAddress,
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.body;
    };
    const fetchWith = (token: string, remoteAddress: string) =>
      app.inject({ url: CREDS, headers: { 'x-aws-ec2-metadata-token': token }, remoteAddress });
    // B's token expires soonest of all: the total bound alone would evict it first.
    const victim = await put('127.0.0.2', '60');
    const flood: string[] = [];
    for (let i = 0; i < 100; i++) flood.push(await put('127.0.0.1', '21600'));
    assert.equal(
      (await fetchWith(victim, '127.0.0.2')).statusCode,
      200,
      "the other address's token survives",
    );
    assert.equal(
      (await fetchWith(flood.at(-1) as string, '127.0.0.1')).statusCode,
      200,
      "the flooder's newest works",
    );
    assert.equal(
      (await fetchWith(flood[0] as string, '127.0.0.1')).statusCode,
      401,
      "the flooder's own oldest went: it holds at most half of imds.maxTokens",
    );
    const working = [];
    for (const t of flood) if ((await fetchWith(t, '127.0.0.1')).statusCode === 200) working.push(t);
    assert.equal(working.length, 5);
  });

  it('IMDSv1 (no token) only when imds.allowV1 is set', async () => {
    const { app } = await imdsWorld({ allowV1: true });
    const list = await app.inject({ url: CREDS });
    assert.equal(list.statusCode, 200);
    assert.equal(list.body, 'app');
    const forged = await app.inject({ url: CREDS, headers: { 'x-aws-ec2-metadata-token': 'forged' } });
    assert.equal(forged.statusCode, 401, 'a token, when sent, must still be valid');
  });
});
