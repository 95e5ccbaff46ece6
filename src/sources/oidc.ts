// `oidc` source: OAuth 2.0 client_credentials at any OIDC issuer; the JWT it returns is presented to
// STS AssumeRoleWithWebIdentity. The client secret / private key is re-read on every token request,
// so rotating it needs no restart; the discovery document is cached until a request fails.

import * as oidc from 'openid-client';
import type { OidcSourceConfig } from '../config/schema/index.ts';
import { readSecret } from '../config/secrets.ts';
import { ConfigError, SourceError } from '../errors.ts';
import type { WebIdentityProof } from '../model/proof.ts';
import {
  BodyTooLargeError,
  cappedFetch,
  causeOf,
  describeNetworkFailure,
  isHttpsOrLoopback,
} from '../net.ts';
import { type Fetch, fetchFor, type ResolvedNetwork } from '../outbound.ts';
import { loadCertificateMaterial } from './certificate-material.ts';
import { describeSource } from './describe.ts';
import { peekJwt } from './jwt.ts';
import { type KerberosAuth, KerberosIdentity, negotiateToken, SpnegoContext } from './kerberos-client.ts';
import {
  clientSecretBasic,
  clientSecretPost,
  kerberosClientAuth,
  privateKeyJwt,
  tlsClientAuth,
} from './oidc-client-auth.ts';
import type { Source } from './types.ts';

/** Discovery documents and token responses are a few KB; openid-client would buffer and parse
 * any size (a hostile or misrouted issuer streaming gigabytes would exhaust memory). */
export const OIDC_MAX_RESPONSE_BYTES = 1_048_576;

export class OidcSource implements Source {
  readonly type = 'oidc';
  readonly describe: string;
  private server: oidc.ServerMetadata | undefined;
  private readonly insecure: boolean;
  /** Discovery and token requests: capped, and through the profile's proxy / CA (outbound.ts). */
  private readonly boundedFetch: oidc.CustomFetch;

  constructor(
    private readonly profile: string,
    private readonly cfg: OidcSourceConfig,
    private readonly network: ResolvedNetwork,
  ) {
    this.describe = describeSource(cfg);
    this.boundedFetch = this.fetchWith(fetchFor(network));
    // The schema only lets http through for loopback issuers (test OPs, emulators).
    this.insecure = new URL(cfg.issuer).protocol === 'http:';
  }

