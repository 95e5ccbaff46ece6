/**
 * Test part: a real OpenID Provider (the `oidc-provider` package, 9.x) on
 * loopback, configured as a machine-to-machine issuer for the broker's `oidc`
 * source:
 *
 * - `client_credentials` grant; access tokens are RS256 JWTs (resource
 *   indicators with `accessTokenFormat: 'jwt'`), `typ: JWT`, `aud` = the
 *   configured audience (default `sts.amazonaws.com`), `sub` = `client_id`,
 *   `iss` = issuer, `exp` = now + accessTokenTtl.
 * - The resource indicator is `urn:aws:sts` and is the default resource, so a
 *   client that sends no `resource` still gets a JWT. Any other absolute URI
 *   is rejected with `invalid_target`, unless listed in `resources` (its
 *   token's `aud` is then that URI).
 * - Client authentication: `client_secret_basic`, `client_secret_post`
 *   (oidc-provider 9 accepts either for a client registered with one of the
 *   two) and `private_key_jwt` (RS256 / ES256 ...).
 * - Fault knob: `down` destroys every socket; counters for token requests.
 *
 * oidc-provider ships no TypeScript types (and @types/oidc-provider is not a
 * dependency), so it is loaded with a dynamic import and described by the few
 * structural types below.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { listenOnLoopback } from './listen.ts';

export type { JWK };
/** WebCrypto private key as jose/openid-client use it (not a global type under lib es2023). */
export type PrivateCryptoKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

export interface OidcClientSpec {
  clientId: string;
  /** Shared secret (client_secret_basic and client_secret_post both work with it). */
  clientSecret?: string;
  /** Registered method; default `client_secret_basic` with a secret, `private_key_jwt` with `jwks`. */
  authMethod?: ClientAuthMethod;
  /** Public JWKS for private_key_jwt. */
  jwks?: { keys: object[] };
  /**
   * `token_endpoint_auth_signing_alg` for private_key_jwt. Default: the `alg`
   * of the first key in `jwks` when it has one, otherwise any of RS256, PS256,
   * ES256, EdDSA is accepted.
   */
  tokenEndpointAuthSigningAlg?: string;
  /** Allowed scopes (e.g. ['aws']). Requesting any other scope gives `invalid_scope`. Unset: any scope is accepted (and echoed). */
  scopes?: string[];
  /** Per-client override of the access token `aud` (e.g. to make STS reject it). */
  audience?: string;
  /** tls_client_auth: the certificate subject DN the client is registered with (RFC 8705 tls_client_auth_subject_dn, e.g. `CN=billing-batch`). */
  tlsSubjectDn?: string;
}

export interface OidcOpOptions {
  clients: OidcClientSpec[];
  /** Access token `aud`; default `sts.amazonaws.com`. */
  audience?: string;
  /** Access token lifetime in seconds; default 600. */
  accessTokenTtl?: number;
  /** Resource indicator (absolute URI) that is also the default resource; default `urn:aws:sts`. */
  resource?: string;
  /** Further resource indicators (RFC 8707) a client may name; the access token for one of them
   * has that URI as its `aud` (as ADFS's has the relying party identifier). One per request:
   * oidc-provider refuses several for client_credentials (`invalid_target`). */
  resources?: string[];
  /** JWT header `typ` of access tokens; default `JWT` (oidc-provider's own default is `at+jwt`). */
  accessTokenTyp?: string;
  /** Extra claims merged into every access token payload (cannot override iss/sub/aud/exp/iat/jti/client_id). */
  extraClaims?: Record<string, unknown>;
  /** The URL clients reach the OP by, when something (a fault proxy) sits in front of it; default its own address. */
  issuer?: string;
  /** Serve https with this certificate (for a name of loopback, e.g. `localhost`); the issuer is then https://localhost:port. */
  tls?: { cert: string; key: string };
  /**
   * Mutual TLS client authentication (RFC 8705, oidc-provider's features.mTLS): the https server
   * asks for a client certificate; `tls_client_auth` clients need one that `ca` verifies with
   * their registered subject DN, `self_signed_tls_client_auth` clients one of their JWKS (x5c).
   * Needs `tls`.
   */
  mtlsCa?: string;
}

