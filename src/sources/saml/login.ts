// What every SAML login method shares: it is handed the profile's settings and an HTTP session,
// and returns the base64 SAMLResponse the IdP produced. One file per method; the source picks one.
import type { SamlSourceConfig } from '../../config/schema/index.ts';
import { SourceError } from '../../errors.ts';
import type { Fetch } from '../../outbound.ts';
import { parseForms, samlResponseOf } from './html.ts';
import { type Authorizer, type HttpAnswer, IdpSession } from './http.ts';

export interface LoginContext {
  profile: string;
  cfg: SamlSourceConfig;
  idpUrl: URL;
  /** Through the profile's proxy, trusting its caFile (outbound.ts fetchFor). */
  fetch: Fetch;
}

export interface SamlLogin {
  /** Logs in afresh and returns the base64 SAMLResponse. */
  login(): Promise<string>;
}

/** A fresh HTTP session (cookies, redirects, limits) with the IdP, answering 401s with `authorizer`. */
export function idpSession(ctx: LoginContext, authorizer?: Authorizer): IdpSession {
  return new IdpSession({
    profile: ctx.profile,
    idpUrl: ctx.idpUrl,
    allowedOrigins: ctx.cfg.auth.method === 'form' ? (ctx.cfg.auth.allowedOrigins ?? []) : undefined,
    timeout: ctx.cfg.timeout,
    maxResponseBytes: ctx.cfg.maxResponseBytes,
    fetch: ctx.fetch,
    authorizer,
  });
}

/** The SAMLResponse of the IdP's auto-post form, or a SAML_NO_RESPONSE error saying where it stopped. */
export function samlResponseFrom(answer: HttpAnswer, profile: string, hint: string): string {
  const value = samlResponseOf(parseForms(answer.body, answer.url));
  if (value) return value;
  throw new SourceError(
    'SAML_NO_RESPONSE',
    `the IdP's answer at ${answer.url.origin}${answer.url.pathname} (HTTP ${answer.status}) carries no SAMLResponse form; ${hint}`,
    { profile },
  );
}

/** `Basic` credentials, for the HTTP Basic and ECP logins. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
