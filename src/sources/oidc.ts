// `oidc` source: OAuth 2.0 client_credentials at any OIDC issuer; the JWT it returns is presented to
// STS AssumeRoleWithWebIdentity. The client secret / private key is re-read on every token request,
// so rotating it needs no restart; the discovery document is cached until a request fails.
import { type CryptoKey, importJWK, importPKCS8, type JWK } from 'jose';
import * as oidc from 'openid-client';
import type { OidcSourceConfig } from '../config/schema.ts';
import { readSecret } from '../config/secrets.ts';
import { BrokerError, ConfigError, SourceError } from '../errors.ts';
import type { WebIdentityProof } from '../model/proof.ts';
import { BodyTooLargeError, cappedFetch, causeOf, isLoopbackHost, networkFailureOf } from '../net.ts';
import { fetchFor, type ResolvedNetwork } from '../network.ts';
import { peekJwt } from './jwt.ts';
import type { Source } from './types.ts';

/** Discovery documents and token responses are a few KB; openid-client would buffer and parse
 * any size (a hostile or misrouted issuer streaming gigabytes would exhaust memory). */
export const OIDC_MAX_RESPONSE_BYTES = 1_048_576;

export class OidcSource implements Source {
  readonly type = 'oidc';
  readonly describe: string;
  private server: oidc.ServerMetadata | undefined;
  private readonly insecure: boolean;
  /** Discovery and token requests: capped, and through the profile's proxy / CA (network.ts). */
  private readonly boundedFetch: oidc.CustomFetch;

  constructor(
    private readonly profile: string,
    private readonly cfg: OidcSourceConfig,
    network: ResolvedNetwork,
  ) {
    this.describe = cfg.issuer;
    const capped = cappedFetch(OIDC_MAX_RESPONSE_BYTES, fetchFor(network));
    // The cast only bridges lib.dom's narrower BodyInit typing of Uint8Array; the values are fetch's own.
    this.boundedFetch = (url, options) => capped(url, options as RequestInit);
    // The schema only lets http through for loopback issuers (test OPs, emulators).
    this.insecure = new URL(cfg.issuer).protocol === 'http:' && isLoopbackHost(new URL(cfg.issuer).hostname);
  }

  async getProof(): Promise<WebIdentityProof> {
    const auth = await this.clientAuth();
    const server = this.server ?? (await this.discover());
    const config = new oidc.Configuration(server, this.cfg.clientId, undefined, auth);
    config.timeout = this.cfg.timeout / 1000;
    config[oidc.customFetch] = this.boundedFetch;
    if (this.insecure) oidc.allowInsecureRequests(config);

    let response: oidc.TokenEndpointResponse;
    try {
      response = await oidc.clientCredentialsGrant(config, this.tokenParameters());
    } catch (err) {
      const mapped = this.mapError(err, 'token request');
      // An unreachable IdP may have moved: look its endpoints up again next time.
      if (mapped.retryable) this.server = undefined;
      throw mapped;
    }

    const token = this.cfg.token === 'id_token' ? response.id_token : response.access_token;
    if (!token) {
      throw new SourceError(
        'OIDC_NO_ID_TOKEN',
        `the OIDC provider ${this.cfg.issuer} returned no id_token for client_credentials; set source.token: access_token`,
        { profile: this.profile },
      );
    }
    const claims = peekJwt(token);
    if (!claims) {
      throw new SourceError(
        'OIDC_TOKEN_NOT_JWT',
        `the ${this.cfg.token} from ${this.cfg.issuer} is not a JWT (STS only accepts JWTs): configure the provider to issue JWT access tokens (often by requesting an audience or resource), or use source.token: id_token`,
        { profile: this.profile },
      );
    }
    return { kind: 'web-identity', token, ...claims };
  }

  private tokenParameters(): Record<string, string> {
    const params: Record<string, string> = {};
    if (this.cfg.scope) params.scope = this.cfg.scope;
    if (this.cfg.audience) params.audience = this.cfg.audience;
    if (this.cfg.resource) params.resource = this.cfg.resource;
    return params;
  }

  private async discover(): Promise<oidc.ServerMetadata> {
    try {
      const config = await oidc.discovery(new URL(this.cfg.issuer), this.cfg.clientId, undefined, undefined, {
        execute: this.insecure ? [oidc.allowInsecureRequests] : [],
        timeout: this.cfg.timeout / 1000,
        [oidc.customFetch]: this.boundedFetch,
      });
      this.server = config.serverMetadata();
      return this.server;
    } catch (err) {
      throw this.mapError(err, 'discovery');
    }
  }

