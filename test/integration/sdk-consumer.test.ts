// The real consumer: the AWS SDK for JavaScript v3, in its own process, finds the broker through
// AWS_CONTAINER_CREDENTIALS_FULL_URI and calls GetCallerIdentity on the STS emulator, which checks
// the SigV4 signature made with the credentials the broker served.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../src/broker.ts';
import { consume as consumeWith } from '../harness/consumer.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

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
      payments: world.oidcProfile({
        role: { sessionName: 'payments' },
        tokenFile: path.join(world.dir, 'payments.token'),
      }),
    }),
  ));
  await broker.start();
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => world.close());

const consume = (mode: string, env: Record<string, string>) => consumeWith(world, mode, env);

describe('AWS SDK for JavaScript v3 as the consumer', () => {
  it('default chain with FULL_URI + TOKEN_FILE: GetCallerIdentity verified by the emulator', async () => {
    const before = world.sts.calls('GetCallerIdentity');
    const out = await consume('default-chain', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/reports`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(world.dir, 'token'),
    });
    assert.equal(out.stderr.trim(), '');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`);
    assert.match(out.json?.accessKeyId, /^ASIA/);
    assert.ok(new Date(out.json?.expiration).getTime() > Date.now() + 50 * 60_000);
    assert.equal(world.sts.calls('GetCallerIdentity'), before + 1);
  });

  it('fromHttp with the token in AWS_CONTAINER_AUTHORIZATION_TOKEN', async () => {
    const out = await consume('from-http', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: await world.token(),
    });
    assert.match(out.json?.arn ?? '', /assumed-role\/app\/credential-broker-default$/);
  });

  it('fromContainerMetadata (legacy fallback; 127.0.0.1 only)', async () => {
    const out = await consume('container-meta', {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: await world.token(),
    });
    assert.match(out.json?.arn ?? '', /assumed-role\/app\//);
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

  it('fromHttp + a profile’s own TOKEN_FILE; a rotated token is honoured, the old one refused', async () => {
    const file = path.join(world.dir, 'payments.token');
    const env = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/payments`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file,
    };
    const first = await consume('from-http', env);
    assert.match(first.json?.arn ?? '', /assumed-role\/app\/payments$/);
    const old = await readFile(file, 'utf8');
    // rotation as an operator does it: a new file renamed over the old one, no restart
    await writeFile(`${file}.new`, randomBytes(32).toString('base64url'), { mode: 0o600 });
    await rename(`${file}.new`, file);
    await new Promise((r) => setTimeout(r, 1100)); // the broker re-reads token files at most once a second
    const second = await consume('from-http', env);
    assert.match(second.json?.arn ?? '', /assumed-role\/app\/payments$/, second.stderr);
    const stale = await fetch(`${base}/v1/credentials/payments`, { headers: { authorization: old } });
    assert.equal(stale.status, 401);
  });

  it('another profile’s token (403) and no token (401) fail the app with the broker’s code', async () => {
    const [otherProfile, missing] = await Promise.all([
      consume('from-http', {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/payments`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(world.dir, 'token'),
      }),
      consume('from-http', { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/reports` }),
    ]);
    assert.equal(otherProfile.json, undefined);
    assert.match(otherProfile.stderr, /TOKEN_NOT_FOR_PROFILE|403/);
    assert.equal(missing.json, undefined);
    assert.match(missing.stderr, /TOKEN_MISSING|401/);
  });
});
