// The oidc source and the STS exchange against a real OpenID Provider and the STS emulator:
// each client auth method gets credentials that the emulator's SigV4 GetCallerIdentity accepts,
// and each way it can go wrong gives a coded error that names the profile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeError, SourceError, StsError } from '../../src/errors.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

async function fetchFor(profile: Record<string, unknown>, name = 'app') {
  const { broker } = await world.broker(world.config({ [name]: profile }));
  return { broker, creds: await broker.fetchOnce(name) };
}

describe('oidc source → AssumeRoleWithWebIdentity', () => {
  it('client_secret_basic: credentials that STS recognises as the assumed role', async () => {
    const { broker, creds } = await fetchFor(world.oidcProfile());
    assert.match(creds.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.equal(creds.accountId, ACCOUNT);
    assert.equal(creds.roleArn, ROLE_ARN);
    const remaining = creds.expiration.getTime() - Date.now();
    assert.ok(remaining > 3500_000 && remaining <= 3600_000, `expected ~1 h, got ${remaining} ms`);
    const who = await broker.callerIdentity('app', creds);
    assert.equal(who.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/credential-broker-app`);
    assert.equal(world.op.tokenRequestLog().at(-1)?.authMethod, 'client_secret_basic');
  });

  it('client_secret_post', async () => {
    const { creds } = await fetchFor(
      world.oidcProfile({
        source: {
          clientAuth: { method: 'client_secret_post', clientSecret: `file:${world.dir}/client-secret` },
        },
      }),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.equal(world.op.tokenRequestLog().at(-1)?.authMethod, 'client_secret_post');
  });

  it('private_key_jwt with a PKCS#8 PEM key', async () => {
    const key = await world.file('client.pem', world.privateKeyPem);
    const { broker, creds } = await fetchFor(
      world.oidcProfile({
        source: {
          clientId: 'jwt-client',
          clientAuth: { method: 'private_key_jwt', privateKey: `file:${key}` },
        },
      }),
    );
    assert.equal(world.op.tokenRequestLog().at(-1)?.authMethod, 'private_key_jwt');
    const who = await broker.callerIdentity('app', creds);
    assert.match(who.arn, /assumed-role\/app\//);
  });

  it('private_key_jwt with a private JWK from an environment variable', async () => {
    process.env.TEST_CLIENT_JWK = JSON.stringify(world.privateJwk);
    const { creds } = await fetchFor(
      world.oidcProfile({
        source: {
          clientId: 'jwt-client',
          clientAuth: { method: 'private_key_jwt', privateKey: 'env:TEST_CLIENT_JWK' },
        },
      }),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it('session name template, duration and session policy reach STS', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    });
    const { creds } = await fetchFor(
      world.oidcProfile({ role: { sessionName: '{profile}@{sub}', durationSeconds: 900, policy } }),
      'reports',
    );
    const session = world.sts.session(creds.accessKeyId);
    assert.equal(session?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports@secret-client`);
    const remaining = creds.expiration.getTime() - Date.now();
    assert.ok(remaining <= 900_000 && remaining > 880_000, `expected 15 min, got ${remaining} ms`);
  });

  it('invalid issuer: discovery fails with a message naming the profile and the fix', async () => {
    const err = await world.failureOf(world.oidcProfile({ source: { issuer: `${world.op.issuer}/wrong` } }));
    assert.ok(err instanceof SourceError);
    assert.equal(err.code, 'OIDC_DISCOVERY_FAILED');
    assert.match(describeError(err), /^profile "app": /);
    assert.match(err.message, /source\.issuer/);
  });

  it('wrong client secret: OIDC_CLIENT_REJECTED, not retryable, secret not echoed', async () => {
    const wrong = await world.file('wrong-secret', 'not-the-secret');
    const err = await world.failureOf(
      world.oidcProfile({
        source: { clientAuth: { method: 'client_secret_basic', clientSecret: `file:${wrong}` } },
      }),
    );
    assert.equal(err.code, 'OIDC_CLIENT_REJECTED');
    assert.equal((err as SourceError).retryable, false);
    assert.match(describeError(err), /profile "app".*rejected client "secret-client"/);
    assert.doesNotMatch(err.message, /not-the-secret/);
  });

  it('missing secret file: SECRET_UNAVAILABLE naming the reference', async () => {
    const err = await world.failureOf(
      world.oidcProfile({
        source: { clientAuth: { method: 'client_secret_basic', clientSecret: 'file:/nonexistent/secret' } },
      }),
    );
    assert.equal(err.code, 'SECRET_UNAVAILABLE');
    assert.match(
      describeError(err),
      /profile "app": secret file:\/nonexistent\/secret: cannot read .* \(no such file\)/,
    );
  });

  it('JWT audience rejected by STS: STS_TOKEN_REJECTED', async () => {
    const err = await world.failureOf(world.oidcProfile({ source: { clientId: 'other-aud-client' } }));
    assert.ok(err instanceof StsError);
    assert.equal(err.code, 'STS_TOKEN_REJECTED');
    assert.equal(err.awsCode, 'InvalidIdentityToken');
    assert.match(describeError(err), /profile "app".*audience/i);
  });

  it('role not trusted: STS_ACCESS_DENIED with the trust-policy hint', async () => {
    const err = await world.failureOf(
      world.oidcProfile({ role: { arn: `arn:aws:iam::${ACCOUNT}:role/untrusted` } }),
    );
    assert.equal(err.code, 'STS_ACCESS_DENIED');
    assert.match(describeError(err), /profile "app".*trust policy/);
  });

  it('expired token: STS_TOKEN_EXPIRED, retryable (a new token may pass)', async () => {
    // An STS whose clock runs 2 h ahead sees the OP's 10-minute tokens as expired.
    const { StsEmulator } = await import('../harness/sts-emulator.ts');
    const late = await StsEmulator.start({ now: () => Date.now() + 2 * 3600_000 });
    try {
      late.registerOidcProvider({ issuer: world.op.issuer, clientIds: ['sts.amazonaws.com'] });
      late.trustRole({ roleArn: ROLE_ARN, issuer: world.op.issuer });
      const err = await world.failureOf(world.oidcProfile({ sts: { endpoint: late.url } }));
      assert.equal(err.code, 'STS_TOKEN_EXPIRED');
      assert.equal((err as StsError).retryable, true);
      assert.match(describeError(err), /profile "app".*expired.*clock/);
    } finally {
      await late.close();
    }
  });

  it('IdP down: OIDC_UNREACHABLE, retryable', async () => {
    world.op.down = true;
    try {
      const err = await world.failureOf(world.oidcProfile());
      assert.equal(err.code, 'OIDC_UNREACHABLE');
      assert.equal((err as SourceError).retryable, true);
    } finally {
      world.op.down = false;
    }
  });

  it('STS down / throttling: retryable codes', async () => {
    const { broker } = await world.broker(world.config({ app: world.oidcProfile() }));
    world.sts.faults.throttleNext(1);
    await assert.rejects(
      broker.fetchOnce('app'),
      (err: StsError) => err.code === 'STS_THROTTLED' && err.retryable,
    );
    world.sts.faults.failNext(1, 503);
    await assert.rejects(
      broker.fetchOnce('app'),
      (err: StsError) => err.code === 'STS_UNAVAILABLE' && err.retryable,
    );
    world.sts.faults.down = true;
    try {
      await assert.rejects(
        broker.fetchOnce('app'),
        (err: StsError) => err.code === 'STS_UNREACHABLE' && err.retryable,
      );
    } finally {
      world.sts.faults.down = false;
    }
    assert.match((await broker.fetchOnce('app')).accessKeyId, /^ASIA/);
  });
});
