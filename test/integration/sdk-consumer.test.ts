// The real consumer: the AWS SDK for JavaScript v3, in its own process, finds the broker through
// AWS_CONTAINER_CREDENTIALS_FULL_URI and calls GetCallerIdentity on the STS emulator, which checks
// the SigV4 signature made with the credentials the broker served.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../src/broker.ts';
import { ACCOUNT, startWorld, type World } from '../helpers/world.ts';

const run = promisify(execFile);
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sdk-consumer.ts');

let world: World;
let app: FastifyInstance;
let broker: Broker;
let base: string;

before(async () => {
  world = await startWorld();
  ({ app, broker } = await world.broker(
    world.config({
      default: world.oidcProfile(),
      reports: world.oidcProfile({ role: { sessionName: 'reports' } }),
    }),
  ));
  await broker.start();
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => world.close());

async function consume(mode: string, env: Record<string, string>) {
  const result = await run(process.execPath, ['--import', 'tsx', fixture, mode], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: world.dir,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: world.sts.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    timeout: 30_000,
  }).catch((err: { stderr: string; code: number }) => ({ stdout: '', stderr: err.stderr, failed: true }));
  return { ...result, json: result.stdout ? JSON.parse(result.stdout) : undefined };
}

describe('AWS SDK for JavaScript v3 as the consumer', () => {
  it('default chain with FULL_URI + TOKEN_FILE: GetCallerIdentity verified by the emulator', async () => {
    const before = world.sts.calls('GetCallerIdentity');
    const out = await consume('default-chain', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/reports`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(world.dir, 'token'),
    });
    assert.equal(out.stderr.trim(), '');
    assert.equal(out.json.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`);
    assert.match(out.json.accessKeyId, /^ASIA/);
    assert.ok(new Date(out.json.expiration).getTime() > Date.now() + 50 * 60_000);
    assert.equal(world.sts.calls('GetCallerIdentity'), before + 1);
  });

  it('fromHttp with the token in AWS_CONTAINER_AUTHORIZATION_TOKEN', async () => {
    const out = await consume('from-http', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: await world.token(),
    });
    assert.match(out.json.arn, /assumed-role\/app\/credential-broker-default$/);
  });

  it('fromContainerMetadata (legacy fallback; 127.0.0.1 only)', async () => {
    const out = await consume('container-meta', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: await world.token(),
    });
    assert.match(out.json.arn, /assumed-role\/app\//);
  });

  it('a wrong token fails the app with the broker’s 401 message, and no credentials', async () => {
    const bad = await world.file('bad-token', 'wrong');
    const out = await consume('from-http', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: bad,
    });
    assert.equal(out.json, undefined);
    assert.match(out.stderr, /401|TOKEN_INVALID|Authorization/);
  });
});