/** One token endpoint request as seen by the OP (recorded when the response finishes). */
export interface TokenRequestRecord {
  /** HTTP status of the response (0 when the socket was destroyed because `down`). */
  status: number;
  /** How the client authenticated, judged from the request. */
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none' | 'unknown';
  clientId?: string;
  grantType?: string;
  scope?: string;
  resource?: string;
  /** OAuth error code on failure (e.g. `invalid_client`). */
  error?: string;
}

// ---------------------------------------------------------------------------
// Minimal structural types for the parts of oidc-provider used here.

interface ProviderCtx {
  oidc?: {
    client?: { clientId: string };
    params?: Record<string, unknown>;
  };
}
interface StructuredToken {
  header?: Record<string, unknown>;
  payload: Record<string, unknown>;
}
interface ProviderInstance {
  issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
interface ProviderModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;
  errors: {
    InvalidScope: new (description: string, scope?: string) => Error;
    InvalidTarget: new (description?: string) => Error;
  };
}

let providerModule: Promise<ProviderModule> | undefined;

/** Loads oidc-provider once, swallowing its "Unsupported runtime" warning on Node 20. */
function loadProvider(): Promise<ProviderModule> {
  providerModule ??= (async () => {
    const specifier: string = 'oidc-provider';
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
      original.apply(console, args);
    };
    try {
      return (await import(specifier)) as ProviderModule;
    } finally {
      console.warn = original;
    }
  })();
  return providerModule;
}

/**
 * A per-provider in-memory adapter (oidc-provider's own memory adapter is
 * module-global and prints a warning). Only ReplayDetection (private_key_jwt
 * `jti`) and Client lookups touch it in this configuration.
 */