  private async clientAuth(): Promise<oidc.ClientAuth> {
    const auth = this.cfg.clientAuth;
    try {
      if (auth.method !== 'private_key_jwt') {
        const secret = await readSecret(auth.clientSecret);
        return auth.method === 'client_secret_post'
          ? oidc.ClientSecretPost(secret)
          : oidc.ClientSecretBasic(secret);
      }
      const text = await readSecret(auth.privateKey);
      const key = await importPrivateKey(text, auth.alg);
      return oidc.PrivateKeyJwt({ key: key.key, kid: auth.keyId ?? key.kid });
    } catch (err) {
      if (err instanceof BrokerError)
        throw new SourceError(err.code, err.message, { profile: this.profile, cause: err });
      throw new SourceError(
        'OIDC_CLIENT_KEY_INVALID',
        `clientAuth.privateKey is neither a PKCS#8 PEM nor a private JWK usable with ${auth.method === 'private_key_jwt' ? auth.alg : ''}: ${(err as Error).message}`,
        { profile: this.profile, cause: err },
      );
    }
  }

  /** Turns openid-client/fetch failures into SourceErrors that say what to fix, and whether to retry. */
  private mapError(err: unknown, step: 'discovery' | 'token request'): SourceError {
    const where = `OIDC ${step} at ${this.cfg.issuer}`;
    const opts = { profile: this.profile, cause: err };
    // An unreadable network.caFile: the config's fault, said as the config error says it.
    const configError = causeOf(err, ConfigError);
    if (configError) return new SourceError(configError.code, configError.message, opts);
    if (causeOf(err, BodyTooLargeError)) {
      return new SourceError(
        'OIDC_RESPONSE_TOO_LARGE',
        `${where}: the provider answered with more than ${OIDC_MAX_RESPONSE_BYTES} bytes; check that source.issuer is the OIDC provider itself`,
        opts,
      );
    }
    const oauthError = oauthErrorOf(err);
    if (oauthError) {
      const { error, description, status } = oauthError;
      const detail = description ? `${error}: ${description}` : error;
      if (error === 'invalid_client') {
        return new SourceError(
          'OIDC_CLIENT_REJECTED',
          `${where}: the provider rejected client "${this.cfg.clientId}" (${detail}); check clientId and the client secret or private key, and that the client may use ${this.cfg.clientAuth.method}`,
          opts,
        );
      }
      return new SourceError(
        'OIDC_TOKEN_ERROR',
        `${where} failed (HTTP ${status}, ${detail})${hintFor(error)}`,
        {
          ...opts,
          retryable: status >= 500 || status === 429,
        },
      );
    }
    const network = networkFailureOf(err);
    if (network) {
      return new SourceError('OIDC_UNREACHABLE', `${where}: cannot reach the provider (${network})`, {
        ...opts,
        retryable: true,
      });
    }
    const status = (err as { cause?: { status?: number } })?.cause?.status;
    const message = err instanceof Error ? err.message : String(err);
    if (step === 'discovery') {
      return new SourceError(
        'OIDC_DISCOVERY_FAILED',
        `${where} failed (${status ? `HTTP ${status}, ` : ''}${message}); check source.issuer: it must be the exact issuer whose /.well-known/openid-configuration names it`,
        { ...opts, retryable: status === undefined || status >= 500 },
      );
    }
    return new SourceError(
      'OIDC_TOKEN_ERROR',
      `${where} failed (${status ? `HTTP ${status}, ` : ''}${message})`,
      {
        ...opts,
        retryable: status === undefined || status >= 500,
      },
    );
  }
}

function hintFor(error: string): string {
  switch (error) {
    case 'unauthorized_client':
      return '; allow the client_credentials grant for this client at the provider';
    case 'invalid_scope':
      return '; check source.scope against the scopes the client may request';
    case 'invalid_target':
      return '; check source.resource / source.audience against what the provider knows';
    default:
      return '';
  }
}

function oauthErrorOf(err: unknown): { error: string; description?: string; status: number } | undefined {
  if (err instanceof oidc.ResponseBodyError) {
    return { error: err.error, description: err.error_description, status: err.status };
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const params = err.cause[0]?.parameters;
    return {
      error: params?.error ?? 'invalid_client',
      description: params?.error_description,
      status: err.status,
    };
  }
  return undefined;
}

async function importPrivateKey(
  text: string,
  alg: string,
): Promise<{ key: CryptoKey; kid: string | undefined }> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JWK;
    const key = await importJWK(jwk, alg);
    if (key instanceof Uint8Array) throw new Error('the JWK is a symmetric key, not a private key');
    return { key, kid: jwk.kid };
  }
  return { key: await importPKCS8(trimmed, alg), kid: undefined };
}
