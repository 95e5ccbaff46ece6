// The web-identity-file source end to end: a JWT issued by the real OpenID Provider is written
// to a file (as the kubelet writes a projected service-account token), the broker exchanges it
// at the STS emulator (which verifies it against the issuer's JWKS), and the AWS SDK uses the
// result. The file is re-read on every exchange; broken, expired or wrong-audience tokens are
// refused with a code before STS is asked.
import assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { type BrokerError, describeError } from '../../src/errors.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { ACCOUNT, CLIENT_SECRET, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

let world: World;
let tokenFile: string;

before(async () => {
  world = await startWorld();
  tokenFile = path.join(world.dir, 'sa-token');
});
after(() => world.close());

/** A JWT access token from the OP (client_credentials), like a cluster's service-account token. */
async function issueToken(clientId = 'secret-client'): Promise<string> {
  const res = await fetch(world.op.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: world.op.resource }),
  });
  const json = (await res.json()) as { access_token?: string };
  assert.ok(json.access_token, `no token: ${JSON.stringify(json)}`);
  return json.access_token;
}

/** Replaces the token file atomically, as the kubelet does (write aside, then rename). */
async function rotate(content: string): Promise<void> {
  await writeFile(`${tokenFile}.tmp`, content);
  await rename(`${tokenFile}.tmp`, tokenFile);
}

function profile(source: object = {}, role: object = {}) {
  return {
    source: { type: 'web-identity-file', tokenFile, ...source },
    role: { arn: ROLE_ARN, sessionName: 'pod-{sub}', ...role },
  };
}