function makeAdapterClass() {
  const store = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();
  const live = (key: string) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return class HarnessAdapter {
    constructor(private readonly name: string) {}
    private key(id: string) {
      return `${this.name}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      const expiresAt =
        typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      store.set(this.key(id), { payload, expiresAt });
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUserCode(_userCode: string) {
      return undefined;
    }
    async findByUid(uid: string) {
      for (const [key, entry] of store) {
        if (key.startsWith(`${this.name}:`) && entry.payload.uid === uid) return live(key);
      }
      return undefined;
    }
    async consume(id: string) {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) {
        if (entry.payload.grantId === grantId) store.delete(key);
      }
    }
  };
}

function clientMetadata(spec: OidcClientSpec): Record<string, unknown> {
  const hasSecret = spec.clientSecret !== undefined;
  const hasJwks = spec.jwks !== undefined;
  if (spec.authMethod === 'tls_client_auth' || spec.authMethod === 'self_signed_tls_client_auth') {
    return {
      client_id: spec.clientId,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: spec.authMethod,
      ...(spec.tlsSubjectDn ? { tls_client_auth_subject_dn: spec.tlsSubjectDn } : {}),
      ...(spec.jwks ? { jwks: spec.jwks } : {}),
    };
  }
  if (hasSecret === hasJwks) {
    throw new Error(`OidcOp client ${spec.clientId}: give exactly one of clientSecret or jwks`);
  }
  const method: ClientAuthMethod = spec.authMethod ?? (hasSecret ? 'client_secret_basic' : 'private_key_jwt');
  if ((method === 'private_key_jwt') !== hasJwks) {
    throw new Error(`OidcOp client ${spec.clientId}: authMethod ${method} does not fit the credential given`);
  }
  const meta: Record<string, unknown> = {
    client_id: spec.clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: method,
  };
  if (hasSecret) {
    // oidc-provider validates static clients lazily (first request, then
    // `invalid_client_metadata`); a secret must be VSCHAR (%x20-7E).
    if (!/^[\x20-\x7e]+$/.test(spec.clientSecret ?? '')) {
      throw new Error(
        `OidcOp client ${spec.clientId}: clientSecret must be non-empty printable ASCII (%x20-7E)`,
      );
    }
    meta.client_secret = spec.clientSecret;
  }
  if (hasJwks) {
    meta.jwks = spec.jwks;
    const firstAlg = (spec.jwks?.keys[0] as { alg?: unknown } | undefined)?.alg;
    const alg = spec.tokenEndpointAuthSigningAlg ?? (typeof firstAlg === 'string' ? firstAlg : undefined);
    if (alg) meta.token_endpoint_auth_signing_alg = alg;
  }
  if (spec.scopes) meta.scope = spec.scopes.join(' ');
  return meta;
}

function judgeAuthMethod(
  req: IncomingMessage,
  params: Record<string, unknown> | undefined,
): TokenRequestRecord['authMethod'] {
  if (req.headers.authorization?.toLowerCase().startsWith('basic ')) return 'client_secret_basic';
  if (!params) return 'unknown';
  if (params.client_secret !== undefined) return 'client_secret_post';
  if (params.client_assertion !== undefined) return 'private_key_jwt';
  if (params.client_id !== undefined) return 'none';
  return 'unknown';
}

function basicClientId(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) ? v.join(' ') : undefined;

export class OidcOp {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly discoveryUrl: string;
  /** Access token audience in use (default `sts.amazonaws.com`). */
  readonly audience: string;
  /** Resource indicator (default `urn:aws:sts`). */
  readonly resource: string;
  /** Public JWKS the OP signs access tokens with. */
  readonly publicJwks: { keys: JWK[] };
  /** When true, every request gets its socket destroyed (IdP outage). */
  down = false;
  /** Errors oidc-provider reported as `server_error` (bugs in the configuration surface here). */
  readonly serverErrors: unknown[] = [];

  readonly #server: Server;
  readonly #log: TokenRequestRecord[] = [];
  #tokenRequests = 0;
  #closed = false;

  private constructor(
    server: Server,
    issuer: string,
    audience: string,
    resource: string,
    publicJwks: { keys: JWK[] },
  ) {
    this.#server = server;
    this.issuer = issuer;
    this.tokenEndpoint = `${issuer}/token`;
    this.jwksUri = `${issuer}/jwks`;
    this.discoveryUrl = `${issuer}/.well-known/openid-configuration`;
    this.audience = audience;
    this.resource = resource;
    this.publicJwks = publicJwks;
  }

  /** The port it listens on: not the issuer's when a proxy fronts it (`OidcOpOptions.issuer`). */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Count of token endpoint requests (any outcome, including those refused while `down`). */
  tokenRequests(): number {
    return this.#tokenRequests;
  }

  /** Token endpoint requests that got a 200. */
  tokensIssued(): number {
    return this.#log.filter((r) => r.status === 200).length;
  }

  /** Details of each finished token endpoint request, oldest first. */
  tokenRequestLog(): readonly TokenRequestRecord[] {
    return this.#log;
  }

  resetCounters(): void {
    this.#tokenRequests = 0;
    this.#log.length = 0;
  }

  static async start(opts: OidcOpOptions): Promise<OidcOp> {
    const { default: Provider, errors } = await loadProvider();
    const audience = opts.audience ?? 'sts.amazonaws.com';
    const ttl = opts.accessTokenTtl ?? 600;
    const resource = opts.resource ?? 'urn:aws:sts';
    const typ = opts.accessTokenTyp ?? 'JWT';
    if (!URL.canParse(resource))
      throw new Error(`OidcOp: resource indicator must be an absolute URI, got ${resource}`);
    const specs = new Map(opts.clients.map((c) => [c.clientId, c]));
    const clients = opts.clients.map(clientMetadata);
    const allScopes = [...new Set(opts.clients.flatMap((c) => c.scopes ?? []))];

    // Signing key for access tokens (RS256).
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const signingJwk: JWK = await exportJWK(privateKey);
    signingJwk.kid = await calculateJwkThumbprint(signingJwk);
    signingJwk.alg = 'RS256';
    signingJwk.use = 'sig';
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = signingJwk;

    let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    let op: OidcOp | undefined;

    const listener = (req: IncomingMessage, res: ServerResponse) => {
      const isToken = (req.url ?? '').split('?')[0] === '/token';
      if (isToken) op?.countTokenRequest();
      if (op?.down || !handler) {
        if (isToken) op?.record({ status: 0, authMethod: judgeAuthMethod(req, undefined) });
        req.socket.destroy();
        return;
      }
      handler(req, res);
    };
    const tlsOptions = opts.mtlsCa
      ? { ...opts.tls, requestCert: true, rejectUnauthorized: false, ca: opts.mtlsCa }
      : opts.tls;
    const server: Server = tlsOptions ? createHttpsServer(tlsOptions, listener) : createServer(listener);
    server.keepAliveTimeout = 1000;
    await listenOnLoopback(server);
    const { port } = server.address() as AddressInfo;
    const issuer = opts.issuer ?? (opts.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`);

    const resourceServerFor = (client: { clientId: string } | undefined) => {
      const spec = client ? specs.get(client.clientId) : undefined;
      return {
        scope: (spec?.scopes ?? allScopes).join(' '),
        audience: spec?.audience ?? audience,
        accessTokenTTL: ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    };

    let provider: ProviderInstance;
    try {
      provider = new Provider(issuer, {
        adapter: makeAdapterClass(),
        clients,
        jwks: { keys: [signingJwk] },
        scopes: ['openid', ...allScopes],
        claims: { openid: ['sub'] },
        clientAuthMethods: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
          ...(opts.mtlsCa ? ['tls_client_auth', 'self_signed_tls_client_auth'] : []),
        ],
        enabledJWA: {
          clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        },
        responseTypes: ['none'],
        features: {
          devInteractions: { enabled: false },
          clientCredentials: { enabled: true },
          ...(opts.mtlsCa ? { mTLS: mtlsFeature() } : {}),
          introspection: { enabled: false },
          revocation: { enabled: false },
          userinfo: { enabled: false },
          resourceIndicators: {
            enabled: true,
            defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf ?? resource,
            getResourceServerInfo: async (
              ctx: ProviderCtx,
              indicator: string,
              client?: { clientId: string },
            ) => {
              const named = opts.resources?.includes(indicator) === true;
              if (indicator !== resource && !named) throw new errors.InvalidTarget();
              // oidc-provider silently drops scopes the resource server does
              // not list; a real IdP (Okta, Entra, Keycloak) refuses them.
              const spec = client ? specs.get(client.clientId) : undefined;
              const requested = str(ctx.oidc?.params?.scope)?.split(' ').filter(Boolean) ?? [];
              if (spec?.scopes) {
                const allowed = new Set(spec.scopes);
                const bad = requested.find((s) => !allowed.has(s));
                if (bad !== undefined) throw new errors.InvalidScope('requested scope is not allowed', bad);
              }
              const info = resourceServerFor(client);
              if (named) info.audience = indicator;
              // Unrestricted clients get whatever they asked for echoed back.
              if (!spec?.scopes) info.scope = [...new Set([...allScopes, ...requested])].join(' ');
              return info;
            },
          },
        },
        ttl: {
          ClientCredentials: () => ttl,
          AccessToken: () => ttl,
        },
        formats: {
          customizers: {
            jwt: async (_ctx: unknown, _token: unknown, jwt: StructuredToken) => {
              jwt.header = { ...jwt.header, typ };
              if (opts.extraClaims) {
                const keep = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];
                for (const [k, v] of Object.entries(opts.extraClaims)) {
                  if (!keep.includes(k)) jwt.payload[k] = v;
                }
              }
            },
          },
        },
        // No cookies are set by the token endpoint, but give stable keys so
        // the provider does not generate/complain.
        cookies: { keys: ['oidc-op-test-harness'] },
        clockTolerance: 5,
      });
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    }

    op = new OidcOp(server, issuer, audience, resource, { keys: [publicJwk as JWK] });
    const self = op;
    provider.on('server_error', (_ctx: unknown, err: unknown) => {
      self.serverErrors.push(err);
    });
    const recordFromCtx = (ctx: unknown, status: number, err?: unknown) => {
      const c = ctx as ProviderCtx & { req: IncomingMessage };
      const params = c.oidc?.params;
      const rec: TokenRequestRecord = {
        status,
        authMethod: judgeAuthMethod(c.req, params),
      };
      const clientId = c.oidc?.client?.clientId ?? str(params?.client_id) ?? basicClientId(c.req);
      if (clientId !== undefined) rec.clientId = clientId;
      const grantType = str(params?.grant_type);
      if (grantType !== undefined) rec.grantType = grantType;
      const scope = str(params?.scope);
      if (scope !== undefined) rec.scope = scope;
      const res = str(params?.resource);
      if (res !== undefined) rec.resource = res;
      const code = (err as { error?: unknown } | undefined)?.error;
      if (typeof code === 'string') rec.error = code;
      return rec;
    };
    provider.on('grant.success', (ctx: unknown) => {
      self.record(recordFromCtx(ctx, 200));
    });
    provider.on('grant.error', (ctx: unknown, err: unknown) => {
      const status = (err as { statusCode?: unknown }).statusCode;
      self.record(recordFromCtx(ctx, typeof status === 'number' ? status : 400, err));
    });
    handler = provider.callback();
    return op;
  }

  /** @internal */
  private countTokenRequest(): void {
    this.#tokenRequests += 1;
  }

  /** @internal */
  private record(rec: TokenRequestRecord): void {
    this.#log.push(rec);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const done = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await done;
  }
}

