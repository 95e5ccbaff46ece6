// The STS emulator, driven by the real @aws-sdk/client-sts and a real (tiny) OIDC issuer.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { XMLParser } from 'fast-xml-parser';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { StsEmulator } from '../harness/sts-emulator.ts';

// ---------------------------------------------------------------- test OIDC issuer

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
interface IssuerKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: PrivateKey;
  jwk: JWK;
}

/** Serves discovery + JWKS on 127.0.0.1 and signs tokens, counting what STS fetches. */
class TestIssuer {
  discoveryHits = 0;
  jwksHits = 0;
  private published: IssuerKey[] = [];
  private nextKid = 1;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = new TestIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => issuer.serve(req, res));
    return issuer;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body: unknown;
    if (req.url === '/.well-known/openid-configuration') {
      this.discoveryHits++;
      body = {
        issuer: this.url,
        jwks_uri: `${this.url}/jwks`,
        id_token_signing_alg_values_supported: ['ES256'],
      };
    } else if (req.url === '/jwks') {
      this.jwksHits++;
      body = { keys: this.published.map((k) => k.jwk) };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** A new signing key; unpublished keys sign tokens STS cannot verify. */
  async newKey(opts: { alg?: 'ES256' | 'RS256'; publish?: boolean; kid?: string } = {}): Promise<IssuerKey> {
    const alg = opts.alg ?? 'ES256';
    const { publicKey, privateKey } = await generateKeyPair(alg);
    const kid = opts.kid ?? `key-${this.nextKid++}`;
    const key: IssuerKey = {
      kid,
      alg,
      privateKey,
      jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    };
    if (opts.publish ?? true) this.published.push(key);
    return key;
  }

  /** Signs a token with sensible defaults; a claim set to `undefined` is left out. */
  async token(key: IssuerKey, claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const defaults: JWTPayload = {
      iss: this.url,
      sub: 'system:serviceaccount:apps:web',
      aud: 'sts.amazonaws.com',
      iat: now,
      exp: now + 600,
    };
    const payload = Object.fromEntries(
      Object.entries({ ...defaults, ...claims }).filter(([, value]) => value !== undefined),
    );
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------- helpers

const ACCOUNT = '123456789012';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const clients: STSClient[] = [];
/** A real SDK client pointed at the emulator; one attempt unless told otherwise, so faults are visible. */
function sts(emu: StsEmulator, config: Partial<STSClientConfig> = {}): STSClient {
  const client = new STSClient({ endpoint: emu.url, region: 'us-east-1', maxAttempts: 1, ...config });
  clients.push(client);
  return client;
}

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

async function webIdentity(
  emu: StsEmulator,
  input: Partial<AssumeRoleWithWebIdentityCommandInput> & { WebIdentityToken: string },
  config: Partial<STSClientConfig> = {},
) {
  return sts(emu, config).send(
    new AssumeRoleWithWebIdentityCommand({ RoleArn: role('web'), RoleSessionName: 'sess', ...input }),
  );
}

/** Assumes a role with a web identity and returns the credentials in SDK form. */
async function webIdentityCreds(emu: StsEmulator, token: string, roleArn = role('web')): Promise<Creds> {
  const out = await webIdentity(emu, { WebIdentityToken: token, RoleArn: roleArn });
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

function whoami(emu: StsEmulator, credentials: Creds, config: Partial<STSClientConfig> = {}) {
  return sts(emu, { credentials, ...config }).send(new GetCallerIdentityCommand({}));
}

function assumeRole(emu: StsEmulator, credentials: Creds, input: Partial<AssumeRoleCommandInput>) {
  return sts(emu, { credentials }).send(
    new AssumeRoleCommand({ RoleArn: '', RoleSessionName: 'chain', ...input }),
  );
}

interface SdkError {
  name: string;
  message: string;
  /** The wire `<Code>` (the SDK keeps it next to `name`). */
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

// Codes that the STS model declares get the model's exception class, so `err.name` differs
// from the wire code for them; every other code becomes `err.name` as is.
const MODELED: Record<string, string> = {
  InvalidIdentityToken: 'InvalidIdentityTokenException',
  IDPCommunicationError: 'IDPCommunicationErrorException',
  IDPRejectedClaim: 'IDPRejectedClaimException',
  MalformedPolicyDocument: 'MalformedPolicyDocumentException',
  ExpiredTokenException: 'ExpiredTokenException',
};

/** Asserts the SDK call failed with this STS error code (checking the SDK `name` too) and HTTP status. */
async function rejectsWith(
  call: Promise<unknown>,
  code: string,
  status?: number,
  message?: RegExp,
): Promise<SdkError> {
  let caught: SdkError | undefined;
  await assert.rejects(call, (err: SdkError) => {
    caught = err;
    return true;
  });
  const err = caught!;
  assert.equal(
    err.name,
    MODELED[code] ?? code,
    `expected ${code}, got ${err.name} (${err.Code}): ${err.message}`,
  );
  assert.equal(err.Code, code);
  if (status !== undefined) assert.equal(err.$metadata?.httpStatusCode, status);
  if (message) assert.match(err.message, message);
  return err;
}

const xml = new XMLParser();

/** A raw Query-protocol POST, for what the SDK cannot send. */
async function rawPost(emu: StsEmulator, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(emu.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// ---------------------------------------------------------------- tests

let issuer: TestIssuer;
let emu: StsEmulator;
let key: IssuerKey;

before(async () => {
  issuer = await TestIssuer.start();
  key = await issuer.newKey();
  emu = await StsEmulator.start();
  emu.registerOidcProvider({ issuer: issuer.url, clientIds: ['sts.amazonaws.com', 'other-client'] });
  emu.trustRole({ roleArn: role('web'), issuer: issuer.url, audience: 'sts.amazonaws.com' });
});

beforeEach(() => {
  emu.faults.reset();
  emu.resetCounters();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

after(async () => {
  await emu.close();
  await issuer.close();
});

describe('AssumeRoleWithWebIdentity', () => {
  test('issues credentials that GetCallerIdentity accepts', async () => {
    const started = Date.now();
    const out = await webIdentity(emu, { WebIdentityToken: await issuer.token(key), DurationSeconds: 1800 });
    const c = out.Credentials!;
    assert.match(c.AccessKeyId!, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(c.SecretAccessKey!.length, 40);
    assert.ok(c.SessionToken!.length > 300);
    const lifetime = c.Expiration!.getTime() - started;
    assert.ok(lifetime > 1795_000 && lifetime <= 1801_000, `lifetime ${lifetime}`);
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/web/sess`);
    assert.match(out.AssumedRoleUser!.AssumedRoleId!, /^AROA[A-Z2-7]{17}:sess$/);
    assert.equal(out.SubjectFromWebIdentityToken, 'system:serviceaccount:apps:web');
    assert.equal(out.Provider, `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.url.replace('http://', '')}`);
    assert.equal(out.Audience, 'sts.amazonaws.com');

    const me = await whoami(emu, {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    });
    assert.equal(me.Arn, out.AssumedRoleUser?.Arn);
    assert.equal(me.Account, ACCOUNT);
    assert.equal(me.UserId, out.AssumedRoleUser?.AssumedRoleId);
  });

  test('verifies RS256 tokens and accepts an aud array holding a registered client ID', async () => {
    const rsa = await issuer.newKey({ alg: 'RS256' });
    const token = await issuer.token(rsa, { aud: ['unrelated', 'sts.amazonaws.com'] });
    const out = await webIdentity(emu, { WebIdentityToken: token });
    assert.equal(out.Audience, 'sts.amazonaws.com');
  });

  test('rejects a token signed by a key the issuer does not publish', async () => {
    const impostor = await issuer.newKey({ publish: false, kid: key.kid });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: await issuer.token(impostor) }),
      'InvalidIdentityToken',
      400,
    );
  });

  test('rejects a token whose claims were altered after signing', async () => {
    const [header, , signature] = (await issuer.token(key)).split('.');
    const forged = Buffer.from(
      JSON.stringify({ iss: issuer.url, sub: 'admin', aud: 'sts.amazonaws.com', exp: 2e9 }),
    );
    const token = `${header}.${forged.toString('base64url')}.${signature}`;
    await rejectsWith(webIdentity(emu, { WebIdentityToken: token }), 'InvalidIdentityToken', 400);
  });

  test('rejects something that is not a JWT', async () => {
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: 'opaque-access-token' }),
      'InvalidIdentityToken',
      400,
      /not a valid JWT/,
    );
  });

  test('rejects an audience that is not a registered client ID', async () => {
    const token = await issuer.token(key, { aud: 'someone-else' });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token }),
      'InvalidIdentityToken',
      400,
      /^Incorrect token audience$/,
    );
  });

  test('rejects a token from an issuer with no registered provider', async () => {
    const token = await issuer.token(key, { iss: 'https://unknown.example.com' });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token }),
      'InvalidIdentityToken',
      400,
      /^No OpenIDConnect provider found in your account for https:\/\/unknown\.example\.com$/,
    );
  });

  test('rejects an expired token with ExpiredTokenException', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await issuer.token(key, { iat: now - 7200, exp: now - 3600 });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token }),
      'ExpiredTokenException',
      400,
      /^Token expired: current date\/time \d+ must be before the expiration date\/time\d+$/,
    );
  });

  test('rejects a token issued in the future or not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [
      { iat: now + 3600, exp: now + 7200 },
      { nbf: now + 3600, exp: now + 7200 },
    ]) {
      const token = await issuer.token(key, claims);
      await rejectsWith(webIdentity(emu, { WebIdentityToken: token }), 'InvalidIdentityToken', 400);
    }
  });

  test('denies a role that does not trust the token (unknown role, other issuer, other audience)', async () => {
    emu.trustRole({ roleArn: role('other-issuer'), issuer: 'https://elsewhere.example.com' });
    emu.trustRole({ roleArn: role('other-aud'), issuer: issuer.url, audience: 'other-client' });
    const token = await issuer.token(key);
    for (const name of ['no-such-role', 'other-issuer', 'other-aud']) {
      await rejectsWith(
        webIdentity(emu, { WebIdentityToken: token, RoleArn: role(name) }),
        'AccessDenied',
        403,
        /^Not authorized to perform sts:AssumeRoleWithWebIdentity$/,
      );
    }
  });

  test('applies the subject condition: exact, StringLike wildcard and RegExp', async () => {
    emu.trustRole({ roleArn: role('sub-exact'), subject: 'system:serviceaccount:apps:web' });
    emu.trustRole({ roleArn: role('sub-like'), subject: 'system:serviceaccount:apps:*' });
    emu.trustRole({ roleArn: role('sub-re'), subject: /^system:serviceaccount:(apps|jobs):web$/ });
    const web = await issuer.token(key);
    const batch = await issuer.token(key, { sub: 'system:serviceaccount:batch:web' });
    for (const name of ['sub-exact', 'sub-like', 'sub-re']) {
      await webIdentity(emu, { WebIdentityToken: web, RoleArn: role(name) });
      await rejectsWith(
        webIdentity(emu, { WebIdentityToken: batch, RoleArn: role(name) }),
        'AccessDenied',
        403,
      );
    }
  });

  test("enforces DurationSeconds bounds and the role's MaxSessionDuration", async () => {
    emu.trustRole({ roleArn: role('long'), issuer: issuer.url, maxSessionDuration: 7200 });
    const token = await issuer.token(key);
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, DurationSeconds: 899 }),
      'ValidationError',
      400,
    );
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, DurationSeconds: 7200 }),
      'ValidationError',
      400,
      /MaxSessionDuration/,
    );
    const out = await webIdentity(emu, {
      WebIdentityToken: token,
      DurationSeconds: 7200,
      RoleArn: role('long'),
    });
    assert.ok(out.Credentials!.Expiration!.getTime() - Date.now() > 7100_000);
  });

  test('validates RoleSessionName, RoleArn and session policies', async () => {
    const token = await issuer.token(key);
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, RoleSessionName: 'x' }),
      'ValidationError',
      400,
    );
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, RoleSessionName: 'has space' }),
      'ValidationError',
      400,
      /regular expression pattern/,
    );
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, RoleArn: 'arn:aws:s3:::not-a-role-at-all' }),
      'ValidationError',
      400,
      /Request ARN is invalid/,
    );
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, Policy: '{not json' }),
      'MalformedPolicyDocument',
      400,
    );
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, Policy: JSON.stringify({ pad: 'x'.repeat(2100) }) }),
      'ValidationError',
      400,
    );
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
    });
    const out = await webIdentity(emu, {
      WebIdentityToken: token,
      Policy: policy,
      PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
    });
    assert.ok(out.PackedPolicySize! > 0);
    const session = emu.session(out.Credentials!.AccessKeyId!)!;
    assert.equal(session.policy, policy);
    assert.deepEqual(session.policyArns, ['arn:aws:iam::aws:policy/ReadOnlyAccess']);
  });

  test('caches the JWKS and fetches it again once for an unknown kid (key rotation)', async () => {
    emu.clearKeyCache();
    const before = { discovery: issuer.discoveryHits, jwks: issuer.jwksHits };
    await webIdentity(emu, { WebIdentityToken: await issuer.token(key) });
    await webIdentity(emu, { WebIdentityToken: await issuer.token(key) });
    assert.equal(issuer.jwksHits - before.jwks, 1, 'second token served from cache');

    const rotated = await issuer.newKey();
    await webIdentity(emu, { WebIdentityToken: await issuer.token(rotated) });
    assert.equal(issuer.jwksHits - before.jwks, 2, 'one refetch for the new kid');

    const unpublished = await issuer.newKey({ publish: false });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: await issuer.token(unpublished) }),
      'InvalidIdentityToken',
      400,
      /Couldn't retrieve verification key/,
    );
    assert.equal(issuer.jwksHits - before.jwks, 3, 'exactly one refetch for a kid that never appears');
    assert.equal(issuer.discoveryHits - before.discovery, 3);
  });

  test('reports an unreachable issuer as IDPCommunicationError', async () => {
    const gone = await TestIssuer.start();
    const goneKey = await gone.newKey();
    const token = await gone.token(goneKey);
    await gone.close();
    emu.registerOidcProvider({ issuer: gone.url, clientIds: ['sts.amazonaws.com'] });
    emu.trustRole({ roleArn: role('gone'), issuer: gone.url });
    await rejectsWith(
      webIdentity(emu, { WebIdentityToken: token, RoleArn: role('gone') }),
      'IDPCommunicationError',
      400,
    );
  });

  test('carries the source identity and session tags claims into the session', async () => {
    const token = await issuer.token(key, {
      'https://aws.amazon.com/source_identity': 'alice',
      'https://aws.amazon.com/tags': {
        principal_tags: { team: ['payments'] },
        transitive_tag_keys: ['team'],
      },
    });
    const out = await webIdentity(emu, { WebIdentityToken: token });
    assert.equal(out.SourceIdentity, 'alice');
    assert.deepEqual(emu.session(out.Credentials!.AccessKeyId!)!.tags, [
      { key: 'team', value: 'payments', transitive: true },
    ]);
  });
});

describe('SigV4 on GetCallerIdentity', () => {
  let creds: Creds;
  before(async () => {
    creds = await webIdentityCreds(emu, await issuer.token(key));
  });

  test('a tampered secret key gives SignatureDoesNotMatch', async () => {
    const secretAccessKey = `${creds.secretAccessKey.slice(0, -1)}${creds.secretAccessKey.endsWith('A') ? 'B' : 'A'}`;
    await rejectsWith(whoami(emu, { ...creds, secretAccessKey }), 'SignatureDoesNotMatch', 403);
  });

  test('an access key the emulator never issued gives InvalidClientTokenId', async () => {
    await rejectsWith(
      whoami(emu, { ...creds, accessKeyId: 'ASIAAAAAAAAAAAAAAAAA' }),
      'InvalidClientTokenId',
      403,
      /^The security token included in the request is invalid\.$/,
    );
  });

  test('a missing or foreign session token gives InvalidClientTokenId', async () => {
    await rejectsWith(whoami(emu, { ...creds, sessionToken: undefined }), 'InvalidClientTokenId', 403);
    const other = await webIdentityCreds(emu, await issuer.token(key));
    await rejectsWith(
      whoami(emu, { ...creds, sessionToken: other.sessionToken }),
      'InvalidClientTokenId',
      403,
    );
  });

  test('an unsigned request gives MissingAuthenticationToken', async () => {
    const res = await rawPost(emu, 'Action=GetCallerIdentity&Version=2011-06-15');
    assert.equal(res.status, 403);
    assert.equal(xml.parse(res.text).ErrorResponse.Error.Code, 'MissingAuthenticationToken');
  });

  test('a request signed by @smithy/signature-v4 with a query string verifies; a changed query does not', async () => {
    const endpoint = new URL(emu.url);
    const signer = new SignatureV4({
      service: 'sts',
      region: 'eu-west-1',
      credentials: creds,
      sha256: Sha256,
    });
    const query = { Action: 'GetCallerIdentity', Version: '2011-06-15', Extra: "a b+c!*'()~" };
    const signed = await signer.sign({
      method: 'GET',
      protocol: 'http:',
      hostname: endpoint.hostname,
      port: Number(endpoint.port),
      path: '/',
      query,
      headers: { host: endpoint.host },
    });
    const headers = signed.headers as Record<string, string>;
    const ok = await fetch(`${emu.url}/?${new URLSearchParams(query)}`, { headers });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.match(await ok.text(), /<Arn>arn:aws:sts::123456789012:assumed-role\/web\/sess<\/Arn>/);

    const changed = await fetch(`${emu.url}/?${new URLSearchParams({ ...query, Extra: 'other' })}`, {
      headers,
    });
    assert.equal(changed.status, 403);
    assert.equal(xml.parse(await changed.text()).ErrorResponse.Error.Code, 'SignatureDoesNotMatch');
  });
});

describe('credential lifetime and clock', () => {
  test('expired session credentials give ExpiredToken', async () => {
    let clock = Date.now();
    const timed = await StsEmulator.start({ now: () => clock });
    try {
      timed.registerOidcProvider({ issuer: issuer.url, clientIds: ['sts.amazonaws.com'] });
      timed.trustRole({ roleArn: role('web'), issuer: issuer.url });
      const creds = await webIdentityCreds(timed, await issuer.token(key));
      clock += 3601_000;
      await rejectsWith(
        whoami(timed, creds),
        'ExpiredToken',
        403,
        /^The security token included in the request is expired$/,
      );
    } finally {
      await timed.close();
    }
  });

  test('a request signed more than 15 minutes off is rejected; the SDK corrects its clock and retries', async () => {
    const skewed = await StsEmulator.start({ now: () => Date.now() + 20 * 60_000 });
    try {
      skewed.registerOidcProvider({ issuer: issuer.url, clientIds: ['sts.amazonaws.com'] });
      skewed.trustRole({ roleArn: role('web'), issuer: issuer.url });
      const now = Math.floor(Date.now() / 1000);
      const creds = await webIdentityCreds(skewed, await issuer.token(key, { exp: now + 3600 }));
      await rejectsWith(whoami(skewed, creds), 'SignatureDoesNotMatch', 403, /^Signature expired: /);
      // The real SDK reads the Date header, corrects its offset and retries: accepted.
      const me = await whoami(skewed, creds, { maxAttempts: 2 });
      assert.equal(me.Account, ACCOUNT);
    } finally {
      await skewed.close();
    }
  });
});

describe('AssumeRole (role chaining)', () => {
  let webCreds: Creds;
  before(async () => {
    emu.trustRole({
      roleArn: role('target'),
      principals: [role('web')],
      externalId: 'ext-1234',
      maxSessionDuration: 7200,
    });
    emu.trustRole({
      roleArn: role('users-only'),
      principals: [`arn:aws:iam::${ACCOUNT}:user/ci`],
      maxSessionDuration: 7200,
    });
    webCreds = await webIdentityCreds(emu, await issuer.token(key));
  });

  test('chains from a web identity session to a role that trusts it', async () => {
    const out = await assumeRole(emu, webCreds, {
      RoleArn: role('target'),
      ExternalId: 'ext-1234',
      DurationSeconds: 900,
      SourceIdentity: 'alice',
      Tags: [
        { Key: 'project', Value: 'broker' },
        { Key: 'cost-center', Value: '42' },
      ],
      TransitiveTagKeys: ['project'],
    });
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/target/chain`);
    assert.equal(out.SourceIdentity, 'alice');
    const chained = out.Credentials!;
    const me = await whoami(emu, {
      accessKeyId: chained.AccessKeyId!,
      secretAccessKey: chained.SecretAccessKey!,
      sessionToken: chained.SessionToken!,
    });
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/target/chain`);
    const session = emu.session(chained.AccessKeyId!)!;
    assert.equal(session.via, 'AssumeRole');
    assert.deepEqual(
      session.tags.map((t) => `${t.key}=${t.value}${t.transitive ? '*' : ''}`),
      ['project=broker*', 'cost-center=42'],
    );
  });

  test('caps a chained session at one hour', async () => {
    await rejectsWith(
      assumeRole(emu, webCreds, { RoleArn: role('target'), ExternalId: 'ext-1234', DurationSeconds: 7200 }),
      'ValidationError',
      400,
      /role chaining/,
    );
  });

  test('denies a wrong ExternalId and an untrusted caller', async () => {
    await rejectsWith(
      assumeRole(emu, webCreds, { RoleArn: role('target'), ExternalId: 'wrong-id' }),
      'AccessDenied',
      403,
      /is not authorized to perform: sts:AssumeRole on resource/,
    );
    await rejectsWith(assumeRole(emu, webCreds, { RoleArn: role('users-only') }), 'AccessDenied', 403);
  });

  test('an IAM user with long-term keys may assume up to the role maximum', async () => {
    const user = emu.createUser('ci');
    const creds = { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey };
    assert.equal((await whoami(emu, creds)).Arn, user.arn);
    const out = await assumeRole(emu, creds, { RoleArn: role('users-only'), DurationSeconds: 7200 });
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/users-only/chain`);
  });

  test('an unsigned AssumeRole is refused', async () => {
    const body = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(role('target'))}&RoleSessionName=x1`;
    const res = await rawPost(emu, body);
    assert.equal(res.status, 403);
    assert.equal(xml.parse(res.text).ErrorResponse.Error.Code, 'MissingAuthenticationToken');
  });
});

describe('fault knobs and counters', () => {
  test('throttleNext answers Throttling, then recovers', async () => {
    emu.faults.throttleNext(1);
    const token = await issuer.token(key);
    await rejectsWith(webIdentity(emu, { WebIdentityToken: token }), 'Throttling', 400, /^Rate exceeded$/);
    await webIdentity(emu, { WebIdentityToken: token });
  });

  test('failNext answers InternalFailure (500) or ServiceUnavailable (503)', async () => {
    emu.faults.failNext(1);
    emu.faults.failNext(1, 503);
    const token = await issuer.token(key);
    await rejectsWith(webIdentity(emu, { WebIdentityToken: token }), 'InternalFailure', 500);
    await rejectsWith(webIdentity(emu, { WebIdentityToken: token }), 'ServiceUnavailable', 503);
    await webIdentity(emu, { WebIdentityToken: token });
  });

  test('the SDK retries through queued faults, and every attempt is counted', async () => {
    emu.faults.failNext(2);
    await webIdentity(emu, { WebIdentityToken: await issuer.token(key) }, { maxAttempts: 3 });
    assert.equal(emu.calls('AssumeRoleWithWebIdentity'), 3);
  });

  test('down resets connections without a response, and recovers', async () => {
    const token = await issuer.token(key);
    emu.faults.down = true;
    await assert.rejects(webIdentity(emu, { WebIdentityToken: token }), (err: SdkError) => {
      // The SDK's node handler reports a reset connection as a (retryable) TimeoutError.
      assert.equal(err.name, 'TimeoutError');
      assert.equal(err.code, 'ECONNRESET');
      return true;
    });
    assert.equal(emu.calls(), 0, 'a reset connection never reached the emulator');
    emu.faults.down = false;
    await webIdentity(emu, { WebIdentityToken: token });
  });

  test('delayMs holds each response back', async () => {
    emu.faults.delayMs = 200;
    const token = await issuer.token(key);
    const started = performance.now();
    await webIdentity(emu, { WebIdentityToken: token });
    assert.ok(performance.now() - started >= 190);
  });

  test('counters count per Action including failures, and reset', async () => {
    const token = await issuer.token(key);
    await webIdentity(emu, { WebIdentityToken: token });
    await rejectsWith(webIdentity(emu, { WebIdentityToken: 'nope' }), 'InvalidIdentityToken');
    emu.faults.throttleNext(1);
    await rejectsWith(
      whoami(emu, { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x' }),
      'Throttling',
    );
    assert.equal(emu.calls('AssumeRoleWithWebIdentity'), 2);
    assert.equal(emu.calls('GetCallerIdentity'), 1);
    assert.equal(emu.calls('AssumeRole'), 0);
    assert.equal(emu.calls(), 3);
    emu.resetCounters();
    assert.equal(emu.calls(), 0);
  });
});

describe('wire protocol', () => {
  test('errors are AWS ErrorResponse XML with a request ID that matches the header', async () => {
    const res = await rawPost(
      emu,
      `Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=${encodeURIComponent(role('web'))}&RoleSessionName=s1&WebIdentityToken=abcd`,
    );
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'text/xml');
    assert.match(res.text, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    const parsed = xml.parse(res.text).ErrorResponse;
    assert.deepEqual(Object.keys(parsed.Error), ['Type', 'Code', 'Message']);
    assert.equal(parsed.Error.Type, 'Sender');
    assert.equal(parsed.Error.Code, 'InvalidIdentityToken');
    assert.equal(parsed.RequestId, res.headers.get('x-amzn-requestid'));
  });

  test('AssumeRoleWithWebIdentity also works as a GET query', async () => {
    const query = new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: role('web'),
      RoleSessionName: 'via-get',
      WebIdentityToken: await issuer.token(key),
    });
    const res = await fetch(`${emu.url}/?${query}`);
    const result = xml.parse(await res.text()).AssumeRoleWithWebIdentityResponse
      .AssumeRoleWithWebIdentityResult;
    assert.equal(res.status, 200);
    assert.equal(result.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/web/via-get`);
    assert.match(result.Credentials.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('unknown action, wrong version, missing action and oversized bodies are rejected', async () => {
    const code = async (body: string) => {
      const res = await rawPost(emu, body);
      return `${res.status} ${xml.parse(res.text).ErrorResponse.Error.Code}`;
    };
    assert.equal(await code('Action=DeleteEverything&Version=2011-06-15'), '400 InvalidAction');
    assert.equal(await code('Action=GetCallerIdentity&Version=2010-01-01'), '400 InvalidAction');
    assert.equal(await code('Action=GetSessionToken&Version=2011-06-15'), '400 InvalidAction');
    assert.equal(await code('Version=2011-06-15'), '400 MissingAction');
    assert.equal(await code('Action=GetCallerIdentity'), '400 MissingParameter');
    assert.equal(
      await code(`Action=GetCallerIdentity&Version=2011-06-15&Pad=${'x'.repeat(70_000)}`),
      '413 RequestEntityTooLarge',
    );
    assert.equal(emu.calls('DeleteEverything'), 1);
  });

  test('an https-only emulator refuses to register an http issuer', async () => {
    const strict = await StsEmulator.start({ allowInsecureIssuer: false });
    try {
      assert.throws(() => strict.registerOidcProvider({ issuer: issuer.url, clientIds: ['x'] }), /https/);
    } finally {
      await strict.close();
    }
  });
});
