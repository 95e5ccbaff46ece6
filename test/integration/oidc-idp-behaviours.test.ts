// The oidc source against what real servers do where they are stricter than oidc-provider: the
// real OP (test/harness/oidc-op.ts) behind a front (test/harness/oidc-front.ts) that checks the
// Basic encoding as a non-decoding server does, the assertion audience as Okta or Auth0 do, the
// certificate thumbprint as Entra ID does, and answers refusals as Keycloak, a Basic-challenging
// server or a WAF does. Every success is taken through STS to credentials.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK } from 'jose';
import { OidcFront } from '../harness/oidc-front.ts';
import { makeClientKeyPair, OidcOp } from '../harness/oidc-op.ts';
import { StsEmulator } from '../harness/sts-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const ROLE = `arn:aws:iam::${ACCOUNT}:role/billing-batch`;
/** Every character class RFC 6749 §2.3.1 treats differently: kept (`-._*`), space → `+`, the rest %XX. */
const SPECIAL_SECRET = "s3cr-t.v_1*~!'() +/%&=:@x";

let world: World;
let front: OidcFront;
let op: OidcOp;
let rsa: Awaited<ReturnType<typeof makeClientKeyPair>>;
let ed25519: { privatePem: string; publicJwk: object };
let certified: { keyPem: string; certPem: string; publicJwk: object };

before(async () => {
  world = await startWorld();
  front = await OidcFront.start();
  rsa = await makeClientKeyPair('RS256');
  const ed = generateKeyPairSync('ed25519');
  ed25519 = {
    privatePem: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...(await exportJWK(ed.publicKey)), alg: 'EdDSA', use: 'sig' },
  };
  const ca = await TestCa.root();
  const leaf = await ca.issue('billing-cert', { kind: 'rsa' });
  certified = {
    keyPem: leaf.keyPem,
    certPem: leaf.certPem,
    publicJwk: {
      ...(await exportJWK(createPublicKey(createPrivateKey(leaf.keyPem)))),
      alg: 'RS256',
      use: 'sig',
    },
  };
  op = await OidcOp.start({
    issuer: front.url,
    clients: [
      { clientId: 'billing-batch', clientSecret: SPECIAL_SECRET },
      { clientId: 'jwt-batch', authMethod: 'private_key_jwt', jwks: { keys: [rsa.publicJwk] } },
      { clientId: 'ed-batch', authMethod: 'private_key_jwt', jwks: { keys: [ed25519.publicJwk] } },
      { clientId: 'cert-batch', authMethod: 'private_key_jwt', jwks: { keys: [certified.publicJwk] } },
    ],
  });
  front.target = op.port;
  world.sts.registerOidcProvider({ issuer: front.url, clientIds: ['sts.amazonaws.com'] });
  world.sts.trustRole({ roleArn: ROLE, issuer: front.url, audience: 'sts.amazonaws.com' });
});
after(async () => {
  await world.close();
  await op.close();
  await front.close();
});

function reset() {
  front.strictBasic = false;
  front.errorStyle = 'oidc-provider';
  front.forbidden.clear();
  front.discovery = undefined;
  front.assertionAudience = undefined;
  front.certificates.clear();
  front.tokenRequests.length = 0;
}

async function profile(clientAuth: Record<string, unknown>, clientId = 'billing-batch', extra = {}) {
  return {
    source: { type: 'oidc', issuer: front.url, clientId, clientAuth, ...extra },
    role: { arn: ROLE },
  };
}

async function secretAuth(secret = SPECIAL_SECRET, method = 'client_secret_basic') {
  return { method, clientSecret: `file:${await world.file(`secret-${method}`, secret)}` };
}

async function credentialsFor(p: object) {
  const { broker } = await world.broker(world.config({ app: p }));
  return broker.fetchOnce('app');
}

describe('client_secret_basic: RFC 6749 §2.3.1 encoding', () => {
  it('id billing-batch and a secret with special characters pass a server that decodes strictly', async () => {
    reset();
    front.strictBasic = true;
    const creds = await credentialsFor(await profile(await secretAuth()));
    assert.match(creds.accessKeyId, /^ASIA/);
    const sent = front.tokenRequests.at(-1)!;
    assert.equal(sent.status, 200);
    const basic = Buffer.from(sent.authorization!.replace(/^Basic /, ''), 'base64').toString('utf8');
    assert.equal(basic, 'billing-batch:s3cr-t.v_1*%7E%21%27%28%29+%2B%2F%25%26%3D%3A%40x');
  });
});

