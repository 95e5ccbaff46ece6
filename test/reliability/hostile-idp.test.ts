// Hostile or broken OIDC providers: what the `oidc` source does when the issuer streams tens of
// megabytes, redirects in a loop, answers garbage, or publishes an absurd JWKS. The provider here
// is a plain node:http server on loopback (oidc-provider would refuse to misbehave); the broker
// side is the real one, built from config by the test world. SAML's XML bombs are covered by
// test/integration/saml-hostile.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { type BrokerError, describeError } from '../../src/errors.ts';
import { OIDC_MAX_RESPONSE_BYTES } from '../../src/sources/oidc.ts';
import { listenOnLoopback } from '../harness/listen.ts';
import { CLIENT_SECRET, startWorld, type World } from '../harness/world.ts';

const MiB = 1024 * 1024;
/** What a broken issuer streams at us: far above the cap, and above the RSS bound below. */
const HUGE = 64 * MiB;
/** RSS may grow this much while the provider streams HUGE bytes (node's own churn included). */
const RSS_BOUND = 32 * MiB;
const PROFILE = 'hostile';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** An OIDC provider whose every endpoint can be swapped for a misbehaving one. */
class HostileIdp {
  readonly url: string;
  readonly hits = new Map<string, number>();
  /** Bytes the last streaming handler managed to write before the broker hung up. */
  streamed = 0;
  handlers: Record<string, Handler> = {};

  static async start(): Promise<HostileIdp> {
    const server = http.createServer();
    await listenOnLoopback(server);
    return new HostileIdp(server);
  }

  private constructor(private readonly server: http.Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const handler = this.handlers[path] ?? this.defaults()[path];
      if (!handler) return void res.writeHead(404).end();
      Promise.resolve(handler(req, res)).catch(() => res.destroy());
    });
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  reset(): void {
    this.handlers = {};
    this.hits.clear();
    this.streamed = 0;
  }

  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.url,
      token_endpoint: `${this.url}/token`,
      jwks_uri: `${this.url}/jwks`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    };
  }

  private defaults(): Record<string, Handler> {
    return {
      '/.well-known/openid-configuration': (_req, res) => json(res, this.discoveryDocument()),
      '/token': async (req, res) => {
        for await (const _ of req);
        json(res, { access_token: await jwtFor(this.url), token_type: 'Bearer', expires_in: 600 });
      },
    };
  }

  /** A handler streaming `total` bytes of a JSON document that never ends, as fast as the peer reads. */
  streaming(prefix: string, total: number, declareLength = false): Handler {
    return async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(declareLength ? { 'content-length': String(total) } : {}),
      });
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      res.write(prefix);
      this.streamed = prefix.length;
      while (!closed && this.streamed < total) {
        this.streamed += chunk.length;
        if (!res.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done).off('close', done);
              resolve();
            };
            res.on('drain', done).on('close', done);
          });
        }
      }
      res.end();
    };
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }
}