  async getProof(): Promise<WebIdentityProof> {
    const server = this.server ?? (await this.discover());
    const auth = this.cfg.clientAuth;
    const response =
      auth.method === 'kerberos'
        ? await this.kerberosGrant(server, auth)
        : await this.grant(server, ...(await this.clientAuth()));

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

  /** The client_credentials request with this client authentication, errors mapped. */
  private async grant(
    server: oidc.ServerMetadata,
    auth: oidc.ClientAuth,
    fetch: oidc.CustomFetch,
  ): Promise<oidc.TokenEndpointResponse> {
    const config = new oidc.Configuration(
      server,
      this.cfg.clientId,
      // RFC 8705: a provider may publish separate endpoints for mutual TLS; use them when it does.
      this.mtls ? { use_mtls_endpoint_aliases: true } : undefined,
      auth,
    );
    config.timeout = this.cfg.timeout / 1000;
    config[oidc.customFetch] = fetch;
    // Discovery held the token endpoint to the issuer's rule: plain http only to loopback.
    if (new URL(this.tokenEndpoint(server)).protocol === 'http:') oidc.allowInsecureRequests(config);
    try {
      return await oidc.clientCredentialsGrant(config, this.tokenParameters());
    } catch (err) {
      const mapped = await this.mapError(err, 'token request', server);
      // An unreachable IdP may have moved: look its endpoints up again next time.
      if (mapped.retryable) this.server = undefined;
      throw mapped;
    }
  }

  /**
   * ADFS's client_credentials with Windows Integrated Authentication: SPNEGO at the token
   * endpoint (the SPN defaults to HTTP/<token endpoint host>), and its answer used only when its
   * mutual-authentication token proves the server holds the SPN's key.
   */
  private async kerberosGrant(
    server: oidc.ServerMetadata,
    auth: KerberosAuth,
  ): Promise<oidc.TokenEndpointResponse> {
    const identity = new KerberosIdentity(this.profile, auth, new URL(this.tokenEndpoint(server)).hostname);
    return identity.run(async (addon) => {
      const context = new SpnegoContext(addon, identity, this.profile);
      const verified: oidc.CustomFetch = async (url, options) => {
        const response = await this.boundedFetch(url, options);
        if (response.ok) await context.verify(negotiateToken(response.headers.get('www-authenticate')));
        return response;
      };
      return this.grant(server, kerberosClientAuth(context), verified);
    });
  }

  private get mtls(): boolean {
    const { method } = this.cfg.clientAuth;
    return method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';
  }

  /** scope, audience, resource (lists repeat the parameter) and extraParams, in that order. */
  private tokenParameters(): URLSearchParams {
    const params = new URLSearchParams();
    const add = (name: string, value: string | string[] | undefined) => {
      for (const v of value === undefined ? [] : [value].flat()) params.append(name, v);
    };
    add('scope', this.cfg.scope);
    add('audience', this.cfg.audience);
    add('resource', this.cfg.resource);
    for (const [name, value] of Object.entries(this.cfg.extraParams ?? {})) add(name, value);
    return params;
  }

  /** The token endpoint this client uses (the mutual-TLS alias when it authenticates with TLS). */
  private tokenEndpoint(server: oidc.ServerMetadata): string {
    return (this.mtls && server.mtls_endpoint_aliases?.token_endpoint) || server.token_endpoint || '';
  }

  private async discover(): Promise<oidc.ServerMetadata> {
    let server: oidc.ServerMetadata;
    try {
      const config = await oidc.discovery(new URL(this.cfg.issuer), this.cfg.clientId, undefined, undefined, {
        execute: this.insecure ? [oidc.allowInsecureRequests] : [],
        timeout: this.cfg.timeout / 1000,
        [oidc.customFetch]: this.boundedFetch,
      });
      server = config.serverMetadata();
    } catch (err) {
      throw await this.mapError(err, 'discovery');
    }
    this.checkTokenEndpoint(server);
    this.server = server;
    return server;
  }

  /**
   * The discovery document is the provider's word, not the operator's: its token endpoint must
   * pass the rule the schema holds the issuer to (https, or plain http only to loopback) before a
   * secret, assertion or certificate goes there. A loopback http issuer does not make every
   * endpoint it names acceptable over http.
   */
  private checkTokenEndpoint(server: oidc.ServerMetadata): void {
    const raw = this.tokenEndpoint(server);
    const name =
      this.mtls && server.mtls_endpoint_aliases?.token_endpoint
        ? 'mtls_endpoint_aliases.token_endpoint'
        : 'token_endpoint';
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (url && isHttpsOrLoopback(url)) return;
    throw new SourceError(
      'OIDC_ENDPOINT_INSECURE',
      url
        ? `the discovery document of ${this.cfg.issuer} names ${name} ${url.origin}${url.pathname}, which is neither https nor a loopback address; the broker sends no client credentials there. Fix the provider's public URL setting (Keycloak: frontend URL / KC_HOSTNAME; behind a proxy: X-Forwarded-Proto) so that it names https endpoints`
        : `the discovery document of ${this.cfg.issuer} names no usable ${name} (${JSON.stringify(raw).slice(0, 80)}); check source.issuer`,
      { profile: this.profile },
    );
  }

  private async clientAuth(): Promise<[oidc.ClientAuth, oidc.CustomFetch]> {
    const auth = this.cfg.clientAuth;
    switch (auth.method) {
      case 'client_secret_basic':
        return [clientSecretBasic(await readSecret(auth.clientSecret)), this.boundedFetch];
      case 'client_secret_post':
        return [clientSecretPost(await readSecret(auth.clientSecret)), this.boundedFetch];
      case 'private_key_jwt':
        return [await privateKeyJwt(auth, this.profile), this.boundedFetch];
      case 'tls_client_auth':
      case 'self_signed_tls_client_auth': {
        const { leaf, chain, privateKey } = await loadCertificateMaterial(auth, 'source.clientAuth');
        const tls = {
          cert: [leaf, ...chain].map((c) => c.toString()).join('\n'),
          key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        };
        return [tlsClientAuth(), this.fetchWith(fetchFor(this.network, tls))];
      }
      case 'kerberos':
        throw new Error('kerberos client authentication runs in kerberosGrant');
    }
  }

  /** fetch capped at OIDC_MAX_RESPONSE_BYTES. The cast only bridges lib.dom's narrower BodyInit typing of Uint8Array. */
  private fetchWith(base: Fetch): oidc.CustomFetch {
    const capped = cappedFetch(OIDC_MAX_RESPONSE_BYTES, base);
    return (url, options) => capped(url, options as RequestInit);
  }

  /** Turns openid-client/fetch failures into SourceErrors that say what to fix, and whether to retry. */
  private async mapError(
    err: unknown,
    step: 'discovery' | 'token request',
    server?: oidc.ServerMetadata,
  ): Promise<SourceError> {
    const where = `OIDC ${step} at ${this.cfg.issuer}`;
    const opts = { profile: this.profile, cause: err };
    // Kerberos failures (GSS errors, a mutual-authentication token that does not verify) already say what to fix.
    const own = causeOf(err, SourceError);
    if (own) return own;
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
    const method = this.cfg.clientAuth.method;
    const oauthError = await oauthErrorOf(err);
    if (oauthError) {
      const { error, description, status } = oauthError;
      const detail = description ? `${error}: ${description}` : error;
      // RFC 6749 §5.2: a 401 is a failed client authentication, whatever the error code says
      // (Keycloak answers a wrong secret with 401 unauthorized_client).
      if (error === 'invalid_client' || status === 401) {
        return new SourceError(
          'OIDC_CLIENT_REJECTED',
          `${where}: the provider rejected client "${this.cfg.clientId}" (HTTP ${status}, ${detail}); ${CLIENT_REJECTED_HINT[method]}`,
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
    const network = describeNetworkFailure(err);
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
    if (status !== undefined && status !== 200) {
      // No OAuth error in the answer: something before the provider (a WAF, an IP allow-list, a
      // reverse proxy) answered, or the provider refused without saying why.
      const endpoint = server ? this.tokenEndpoint(server) : this.cfg.issuer;
      return new SourceError(
        'OIDC_TOKEN_ERROR',
        `${where}: HTTP ${status} from ${endpoint} without an OAuth error in the body${statusHint(status, method)}`,
        { ...opts, retryable: status >= 500 || status === 429 },
      );
    }
    return new SourceError('OIDC_TOKEN_ERROR', `${where} failed (${message})`, {
      ...opts,
      retryable: status === undefined,
    });
  }
}

const CLIENT_REJECTED_HINT: Record<OidcSourceConfig['clientAuth']['method'], string> = {
  client_secret_basic:
    'check clientId and the client secret (is the secret file the current one?), and that the client is registered for client_secret_basic (else set clientAuth.method: client_secret_post)',
  client_secret_post:
    'check clientId and the client secret (is the secret file the current one?), and that the client is registered for client_secret_post (else set clientAuth.method: client_secret_basic)',
  private_key_jwt:
    "check clientId, that the provider holds this key's public key (kid), clientAuth.alg, and clientAuth.assertionAudience (token_endpoint or issuer: the provider's documentation says which `aud` it takes)",
  tls_client_auth:
    "check clientId and that the client certificate's subject (or SAN) is the one registered with the client, issued by a CA the provider trusts",
  self_signed_tls_client_auth: "check clientId and that the client's registered JWKS holds this certificate",
  kerberos:
    "check that the token endpoint accepts Windows Integrated Authentication for client_credentials (ADFS: a server application whose client is the principal's account, e.g. Add-AdfsServerApplication -ADUserPrincipalName), that clientId is that application's identifier, and that the SPN (auth.spn, default HTTP/<token endpoint host>) is the one registered for the ADFS service account",
};

function statusHint(status: number, method: OidcSourceConfig['clientAuth']['method']): string {
  if (status === 403) {
    return `; a firewall, IP allow-list (Okta network zones, Entra conditional access) or reverse proxy in front of the provider refused this host, or the provider refused client authentication without saying so: check that this host may reach the token endpoint, then ${CLIENT_REJECTED_HINT[method]}`;
  }
  if (status === 404 || status === 405) return '; the token endpoint is not there: check source.issuer';
  if (status >= 500) return '; the provider failed: retried';
  return '';
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

/** The OAuth error of a refusal. A challenge (WWW-Authenticate) may carry only the error code; the
 * body's error_description, which says why, is read too. */
async function oauthErrorOf(
  err: unknown,
): Promise<{ error: string; description?: string | undefined; status: number } | undefined> {
  if (err instanceof oidc.ResponseBodyError) {
    return { error: err.error, description: err.error_description, status: err.status };
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const params = err.cause[0]?.parameters;
    const body = await bodyErrorOf(err.response);
    return {
      error: params?.error ?? body?.error ?? 'invalid_client',
      description: params?.error_description ?? body?.error_description,
      status: err.status,
    };
  }
  return undefined;
}

async function bodyErrorOf(
  response: Response,
): Promise<{ error?: string; error_description?: string } | undefined> {
  try {
    const body = (await response.clone().json()) as { error?: unknown; error_description?: unknown };
    return {
      ...(typeof body.error === 'string' ? { error: body.error } : {}),
      ...(typeof body.error_description === 'string' ? { error_description: body.error_description } : {}),
    };
  } catch {
    return undefined;
  }
}