describe('endpoints from discovery pass the issuer rule (issue 17, finding 3)', () => {
  it('a token_endpoint on plain http to a non-loopback address is refused before the secret is sent', async () => {
    reset();
    // 0.0.0.0 reaches this host, but the schema refuses it as an issuer: so must the broker as an endpoint.
    front.discovery = (doc) => {
      doc.token_endpoint = `http://0.0.0.0:${front.port}/token`;
    };
    const err = await world.failureOf(await profile(await secretAuth()));
    assert.equal(err.code, 'OIDC_ENDPOINT_INSECURE');
    assert.match(
      err.message,
      /token_endpoint http:\/\/0\.0\.0\.0:\d+\/token, which is neither https nor a loopback address/,
    );
    assert.equal(front.tokenRequests.length, 0, 'no token request (and no secret) may reach the endpoint');
  });
});

describe('refusals say what to fix', () => {
  it("Keycloak's 401 unauthorized_client for a wrong secret: OIDC_CLIENT_REJECTED with the secret hint", async () => {
    reset();
    front.errorStyle = 'keycloak';
    const err = await world.failureOf(await profile(await secretAuth('wrong-secret')));
    assert.equal(err.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /HTTP 401, unauthorized_client: Invalid client or Invalid client credentials/);
    assert.match(err.message, /check clientId and the client secret/);
    assert.doesNotMatch(err.message, /allow the client_credentials grant/);
    assert.doesNotMatch(err.message, /wrong-secret/);
  });

  it("a WWW-Authenticate challenge without the error keeps the body's error_description", async () => {
    reset();
    front.errorStyle = 'basic-challenge';
    const err = await world.failureOf(await profile(await secretAuth('wrong-secret')));
    assert.equal(err.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /invalid_client: client authentication failed/);
  });

  it('a 403 with an empty body names the status, the endpoint and the likely causes', async () => {
    reset();
    front.forbidden.add('billing-batch');
    const err = await world.failureOf(await profile(await secretAuth()));
    assert.equal(err.code, 'OIDC_TOKEN_ERROR');
    assert.match(err.message, new RegExp(`HTTP 403 from ${front.url}/token without an OAuth error`));
    assert.match(err.message, /firewall, IP allow-list .* or reverse proxy/);
    assert.doesNotMatch(err.message, /content-type/);
  });
});