/** oidc-provider's mTLS hooks, reading the certificate the TLS handshake verified (or not). */
function mtlsFeature(): Record<string, unknown> {
  type TlsCtx = { socket: TLSSocket };
  return {
    enabled: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate(ctx: TlsCtx) {
      const peer = ctx.socket.getPeerX509Certificate?.();
      return peer ? peer.toString() : undefined;
    },
    certificateAuthorized(ctx: TlsCtx) {
      return ctx.socket.authorized;
    },
    certificateSubjectMatches(ctx: TlsCtx, property: string, expected: string) {
      if (property !== 'tls_client_auth_subject_dn') return false;
      const subject = ctx.socket.getPeerX509Certificate?.()?.subject.replace(/\n/g, ',');
      return subject === expected;
    },
  };
}

/**
 * A key pair for a private_key_jwt client: `publicJwk` goes into the
 * OidcClientSpec `jwks`, `privateJwk`/`privateKey`/`privatePem` are for the
 * client. Both JWKs carry `kid` (RFC 7638 thumbprint), `alg` and `use: sig`.
 */
export async function makeClientKeyPair(alg: 'RS256' | 'ES256' = 'RS256'): Promise<{
  privateJwk: JWK;
  publicJwk: JWK;
  privatePem: string;
  privateKey: PrivateCryptoKey;
  kid: string;
}> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  Object.assign(publicJwk, { kid, alg, use: 'sig' });
  const privateJwk = await exportJWK(privateKey);
  Object.assign(privateJwk, { kid, alg, use: 'sig' });
  const privatePem = await exportPKCS8(privateKey);
  return { privateJwk, publicJwk, privatePem, privateKey, kid };
}