describe('web-identity-file source → AssumeRoleWithWebIdentity', () => {
  it('the AWS SDK gets credentials for the token in the file; the session is named after its sub', async () => {
    await rotate(await issueToken());
    const { broker, app } = await world.broker(world.config({ pod: profile() }));
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const out = await consumeWithSdk(world, base, 'pod');
    assert.equal(out.stderr.trim(), '');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/pod-secret-client`);
  });

  it('rotation: every exchange reads the file again (garbage, expired, then a fresh token)', async () => {
    await rotate(await issueToken());
    const { broker } = await world.broker(world.config({ app: profile() }));
    const calls = () => world.sts.calls('AssumeRoleWithWebIdentity');
    const first = await broker.fetchOnce('app');
    const afterFirst = calls();

    await rotate('not a jwt');
    await assert.rejects(broker.fetchOnce('app'), { code: 'WEB_IDENTITY_TOKEN_INVALID' });

    const { privateKey } = await generateKeyPair('ES256');
    const expired = await new SignJWT({ sub: 'system:serviceaccount:ns:app' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(world.op.issuer)
      .setAudience('sts.amazonaws.com')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(privateKey);
    await rotate(expired);
    await assert.rejects(broker.fetchOnce('app'), (err: BrokerError) => {
      assert.equal(err.code, 'WEB_IDENTITY_TOKEN_EXPIRED');
      assert.equal(err.retryable, true);
      assert.match(describeError(err), /profile "app": token file .* expired at .*stopped rotating it/);
      return true;
    });
    assert.equal(calls(), afterFirst, 'broken tokens must not reach STS');

    await rotate(`${await issueToken()}\n`); // a trailing newline, as some writers leave
    const second = await broker.fetchOnce('app');
    assert.equal(calls(), afterFirst + 1);
    assert.notEqual(second.accessKeyId, first.accessKeyId);
  });

  it('expectedAudience: a token for another audience is refused before STS, saying how to fix it', async () => {
    await rotate(await issueToken('other-aud-client'));
    const calls = world.sts.calls('AssumeRoleWithWebIdentity');
    const err = await world.failureOf(profile({ expectedAudience: 'sts.amazonaws.com' }));
    assert.equal(err.code, 'WEB_IDENTITY_AUDIENCE_MISMATCH');
    assert.match(err.message, /audience "not-sts", not "sts.amazonaws.com"/);
    assert.equal(world.sts.calls('AssumeRoleWithWebIdentity'), calls);
  });

  it('without expectedAudience, STS itself rejects the wrong audience: STS_TOKEN_REJECTED', async () => {
    await rotate(await issueToken('other-aud-client'));
    const err = await world.failureOf(profile());
    assert.equal(err.code, 'STS_TOKEN_REJECTED');
  });

  it('wrapped tokens are refused before STS, naming what was found and the fix', async () => {
    const jwt = await issueToken();
    const cases: [string, RegExp][] = [
      [
        JSON.stringify({ count: 1, value: jwt }),
        /JSON object with the token in its "value" field .* jq -r \.value/,
      ],
      [`Bearer ${jwt}`, /Authorization header value \("Bearer <jwt>"\).* without the "Bearer " prefix/],
      [JSON.stringify(jwt), /JSON-quoted string.* without the quotes/],
      [`${jwt.split('.').slice(0, 2).join('.')}.`, /signature is empty \(an unsigned token/],
      ['a.b', /2 dot-separated parts where a signed JWT has 3/],
    ];
    const calls = world.sts.calls('AssumeRoleWithWebIdentity');
    for (const [content, why] of cases) {
      await rotate(content);
      const err = await world.failureOf(profile());
      assert.equal(err.code, 'WEB_IDENTITY_TOKEN_INVALID', content.slice(0, 40));
      assert.match(err.message, why);
    }
    assert.equal(world.sts.calls('AssumeRoleWithWebIdentity'), calls, 'none of them may reach STS');
  });

  it("STS_TOKEN_REJECTED's hint follows STS's reason: audience, issuer, signature, time", async () => {
    const now = Math.floor(Date.now() / 1000);
    const foreign = (await generateKeyPair('RS256')).privateKey;
    const signed = (iss: string, claims: { nbf?: number } = {}) =>
      new SignJWT({ sub: 'system:serviceaccount:ns:app', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'not-in-the-jwks' })
        .setIssuer(iss)
        .setAudience('sts.amazonaws.com')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(foreign);
    const expect = async (content: string, reason: RegExp, hint: RegExp) => {
      await rotate(content);
      const err = await world.failureOf(profile());
      assert.equal(err.code, 'STS_TOKEN_REJECTED');
      assert.match(err.message, reason);
      assert.match(err.message, hint);
    };
    await expect(
      await issueToken('other-aud-client'),
      /Incorrect token audience/,
      /aud is not one of the IAM OIDC provider's client IDs/,
    );
    await expect(
      await signed('https://unregistered.example'),
      /No OpenIDConnect provider found in your account for https:\/\/unregistered\.example/,
      /create one for it/,
    );
    await expect(
      await signed(world.op.issuer),
      /Couldn't retrieve verification key/,
      /could not verify the signature: .*jwks_uri/,
    );
    // An STS whose clock runs an hour behind sees the OP's fresh token as issued in the future,
    // as a fast issuer clock makes it.
    const { StsEmulator } = await import('../harness/sts-emulator.ts');
    const behind = await StsEmulator.start({ now: () => Date.now() - 3600_000 });
    try {
      behind.registerOidcProvider({ issuer: world.op.issuer, clientIds: ['sts.amazonaws.com'] });
      behind.trustRole({ roleArn: ROLE_ARN, issuer: world.op.issuer });
      await rotate(await issueToken());
      const err = await world.failureOf({ ...profile(), sts: { endpoint: behind.url } });
      assert.equal(err.code, 'STS_TOKEN_REJECTED');
      assert.match(err.message, /issued in the future/);
      assert.match(err.message, /ahead of STS's clock.*NTP/);
      assert.equal(err.retryable, true);
    } finally {
      await behind.close();
    }
  });

  it('a missing token file: WEB_IDENTITY_TOKEN_UNREADABLE, asking whether the volume is mounted', async () => {
    await rm(tokenFile, { force: true });
    const err = await world.failureOf(profile());
    assert.equal(err.code, 'WEB_IDENTITY_TOKEN_UNREADABLE');
    assert.match(err.message, /no such file; is the projected token volume mounted/);
  });

  it('a relative tokenFile in a config file is resolved against the config file’s folder', async () => {
    const { parseConfig } = await import('../../src/config/load.ts');
    const config = parseConfig(
      `profiles:\n  k8s:\n    source: { type: web-identity-file, tokenFile: tokens/sa }\n    role: { arn: ${ROLE_ARN} }\n`,
      '/etc/credential-broker/config.yaml',
    );
    const source = config.profiles.k8s!.source;
    assert.ok(source.type === 'web-identity-file');
    assert.equal(source.tokenFile, '/etc/credential-broker/tokens/sa');
  });
});
