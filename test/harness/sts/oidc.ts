// Web identity verification as STS does it for IAM OIDC providers: the token's `iss` selects
// a registered provider, its keys come from `<iss>/.well-known/openid-configuration` → `jwks_uri`
// (cached; fetched again once when a token names an unknown `kid`), then signature, time
// claims and audience are checked.
import http from 'node:http';
import https from 'node:https';
import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  type KeyInput,
} from 'jose';
import { errors } from './protocol.ts';
import { normalizeIssuer } from './trust.ts';

export interface OidcProvider {
  /** Normalized: no trailing slash. */
  issuer: string;
  clientIds: string[];
  /** `arn:aws:iam::ACC:oidc-provider/<issuer without scheme>`: STS returns it as `Provider`. */
  arn: string;
}

export interface VerifiedWebIdentity {
  provider: OidcProvider;
  subject: string;
  /** The token's audiences that are registered client IDs of the provider (at least one). */
  audiences: string[];
  claims: JWTPayload;
}

export interface OidcVerifierOptions {
  accountId: string;
  now: () => number;
  allowInsecureIssuer: boolean;
  /** Extra CA certificate(s) trusted when fetching https issuers (test issuers use their own CA). */
  issuerCa?: string | Buffer | Array<string | Buffer>;
  /** Per-request timeout towards the issuer; a timeout is an IDPCommunicationError. */
  timeoutMs: number;
}

// The signature algorithms STS accepts for OIDC tokens (RSA and ECDSA).
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
/** Leeway for `nbf`/`iat` slightly in the future (clock skew between IdP and AWS). */
const LEEWAY_S = 300;
const MAX_DOCUMENT_BYTES = 1024 * 1024;

const NOT_A_JWT =
  'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)';
// Real STS's wording, including its double space.
const NO_KEY =
  "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

/** Why fetching from the issuer failed: unreachable (retryable) or answered with something unusable. */
class IdpFetchError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export class OidcVerifier {
  private readonly providers = new Map<string, OidcProvider>();
  /** Issuer → its key set (or the fetch in flight, so concurrent requests share one fetch). */
  private readonly keyCache = new Map<string, Promise<JSONWebKeySet>>();

  constructor(private readonly opts: OidcVerifierOptions) {}

  /** Like IAM CreateOpenIDConnectProvider. Returns the provider ARN. */
  register(p: { issuer: string; clientIds: string[] }): string {
    const url = new URL(p.issuer); // throws on a malformed URL, as IAM would reject it
    if (url.protocol !== 'https:' && !(this.opts.allowInsecureIssuer && url.protocol === 'http:')) {
      throw new Error(`OIDC provider URL must use https: ${p.issuer}`);
    }
    const issuer = normalizeIssuer(p.issuer);
    const arn = `arn:aws:iam::${this.opts.accountId}:oidc-provider/${issuer.replace(/^https?:\/\//, '')}`;
    this.providers.set(issuer, { issuer, clientIds: [...p.clientIds], arn });
    this.keyCache.delete(issuer);
    return arn;
  }

  /** Forget cached key sets (next token fetches discovery + JWKS again). */
  clearKeyCache(): void {
    this.keyCache.clear();
  }

  async verify(token: string): Promise<VerifiedWebIdentity> {
    const { alg, unverified } = decode(token);
    const iss = typeof unverified.iss === 'string' ? unverified.iss : undefined;
    const provider = iss === undefined ? undefined : this.providers.get(normalizeIssuer(iss));
    if (!provider) {
      throw errors.invalidIdentityToken(`No OpenIDConnect provider found in your account for ${iss}`);
    }
    if (!ALGORITHMS.includes(alg)) {
      throw errors.invalidIdentityToken(`Unsupported JWT signing algorithm: ${alg}`);
    }
    const claims = await this.verifySignature(provider, token);
    this.checkTimes(claims);
    const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter(
      (a): a is string => typeof a === 'string' && provider.clientIds.includes(a),
    );
    if (audiences.length === 0) throw errors.invalidIdentityToken('Incorrect token audience');
    if (typeof claims.sub !== 'string' || claims.sub === '') {
      throw errors.invalidIdentityToken('Token is missing the sub claim');
    }
    return { provider, subject: claims.sub, audiences, claims };
  }

  /** Verifies against the cached keys; on an unknown `kid` refreshes them once and tries again. */
  private async verifySignature(provider: OidcProvider, token: string): Promise<JWTPayload> {
    let refreshed = false;
    for (;;) {
      const jwks = await this.keys(provider.issuer, refreshed);
      try {
        return await verifyWithKeySet(token, jwks);
      } catch (err) {
        if (codeOf(err) === 'ERR_JWKS_NO_MATCHING_KEY') {
          if (!refreshed) {
            refreshed = true;
            continue;
          }
          throw errors.invalidIdentityToken(NO_KEY);
        }
        if (codeOf(err) === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
          throw errors.invalidIdentityToken('Signature validation failed for the web identity token');
        }
        throw errors.invalidIdentityToken(NOT_A_JWT);
      }
    }
  }