function json(res: http.ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
function jwtFor(issuer: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k0' })
    .setIssuer(issuer)
    .setAudience('sts.amazonaws.com')
    .setSubject('secret-client')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(signingKey);
}

/** Runs `fn` while sampling RSS every few ms; returns its result and the peak growth. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(sampler);
  }
}

let world: World;
let idp: HostileIdp;
before(async () => {
  world = await startWorld();
  idp = await HostileIdp.start();
});
after(async () => {
  await idp.close();
  await world.close();
});

function profile(): Record<string, unknown> {
  return world.oidcProfile({ source: { issuer: idp.url, timeout: '5s' } });
}

/** The error of one fetch for the hostile profile, checked for what every such error must be, and
 * the peak RSS growth during that fetch (the broker is built before the baseline is taken). */
async function failure(): Promise<BrokerError & { rssGrowth: number }> {
  const { broker } = await world.broker(world.config({ [PROFILE]: profile() }));
  const { result, growth } = await peakRssGrowth(() =>
    broker.fetchOnce(PROFILE).then(
      () => assert.fail('the fetch should have failed'),
      (e: unknown) => e as BrokerError,
    ),
  );
  const err = Object.assign(result, { rssGrowth: growth });
  assert.equal(err.profile, PROFILE, 'the error names the profile');
  assert.ok(describeError(err).startsWith(`profile "${PROFILE}": `), describeError(err));
  assert.ok(err.message.includes(idp.url), `the message names the issuer: ${err.message}`);
  assert.ok(!err.message.includes(CLIENT_SECRET), 'no secret in the message');
  assert.ok(err.message.length < 1000, `a readable message, not a dump (${err.message.length} chars)`);
  return err;
}

describe('hostile OIDC provider', () => {
  it('the well-behaved fake provider gives a proof (so the failures below are the faults’)', async () => {
    idp.reset();
    const { broker } = await world.broker(world.config({ [PROFILE]: profile() }));
    const proof = await broker.stepsOf(PROFILE).prove();
    assert.equal(proof.kind, 'web-identity');
  });

  for (const [step, path] of [
    ['token request', '/token'],
    ['discovery', '/.well-known/openid-configuration'],
  ] as const) {
    it(`${step}: a 64 MiB streamed answer is cut at the cap with bounded memory`, async () => {
      idp.reset();
      idp.handlers[path] = idp.streaming('{"access_token":"', HUGE);
      const err = await failure();
      const growth = err.rssGrowth;
      assert.equal(err.code, 'OIDC_RESPONSE_TOO_LARGE');
      assert.match(err.message, new RegExp(`OIDC ${step} at .*more than ${OIDC_MAX_RESPONSE_BYTES} bytes`));
      assert.equal(err.retryable, false, 'a misrouted issuer is retried slowly, not hammered');
      // Loopback socket buffers hold a few MiB; the rest was never sent because the broker hung up.
      assert.ok(idp.streamed < 16 * MiB, `the provider got to send ${(idp.streamed / MiB).toFixed(1)} MiB`);
      assert.ok(growth < RSS_BOUND, `RSS grew ${(growth / MiB).toFixed(1)} MiB`);
      console.log(
        `# ${step}: sent ${(idp.streamed / MiB).toFixed(1)} MiB of ${HUGE / MiB}, RSS +${(growth / MiB).toFixed(1)} MiB`,
      );
    });
  }

  it('a declared Content-Length above the cap is refused before the body is read', async () => {
    idp.reset();
    idp.handlers['/token'] = idp.streaming('{"access_token":"', HUGE, true);
    const err = await failure();
    assert.equal(err.code, 'OIDC_RESPONSE_TOO_LARGE');
    assert.ok(idp.streamed < 16 * MiB, `sent ${(idp.streamed / MiB).toFixed(1)} MiB`);
  });

  it('an answer just under the cap is still read (the cap is not a hair trigger)', async () => {
    idp.reset();
    const doc = { ...idp.discoveryDocument(), padding: 'x'.repeat(OIDC_MAX_RESPONSE_BYTES - 4096) };
    idp.handlers['/.well-known/openid-configuration'] = (_req, res) => json(res, doc);
    const { broker } = await world.broker(world.config({ [PROFILE]: profile() }));
    assert.equal((await broker.stepsOf(PROFILE).prove()).kind, 'web-identity');
  });

  it('a JWKS of 5,000 keys is never fetched: verifying the token is STS’s job', async () => {
    idp.reset();
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const keys = Array.from({ length: 5000 }, (_, i) => ({ ...jwk, kid: `k${i}`, use: 'sig', alg: 'RS256' }));
    idp.handlers['/jwks'] = (_req, res) => json(res, { keys });
    const { broker } = await world.broker(world.config({ [PROFILE]: profile() }));
    for (let i = 0; i < 3; i++) await broker.stepsOf(PROFILE).prove();
    assert.equal(idp.hitsOf('/token'), 3);
    assert.equal(idp.hitsOf('/jwks'), 0, 'the broker never asks for the JWKS');
  });

  for (const [step, path, code] of [
    ['discovery', '/.well-known/openid-configuration', 'OIDC_DISCOVERY_FAILED'],
    ['token request', '/token', 'OIDC_TOKEN_ERROR'],
  ] as const) {
    it(`${step}: a redirect loop is one request and a clear error, not a loop`, async () => {
      idp.reset();
      idp.handlers[path] = (_req, res) => void res.writeHead(302, { location: path }).end();
      const err = await failure();
      assert.equal(err.code, code);
      assert.match(err.message, /HTTP 302|302/);
      assert.equal(idp.hitsOf(path), 1, 'redirects are not followed');
    });
  }

  const garbage: [string, string, (res: http.ServerResponse) => void][] = [
    ['HTML', 'text/html', (res) => res.end('<html><body>Service Unavailable</body></html>')],
    ['truncated JSON', 'application/json', (res) => res.end('{"issuer": "')],
    ['a JSON array', 'application/json', (res) => res.end('[1,2,3]')],
    ['random bytes', 'application/json', (res) => res.end(randomBytes(4096))],
    ['an empty body', 'application/json', (res) => res.end()],
  ];
  for (const [name, type, send] of garbage) {
    for (const [step, path, code] of [
      ['discovery', '/.well-known/openid-configuration', 'OIDC_DISCOVERY_FAILED'],
      ['token request', '/token', 'OIDC_TOKEN_ERROR'],
    ] as const) {
      it(`${step}: ${name} with status 200 → ${code}`, async () => {
        idp.reset();
        idp.handlers[path] = async (req, res) => {
          for await (const _ of req);
          res.writeHead(200, { 'content-type': type });
          send(res);
        };
        const err = await failure();
        assert.equal(err.code, code);
      });
    }
  }

  it('token request: a 200 whose access_token is not a JWT → OIDC_TOKEN_NOT_JWT', async () => {
    idp.reset();
    idp.handlers['/token'] = async (req, res) => {
      for await (const _ of req);
      json(res, { access_token: 'opaque-token-value', token_type: 'Bearer' });
    };
    const err = await failure();
    assert.equal(err.code, 'OIDC_TOKEN_NOT_JWT');
    assert.ok(!err.message.includes('opaque-token-value'), 'the token is not echoed');
  });
});
