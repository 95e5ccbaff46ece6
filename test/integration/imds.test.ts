// The IMDSv2 listener end to end: what the real broker got from the OP and STS served on both
// credential paths, then the real consumer, the JS SDK's instance-metadata provider pointed at the
// listener with AWS_EC2_METADATA_SERVICE_ENDPOINT, calling GetCallerIdentity with what it got. The
// token dance and the rest of what the listener alone decides: test/unit/imds-http.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { ImdsConfig } from '../../src/config/schema/index.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { IMDS_MIN_REMAINING_MS } from '../../src/server/imds-routes.ts';
import { consume } from '../harness/consumer.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

let world: World;
const imdsApps: FastifyInstance[] = [];
before(async () => {
  world = await startWorld();
});
after(async () => {
  for (const a of imdsApps) await a.close();
  await world.close();
});

const TTL = 'x-aws-ec2-metadata-token-ttl-seconds';
const CREDS = '/latest/meta-data/iam/security-credentials/';
const EXTENDED = '/latest/meta-data/iam/security-credentials-extended/';

async function imdsWorld(imds: Record<string, unknown> = {}) {
  const config = world.config(
    { default: world.oidcProfile(), batch: world.oidcProfile() },
    { imds: { listen: '127.0.0.1:0', profile: 'batch', ...imds } as ImdsConfig },
  );
  const { broker, logger, metrics } = await world.broker(config);
  await broker.start();
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

describe('IMDSv2 listener with the real broker', () => {
  it('serves on both paths what STS issued for the profile, with at least 25 minutes left', async () => {
    const { app } = await imdsWorld();
    const headers = { 'x-aws-ec2-metadata-token': await sessionToken(app) };
    assert.equal((await app.inject({ url: CREDS, headers })).body, 'app');
    const legacy = (await app.inject({ url: `${CREDS}app`, headers })).json();
    assert.equal(legacy.Code, 'Success');
    assert.match(legacy.AccessKeyId, /^ASIA/);
    assert.equal(legacy.AccountId, ACCOUNT);
    assert.ok(new Date(legacy.Expiration).getTime() - Date.now() > IMDS_MIN_REMAINING_MS);
    assert.ok(world.sts.session(legacy.AccessKeyId), 'STS issued what IMDS served');
    assert.deepEqual((await app.inject({ url: `${EXTENDED}app`, headers })).json(), legacy);
  });

  it('the JS SDK instance-metadata provider gets working credentials from the listener', async () => {
    const { app } = await imdsWorld();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const before = world.sts.calls('GetCallerIdentity');
    const out = await consume(world, 'instance-meta', { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${address}/` });
    assert.equal(out.stderr.trim(), '');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/credential-broker-batch`);
    assert.equal(world.sts.calls('GetCallerIdentity'), before + 1);
  });
});