  private checkTimes(claims: JWTPayload): void {
    const nowS = Math.floor(this.opts.now() / 1000);
    if (typeof claims.exp !== 'number') throw errors.invalidIdentityToken('Token is missing the exp claim');
    if (nowS >= claims.exp) {
      // Real STS's wording, including the missing space before the second timestamp.
      throw errors.expiredWebToken(
        `Token expired: current date/time ${nowS} must be before the expiration date/time${claims.exp}`,
      );
    }
    if (typeof claims.nbf === 'number' && claims.nbf > nowS + LEEWAY_S) {
      throw errors.invalidIdentityToken(`Token is not valid yet: nbf ${claims.nbf} is after ${nowS}`);
    }
    if (typeof claims.iat === 'number' && claims.iat > nowS + LEEWAY_S) {
      throw errors.invalidIdentityToken(`Token was issued in the future: iat ${claims.iat} is after ${nowS}`);
    }
  }

  private keys(issuer: string, forceRefresh: boolean): Promise<JSONWebKeySet> {
    const cached = this.keyCache.get(issuer);
    if (cached && !forceRefresh) return cached;
    const pending = this.fetchKeys(issuer);
    this.keyCache.set(issuer, pending);
    // A failed fetch is not remembered: the next token tries the issuer again.
    pending.catch(() => {
      if (this.keyCache.get(issuer) === pending) this.keyCache.delete(issuer);
    });
    return pending;
  }

  private async fetchKeys(issuer: string): Promise<JSONWebKeySet> {
    try {
      const discovery = await this.getJson(`${issuer}/.well-known/openid-configuration`);
      const jwksUri = isRecord(discovery) ? discovery.jwks_uri : undefined;
      if (typeof jwksUri !== 'string') {
        throw new IdpFetchError('invalid', 'discovery document has no jwks_uri');
      }
      const jwks = await this.getJson(jwksUri);
      if (!isRecord(jwks) || !Array.isArray(jwks.keys)) {
        throw new IdpFetchError('invalid', 'JWKS has no keys array');
      }
      return jwks as unknown as JSONWebKeySet;
    } catch (err) {
      if (err instanceof IdpFetchError && err.kind === 'unreachable') {
        throw errors.idpCommunication(
          `Couldn't connect to the identity provider at ${issuer}: ${err.message}`,
        );
      }
      throw errors.invalidIdentityToken(NO_KEY);
    }
  }

  /** GET a JSON document from the issuer (node:http/https so a test CA can be trusted). */
  private getJson(url: string): Promise<unknown> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (!secure && !(this.opts.allowInsecureIssuer && target.protocol === 'http:')) {
      return Promise.reject(new IdpFetchError('invalid', `refusing non-https URL ${url}`));
    }
    return new Promise((resolve, reject) => {
      const options: https.RequestOptions = {
        timeout: this.opts.timeoutMs,
        headers: { accept: 'application/json' },
      };
      if (secure && this.opts.issuerCa !== undefined) options.ca = this.opts.issuerCa;
      const req = (secure ? https : http).get(target, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_DOCUMENT_BYTES) req.destroy(new IdpFetchError('invalid', 'document too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200)
            return reject(new IdpFetchError('invalid', `HTTP ${res.statusCode} from ${url}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new IdpFetchError('invalid', `invalid JSON from ${url}`));
          }
        });
        res.on('error', (err) => reject(asFetchError(err)));
      });
      req.on('timeout', () =>
        req.destroy(new IdpFetchError('unreachable', `timeout after ${this.opts.timeoutMs} ms`)),
      );
      req.on('error', (err) => reject(asFetchError(err)));
    });
  }
}

function asFetchError(err: Error): IdpFetchError {
  return err instanceof IdpFetchError ? err : new IdpFetchError('unreachable', err.message);
}

/** Reads header and claims before verification (to pick the provider), or rejects a non-JWT. */
function decode(token: string): { alg: string; unverified: JWTPayload } {
  try {
    const header = decodeProtectedHeader(token);
    const unverified = decodeJwt(token);
    if (typeof header.alg !== 'string') throw new Error('no alg');
    return { alg: header.alg, unverified };
  } catch {
    throw errors.invalidIdentityToken(NOT_A_JWT);
  }
}

/** Signature check against a key set; with several candidate keys (no `kid`), any one may verify. */
async function verifyWithKeySet(token: string, jwks: JSONWebKeySet): Promise<JWTPayload> {
  const keySet = createLocalJWKSet(jwks);
  let result: Awaited<ReturnType<typeof compactVerify>>;
  try {
    result = await compactVerify(token, keySet, { algorithms: ALGORITHMS });
  } catch (err) {
    if (codeOf(err) !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw err;
    result = await verifyWithAnyCandidate(token, err as AsyncIterable<KeyInput>);
  }
  const claims: unknown = JSON.parse(new TextDecoder().decode(result.payload));
  if (!isRecord(claims)) throw new Error('JWT claims are not an object');
  return claims as JWTPayload;
}

async function verifyWithAnyCandidate(token: string, candidates: AsyncIterable<KeyInput>) {
  let lastError: unknown = Object.assign(new Error('no candidate key verified the token'), {
    code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  });
  for await (const key of candidates) {
    try {
      return await compactVerify(token, key, { algorithms: ALGORITHMS });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

function codeOf(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
