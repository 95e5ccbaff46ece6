import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { makeClientKeyPair, OidcOp } from '../harness/oidc-op.ts';

type ClientAuth = ReturnType<typeof client.ClientSecretBasic>;

const SECRET = 'p@ss:w/rd+ %&=~'; // exercises form-urlencoding inside Basic auth
const TTL = 900;

async function config(op: OidcOp, clientId: string, auth: ClientAuth) {
  return client.discovery(new URL(op.issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
}

async function grant(op: OidcOp, clientId: string, auth: ClientAuth, params: Record<string, string> = {}) {
  return client.clientCredentialsGrant(await config(op, clientId, auth), params);
}

/**
 * The OAuth error code from an openid-client failure. With
 * client_secret_basic a 401 carries `WWW-Authenticate: Basic error=...`, and
 * openid-client then throws WWWAuthenticateChallengeError instead of
 * ResponseBodyError.
 */
function oauthError(err: unknown): string | undefined {
  if (err instanceof client.ResponseBodyError) return err.error;
  if (err instanceof client.WWWAuthenticateChallengeError) {
    return err.cause.map((c) => c.parameters.error).find((e) => e !== undefined);
  }
  return undefined;
}

async function rejectsWith(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(oauthError(err), code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

describe('OidcOp (oidc-provider machine-to-machine OP)', () => {
  let op: OidcOp;
  let rsa: Awaited<ReturnType<typeof makeClientKeyPair>>;
  let ec: Awaited<ReturnType<typeof makeClientKeyPair>>;
  let stranger: Awaited<ReturnType<typeof makeClientKeyPair>>;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    [rsa, ec, stranger] = await Promise.all([
      makeClientKeyPair('RS256'),
      makeClientKeyPair('ES256'),
      makeClientKeyPair('RS256'),
    ]);
    op = await OidcOp.start({
      accessTokenTtl: TTL,
      clients: [
        { clientId: 'app-basic', clientSecret: SECRET, scopes: ['aws'] },
        { clientId: 'app-post', clientSecret: 'post-secret', authMethod: 'client_secret_post' },
        { clientId: 'app-rsa', jwks: { keys: [rsa.publicJwk] } },
        { clientId: 'app-ec', jwks: { keys: [ec.publicJwk] }, authMethod: 'private_key_jwt' },
        { clientId: 'app-other-aud', clientSecret: 's3', audience: 'not-sts' },
      ],
    });
    const meta = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    jwks = createRemoteJWKSet(new URL(String(meta.jwks_uri)));
  });

  after(async () => {
    await op.close();
  });

  async function assertAccessToken(token: string, clientId: string, audience = 'sts.amazonaws.com') {
    assert.equal(decodeProtectedHeader(token).typ, 'JWT');
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: op.issuer,
      audience,
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.ok(protectedHeader.kid);
    assert.equal(payload.sub, clientId);
    assert.equal(payload.client_id, clientId);
    assert.equal(payload.iss, op.issuer);
    assert.equal(payload.aud, audience);
    assert.equal(typeof payload.exp, 'number');
    assert.equal(typeof payload.iat, 'number');
    assert.equal((payload.exp as number) - (payload.iat as number), TTL);
    assert.ok(Math.abs((payload.exp as number) - (Date.now() / 1000 + TTL)) < 10);
    return payload;
  }

  test('discovery document describes a loopback http issuer', async () => {
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = (await (await fetch(op.discoveryUrl)).json()) as Record<string, unknown>;
    assert.equal(meta.issuer, op.issuer);
    assert.equal(meta.token_endpoint, op.tokenEndpoint);
    assert.equal(meta.jwks_uri, op.jwksUri);
    assert.deepEqual(meta.grant_types_supported, ['client_credentials']);
    for (const m of ['client_secret_basic', 'client_secret_post', 'private_key_jwt']) {
      assert.ok((meta.token_endpoint_auth_methods_supported as string[]).includes(m), m);
    }
    const keys = (await (await fetch(op.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(keys.keys.length, 1);
    assert.equal(keys.keys[0]?.kty, 'RSA');
    assert.equal(keys.keys[0]?.d, undefined, 'no private parts in the JWKS');
  });

  test('client_secret_basic gets a JWT access token (scope echoed, sub = client_id)', async () => {
    const res = await grant(op, 'app-basic', client.ClientSecretBasic(SECRET), { scope: 'aws' });
    assert.equal(res.token_type.toLowerCase(), 'bearer');
    assert.equal(res.expires_in, TTL);
    assert.equal(res.scope, 'aws');
    const payload = await assertAccessToken(res.access_token, 'app-basic');
    assert.equal(payload.scope, 'aws');
  });

  test('client_secret_post works for a basic-registered client and for a post-registered one', async () => {
    const a = await grant(op, 'app-basic', client.ClientSecretPost(SECRET), { scope: 'aws' });
    await assertAccessToken(a.access_token, 'app-basic');
    const b = await grant(op, 'app-post', client.ClientSecretPost('post-secret'));
    await assertAccessToken(b.access_token, 'app-post');
    const c = await grant(op, 'app-post', client.ClientSecretBasic('post-secret'));
    await assertAccessToken(c.access_token, 'app-post');
  });

  test('private_key_jwt with RS256 and ES256 keys; explicit resource also works', async () => {
    const r = await grant(op, 'app-rsa', client.PrivateKeyJwt({ key: rsa.privateKey, kid: rsa.kid }));
    await assertAccessToken(r.access_token, 'app-rsa');
    const e = await grant(op, 'app-ec', client.PrivateKeyJwt(ec.privateKey), { resource: op.resource });
    await assertAccessToken(e.access_token, 'app-ec');
  });

  test('per-client audience override', async () => {
    const res = await grant(op, 'app-other-aud', client.ClientSecretBasic('s3'));
    await assertAccessToken(res.access_token, 'app-other-aud', 'not-sts');
  });

  test('wrong secret -> invalid_client (basic and post)', async () => {
    await rejectsWith(grant(op, 'app-basic', client.ClientSecretBasic('nope')), 'invalid_client');
    await rejectsWith(grant(op, 'app-basic', client.ClientSecretPost('nope')), 'invalid_client');
  });

  test('unknown client -> invalid_client', async () => {
    await rejectsWith(grant(op, 'nobody', client.ClientSecretBasic('x')), 'invalid_client');
    await rejectsWith(grant(op, 'nobody', client.ClientSecretPost('x')), 'invalid_client');
    await rejectsWith(grant(op, 'nobody', client.PrivateKeyJwt(stranger.privateKey)), 'invalid_client');
  });

  test('private_key_jwt signed with a wrong key -> invalid_client', async () => {
    await rejectsWith(grant(op, 'app-rsa', client.PrivateKeyJwt(stranger.privateKey)), 'invalid_client');
    // even when it claims the registered kid
    await rejectsWith(
      grant(op, 'app-rsa', client.PrivateKeyJwt({ key: stranger.privateKey, kid: rsa.kid })),
      'invalid_client',
    );
    // ES256 client presenting an RS256 assertion: alg mismatch
    await rejectsWith(grant(op, 'app-ec', client.PrivateKeyJwt(rsa.privateKey)), 'invalid_client');
  });

  test('scope outside the allowed list -> invalid_scope; unknown resource -> invalid_target', async () => {
    await rejectsWith(
      grant(op, 'app-basic', client.ClientSecretBasic(SECRET), { scope: 'admin' }),
      'invalid_scope',
    );
    await rejectsWith(
      grant(op, 'app-basic', client.ClientSecretBasic(SECRET), { resource: 'https://elsewhere.example' }),
      'invalid_target',
    );
    await rejectsWith(
      grant(op, 'app-basic', client.ClientSecretBasic(SECRET), { resource: 'sts.amazonaws.com' }),
      'invalid_target',
    );
  });

  test('down destroys every request; tokenRequests counts all attempts', async () => {
    const cfg = await config(op, 'app-basic', client.ClientSecretBasic(SECRET));
    op.resetCounters();
    op.down = true;
    try {
      await assert.rejects(client.clientCredentialsGrant(cfg, { scope: 'aws' }), TypeError); // fetch failed
      await assert.rejects(fetch(op.discoveryUrl), TypeError);
      await assert.rejects(config(op, 'app-basic', client.ClientSecretBasic(SECRET)));
    } finally {
      op.down = false;
    }
    assert.equal(op.tokenRequests(), 1);
    await client.clientCredentialsGrant(cfg, { scope: 'aws' });
    await rejectsWith(
      client.clientCredentialsGrant(await config(op, 'app-basic', client.ClientSecretPost('bad'))),
      'invalid_client',
    );
    assert.equal(op.tokenRequests(), 3);
    assert.equal(op.tokensIssued(), 1);
    assert.deepEqual(
      op.tokenRequestLog().map((r) => [r.status, r.authMethod, r.error]),
      [
        [0, 'client_secret_basic', undefined],
        [200, 'client_secret_basic', undefined],
        [401, 'client_secret_post', 'invalid_client'],
      ],
    );
    assert.equal(op.tokenRequestLog()[1]?.clientId, 'app-basic');
    assert.equal(op.tokenRequestLog()[1]?.resource, 'urn:aws:sts');
    assert.deepEqual(op.serverErrors, []);
  });

  test('defaults: audience sts.amazonaws.com, ttl 600; close() releases the port', async () => {
    const other = await OidcOp.start({ clients: [{ clientId: 'c', clientSecret: 'd' }] });
    const res = await grant(other, 'c', client.ClientSecretBasic('d'));
    assert.equal(res.expires_in, 600);
    const remote = createRemoteJWKSet(new URL(other.jwksUri));
    const { payload } = await jwtVerify(res.access_token, remote, {
      issuer: other.issuer,
      audience: 'sts.amazonaws.com',
    });
    assert.equal((payload.exp as number) - (payload.iat as number), 600);
    // a token from one OP does not verify against another OP's keys
    await assert.rejects(jwtVerify(res.access_token, jwks));
    await other.close();
    await other.close(); // idempotent
    await assert.rejects(fetch(other.discoveryUrl), TypeError);
  });

  test('start() validates client specs', async () => {
    await assert.rejects(
      OidcOp.start({ clients: [{ clientId: 'x' }] }),
      /exactly one of clientSecret or jwks/,
    );
    await assert.rejects(
      OidcOp.start({ clients: [{ clientId: 'x', clientSecret: 'y', authMethod: 'private_key_jwt' }] }),
      /does not fit/,
    );
    await assert.rejects(
      OidcOp.start({ clients: [{ clientId: 'x', clientSecret: 'sécret' }] }),
      /printable ASCII/,
    );
  });

  test('makeClientKeyPair returns matching keys with kid/alg', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const kp = await makeClientKeyPair(alg);
      assert.equal(kp.publicJwk.alg, alg);
      assert.equal(kp.privateJwk.kid, kp.publicJwk.kid);
      assert.equal(kp.publicJwk.kid, kp.kid);
      assert.equal(kp.publicJwk.d, undefined);
      assert.ok(kp.privateJwk.d);
      assert.match(kp.privatePem, /^-----BEGIN PRIVATE KEY-----/);
    }
  });
});