describe('private_key_jwt as Okta, Auth0, Entra ID and RFC 8037 servers check it', () => {
  const keyAuth = async (pem: string, extra: Record<string, unknown> = {}) => ({
    method: 'private_key_jwt',
    privateKey: `file:${await world.file(`key-${Math.random().toString(36).slice(2)}.pem`, pem)}`,
    ...extra,
  });

  it('default assertion audience is the token endpoint, which a server taking only that accepts (Okta, Entra ID)', async () => {
    reset();
    front.assertionAudience = 'token_endpoint';
    const creds = await credentialsFor(await profile(await keyAuth(rsa.privatePem), 'jwt-batch'));
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.equal(front.tokenRequests.at(-1)?.status, 200);
  });

  it('assertionAudience: issuer for a server taking only the issuer (Auth0, strict Keycloak); the default is refused there', async () => {
    reset();
    front.assertionAudience = 'issuer';
    const err = await world.failureOf(await profile(await keyAuth(rsa.privatePem), 'jwt-batch'));
    assert.equal(err.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /assertionAudience/);
    const creds = await credentialsFor(
      await profile(await keyAuth(rsa.privatePem, { assertionAudience: 'issuer' }), 'jwt-batch'),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it('a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY) is accepted', async () => {
    reset();
    const pkcs1 = createPrivateKey(rsa.privatePem).export({ type: 'pkcs1', format: 'pem' }).toString();
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    const creds = await credentialsFor(await profile(await keyAuth(pkcs1), 'jwt-batch'));
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it('an Ed25519 key signs with alg EdDSA (the header says EdDSA, not Ed25519)', async () => {
    reset();
    const creds = await credentialsFor(
      await profile(await keyAuth(ed25519.privatePem, { alg: 'EdDSA' }), 'ed-batch'),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
    const assertion = front.tokenRequests.at(-1)!.params.get('client_assertion')!;
    const header = JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString('utf8'));
    assert.equal(header.alg, 'EdDSA');
  });

  it('a key that does not suit alg is named with the fix', async () => {
    reset();
    const err = await world.failureOf(
      await profile(await keyAuth(rsa.privatePem, { alg: 'ES256' }), 'jwt-batch'),
    );
    assert.equal(err.code, 'OIDC_CLIENT_KEY_INVALID');
    assert.match(err.message, /ES256 needs an EC P-256 key, but .* holds an rsa key/);
  });

  it('Entra ID certificate credential: x5t#S256 and x5t from clientAuth.certificate', async () => {
    reset();
    front.assertionAudience = 'token_endpoint';
    front.certificates.set('cert-batch', certified.certPem);
    const without = await world.failureOf(await profile(await keyAuth(certified.keyPem), 'cert-batch'));
    assert.equal(without.code, 'OIDC_CLIENT_REJECTED');
    assert.match(without.message, /AADSTS700027/);
    const certificate = `file:${await world.file('cert-batch.crt', certified.certPem)}`;
    const creds = await credentialsFor(
      await profile(await keyAuth(certified.keyPem, { certificate }), 'cert-batch'),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it('a certificate that is not the key’s is refused before any request', async () => {
    reset();
    const other = await (await TestCa.root('Other')).issue('other', { kind: 'rsa' });
    const certificate = `file:${await world.file('other.crt', other.certPem)}`;
    const err = await world.failureOf(
      await profile(await keyAuth(certified.keyPem, { certificate }), 'cert-batch'),
    );
    assert.equal(err.code, 'OIDC_CLIENT_KEY_INVALID');
    assert.match(err.message, /is not the certificate of clientAuth\.privateKey/);
    assert.equal(front.tokenRequests.length, 0);
  });
});

describe('mutual TLS at the token endpoint (RFC 8705), with the x509 certificate settings', () => {
  let mtlsOp: OidcOp;
  let mtlsSts: StsEmulator;
  let extra: Record<string, unknown>;
  let files: {
    cert: string;
    key: string;
    selfCert: string;
    selfKey: string;
    strangerCert: string;
    strangerKey: string;
    otherSubjectCert: string;
    otherSubjectKey: string;
    impostorCert: string;
    impostorKey: string;
  };

  before(async () => {
    const ca = await TestCa.root('Token endpoint mTLS CA', 'ec');
    const server = await ca.issue('localhost', { san: { type: 'dns', value: 'localhost' } });
    const client = await ca.issue('billing-batch', { kind: 'rsa' });
    const self = await (await TestCa.root('self-batch', 'ec')).issue('self-batch');
    const stranger = await (await TestCa.root('Stranger CA', 'ec')).issue('billing-batch');
    // Trusted CA, subject not the registered one; and a self-signed certificate with the right
    // name that is not in the client's JWKS (an impostor's).
    const otherSubject = await ca.issue('other-batch', { kind: 'rsa' });
    const impostor = await (await TestCa.root('self-batch', 'ec')).issue('self-batch');
    const selfJwk = {
      ...(await exportJWK(createPublicKey(createPrivateKey(self.keyPem)))),
      x5c: [new X509Certificate(self.certPem).raw.toString('base64')],
    };
    mtlsOp = await OidcOp.start({
      tls: { cert: server.certPem, key: server.keyPem },
      mtlsCa: ca.certPem,
      clients: [
        { clientId: 'billing-batch', authMethod: 'tls_client_auth', tlsSubjectDn: 'CN=billing-batch' },
        { clientId: 'self-batch', authMethod: 'self_signed_tls_client_auth', jwks: { keys: [selfJwk] } },
      ],
    });
    mtlsSts = await StsEmulator.start({ issuerCa: ca.certPem });
    mtlsSts.registerOidcProvider({ issuer: mtlsOp.issuer, clientIds: ['sts.amazonaws.com'] });
    mtlsSts.trustRole({ roleArn: ROLE, issuer: mtlsOp.issuer, audience: 'sts.amazonaws.com' });
    extra = {
      sts: { region: 'us-east-1', endpoint: mtlsSts.url, timeout: '10s' },
      network: { caFile: await world.file('mtls-ca.pem', ca.certPem, 0o644) },
    };
    files = {
      cert: await world.file('client.crt', client.certPem),
      key: await world.file('client.key', client.keyPem),
      selfCert: await world.file('self.crt', self.certPem),
      selfKey: await world.file('self.key', self.keyPem),
      strangerCert: await world.file('stranger.crt', stranger.certPem),
      strangerKey: await world.file('stranger.key', stranger.keyPem),
      otherSubjectCert: await world.file('other-subject.crt', otherSubject.certPem),
      otherSubjectKey: await world.file('other-subject.key', otherSubject.keyPem),
      impostorCert: await world.file('impostor.crt', impostor.certPem),
      impostorKey: await world.file('impostor.key', impostor.keyPem),
    };
  });
  after(async () => {
    await mtlsOp.close();
    await mtlsSts.close();
  });

  const mtlsProfile = (clientId: string, method: string, cert: string, key: string) => ({
    source: {
      type: 'oidc',
      issuer: mtlsOp.issuer,
      clientId,
      clientAuth: { method, certificateFile: cert, privateKey: `file:${key}` },
    },
    role: { arn: ROLE },
  });

  async function fetchWith(p: object) {
    const { broker } = await world.broker(world.config({ app: p }, extra));
    return broker.fetchOnce('app');
  }

  it('tls_client_auth: a CA-issued certificate with the registered subject gets credentials, no secret sent', async () => {
    const creds = await fetchWith(mtlsProfile('billing-batch', 'tls_client_auth', files.cert, files.key));
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.equal(mtlsOp.tokenRequestLog().at(-1)?.status, 200);
  });

  it('self_signed_tls_client_auth: the certificate registered in the client JWKS gets credentials', async () => {
    const creds = await fetchWith(
      mtlsProfile('self-batch', 'self_signed_tls_client_auth', files.selfCert, files.selfKey),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it('tls_client_auth with a certificate from a CA the provider does not trust: OIDC_CLIENT_REJECTED', async () => {
    let err: unknown;
    try {
      await fetchWith(mtlsProfile('billing-batch', 'tls_client_auth', files.strangerCert, files.strangerKey));
    } catch (e) {
      err = e;
    }
    assert.equal((err as { code?: string })?.code, 'OIDC_CLIENT_REJECTED');
    assert.match(
      (err as Error).message,
      /client certificate's subject .* issued by a CA the provider trusts/,
    );
  });

  /** The broker's error for a profile the provider refuses, after the provider answered. */
  async function refusal(p: object) {
    const before = mtlsOp.tokenRequestLog().length;
    let err: unknown;
    try {
      await fetchWith(p);
    } catch (e) {
      err = e;
    }
    const answered = mtlsOp.tokenRequestLog().slice(before);
    return { err: err as Error & { code?: string }, answered };
  }

  it('tls_client_auth with a trusted CA’s certificate whose subject is not the registered one: OIDC_CLIENT_REJECTED', async () => {
    const { err, answered } = await refusal(
      mtlsProfile('billing-batch', 'tls_client_auth', files.otherSubjectCert, files.otherSubjectKey),
    );
    assert.equal(err?.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /invalid_client/);
    assert.match(
      err.message,
      /client certificate's subject \(or SAN\) is the one registered with the client/,
    );
    assert.deepEqual(
      answered.map((r) => [r.status, r.error]),
      [[401, 'invalid_client']],
      'the real OP refused it',
    );
  });

  it('self_signed_tls_client_auth with a certificate not in the client’s JWKS (same name, other key): OIDC_CLIENT_REJECTED', async () => {
    const { err, answered } = await refusal(
      mtlsProfile('self-batch', 'self_signed_tls_client_auth', files.impostorCert, files.impostorKey),
    );
    assert.equal(err?.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /invalid_client/);
    assert.match(err.message, /registered JWKS holds this certificate/);
    assert.deepEqual(
      answered.map((r) => [r.status, r.error]),
      [[401, 'invalid_client']],
      'the real OP refused it',
    );
  });

  it('self_signed_tls_client_auth with the CA-issued certificate of another client: OIDC_CLIENT_REJECTED', async () => {
    const { err } = await refusal(
      mtlsProfile('self-batch', 'self_signed_tls_client_auth', files.cert, files.key),
    );
    assert.equal(err?.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /registered JWKS holds this certificate/);
  });

  it('a key that is not the certificate’s is named before any request (the x509 check)', async () => {
    const before = mtlsOp.tokenRequests();
    let err: unknown;
    try {
      await fetchWith(mtlsProfile('billing-batch', 'tls_client_auth', files.cert, files.selfKey));
    } catch (e) {
      err = e;
    }
    assert.equal((err as { code?: string })?.code, 'X509_KEY_MISMATCH');
    assert.equal(mtlsOp.tokenRequests(), before);
  });
});

describe('token-request parameters', () => {
  it('audience and extraParams lists repeat the parameter; the request still gets credentials', async () => {
    reset();
    const creds = await credentialsFor(
      await profile(await secretAuth(), 'billing-batch', {
        audience: ['sts.amazonaws.com', 'https://billing.example.com'],
        extraParams: { tenant: ['eu', 'us'], purpose: 'billing' },
      }),
    );
    assert.match(creds.accessKeyId, /^ASIA/);
    const { params } = front.tokenRequests.at(-1)!;
    assert.deepEqual(params.getAll('audience'), ['sts.amazonaws.com', 'https://billing.example.com']);
    assert.deepEqual(params.getAll('tenant'), ['eu', 'us']);
    assert.equal(params.get('purpose'), 'billing');
    assert.equal(params.get('grant_type'), 'client_credentials');
  });

  it('extraParams cannot override what the broker sends itself', async () => {
    const { ConfigSchema } = await import('../../src/config/schema/index.ts');
    const result = ConfigSchema.safeParse({
      profiles: {
        app: await profile(await secretAuth(), 'billing-batch', { extraParams: { client_id: 'other' } }),
      },
    });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /extraParams cannot set grant_type, client_id/);
  });
});

describe('RFC 8707 resource indicators at a real OP (oidc-provider)', () => {
  const RESOURCE = 'https://billing.example.com/aws';
  let resOp: OidcOp;
  let secret: Record<string, unknown>;

  before(async () => {
    resOp = await OidcOp.start({
      clients: [{ clientId: 'res-batch', clientSecret: SPECIAL_SECRET }],
      resources: [RESOURCE, 'https://reports.example.com/aws'],
    });
    // The IAM provider knows only the resource as its audience: STS takes the token only if its aud is that URI.
    world.sts.registerOidcProvider({ issuer: resOp.issuer, clientIds: [RESOURCE] });
    world.sts.trustRole({ roleArn: ROLE, issuer: resOp.issuer, audience: RESOURCE });
    secret = await secretAuth();
  });
  after(() => resOp.close());

  const resProfile = (resource?: string | string[]) => ({
    source: {
      type: 'oidc',
      issuer: resOp.issuer,
      clientId: 'res-batch',
      clientAuth: secret,
      ...(resource ? { resource } : {}),
    },
    role: { arn: ROLE },
  });

  it('source.resource is sent, and the token it gets has the resource as aud (STS accepts it as that audience)', async () => {
    const creds = await credentialsFor(resProfile(RESOURCE));
    assert.match(creds.accessKeyId, /^ASIA/);
    const sent = resOp.tokenRequestLog().at(-1)!;
    assert.equal(sent.status, 200);
    assert.equal(sent.resource, RESOURCE);
  });

  it('without source.resource the token has the default audience, which this IAM provider refuses', async () => {
    const err = await world.failureOf(resProfile());
    assert.equal(resOp.tokenRequestLog().at(-1)?.status, 200, 'the OP issued a token');
    assert.equal(err.code, 'STS_TOKEN_REJECTED');
    assert.match(err.message, /aud/i);
  });

  it('two resources, which oidc-provider refuses for client_credentials: OIDC_TOKEN_ERROR with invalid_target and the setting to check', async () => {
    const err = await world.failureOf(resProfile([RESOURCE, 'https://reports.example.com/aws']));
    assert.equal(err.code, 'OIDC_TOKEN_ERROR');
    assert.match(err.message, /invalid_target/);
    assert.match(err.message, /only a single resource indicator value is supported/);
    assert.match(err.message, /check source\.resource/);
  });

  it('a resource the OP does not know: OIDC_TOKEN_ERROR with invalid_target', async () => {
    const err = await world.failureOf(resProfile('https://unknown.example.com/aws'));
    assert.equal(err.code, 'OIDC_TOKEN_ERROR');
    assert.match(err.message, /invalid_target/);
  });
});
