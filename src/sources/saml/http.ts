// The HTTP side of every SAML login: fetch with a cookie jar, redirects followed by hand (so that
// cookies set on a 302 are kept and no redirect leaves https), a byte cap on every answer and a
// pluggable answer to `401` challenges (Basic, Negotiate). The logins only say what to send where.
import { ConfigError, SourceError } from '../../errors.ts';
import {
  BodyTooLargeError,
  causeOf,
  describeNetworkFailure,
  isHttpsOrLoopback,
  readCapped,
} from '../../net.ts';
import type { Fetch } from '../../outbound.ts';

export interface HttpAnswer {
  status: number;
  /** Where the answer came from, after redirects. */
  url: URL;
  headers: Headers;
  body: string;
}

/** Answers `401` challenges of the IdP (only of the IdP's own origin: credentials never follow a redirect elsewhere). */
export interface Authorizer {
  /** The `Authorization` value to send before any challenge (ECP: SimpleSAMLphp never sends a 401), or undefined. */
  preemptive?(url: URL): Promise<string | undefined>;
  /** The `Authorization` value to repeat the request with, or undefined to let the 401 through. */
  challenge(answer: HttpAnswer): Promise<string | undefined>;
  /** Sees every other answer of the IdP's origin (SPNEGO mutual authentication reads its token here). */
  answered?(answer: HttpAnswer): Promise<void>;
}

export interface SessionOptions {
  profile: string;
  /** The configured IdP URL: its origin is the one credentials are sent to. */
  idpUrl: URL;
  /** Further origins a request body (the login form's password) may go to (auth.allowedOrigins);
   * undefined for the login methods that have no such setting (their errors then name idpUrl). */
  allowedOrigins?: readonly string[] | undefined;
  timeout: number;
  maxResponseBytes: number;
  /** Every request's transport: the profile's proxy and caFile. */
  fetch: Fetch;
  authorizer?: Authorizer;
}

export interface RequestInit {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

interface Cookie {
  name: string;
  value: string;
  /** Lower-case host the cookie was set by, or the Domain attribute (then it matches subdomains too). */
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  expires: number | undefined;
}

const MAX_REDIRECTS = 10;
/** The User-Agent of every IdP request (ADFS decides by it whether to offer Windows authentication). */
export const BROKER_USER_AGENT = 'aws-credential-broker';
const MAX_CHALLENGES = 3;

/** One login's worth of browsing: cookies live as long as the session, which lives as long as one login. */
export class IdpSession {
  private cookies: Cookie[] = [];

  constructor(private readonly opts: SessionOptions) {}

  /** Sends a request and follows redirects; 401s of the IdP's origin go to the authorizer. */
  async request(target: URL | string, init: RequestInit = {}): Promise<HttpAnswer> {
    let url = new URL(target);
    let method = init.method ?? 'GET';
    let body = init.body;
    let headers = { ...init.headers };
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const answer = await this.exchange(url, method, headers, body);
      const location = answer.headers.get('location');
      if (answer.status >= 300 && answer.status < 400 && location) {
        const next = new URL(location, url);
        this.checkScheme(next);
        // 307/308 repeat the POST with its body (a login form's password): only to where it may go.
        if ((answer.status === 307 || answer.status === 308) && body !== undefined) {
          this.checkBodyTarget(url, next);
        }
        // 303 always, and 301/302 after a POST as browsers do, become a GET without a body.
        if (
          answer.status === 303 ||
          ((answer.status === 301 || answer.status === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
          headers = withoutContentType(headers);
        }
        url = next;
        continue;
      }
      return answer;
    }
    throw new SourceError(
      'SAML_IDP_ERROR',
      `the IdP at ${this.opts.idpUrl.origin} redirected more than ${MAX_REDIRECTS} times (a redirect loop: check source.idpUrl)`,
      { profile: this.opts.profile },
    );
  }

  /** One URL: the request, plus its repetitions for a 401 challenge. */
  private async exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<HttpAnswer> {
    const sameOrigin = url.origin === this.opts.idpUrl.origin;
    // Up-front credentials only where a challenge would be answered, and never over plain http off loopback.
    let authorization =
      sameOrigin && originAllowed(url, this.opts.idpUrl)
        ? await this.opts.authorizer?.preemptive?.(url)
        : undefined;
    for (let round = 0; ; round++) {
      const answer = await this.send(
        url,
        method,
        { ...headers, ...(authorization ? { authorization } : {}) },
        body,
      );
      // Another origin asking for the credentials (Basic, Negotiate) after a redirect gets none:
      // say so, rather than report the 401 as a refused password or ticket.
      if (answer.status === 401 && !sameOrigin && this.opts.authorizer) throw this.challengeElsewhere(answer);
      const authorizer = sameOrigin ? this.opts.authorizer : undefined;
      if (answer.status === 401 && authorizer && round < MAX_CHALLENGES) {
        authorization = await authorizer.challenge(answer);
        if (authorization !== undefined) continue;
      } else if (authorizer?.answered) {
        await authorizer.answered(answer);
      }
      return answer;
    }
  }

  private async send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<HttpAnswer> {
    const cookie = this.cookieHeader(url);
    let response: Response;
    try {
      response = await this.opts.fetch(url, {
        method,
        body,
        redirect: 'manual',
        headers: { 'user-agent': BROKER_USER_AGENT, ...headers, ...(cookie ? { cookie } : {}) },
        signal: AbortSignal.timeout(this.opts.timeout),
      });
    } catch (err) {
      // An unreadable network.caFile is the config's fault, not the IdP's.
      const configError = causeOf(err, ConfigError);
      if (configError) {
        throw new SourceError(configError.code, configError.message, {
          profile: this.opts.profile,
          cause: err,
        });
      }
      throw new SourceError(
        'SAML_IDP_UNREACHABLE',
        `cannot reach the IdP at ${url.origin} (${describeNetworkFailure(err) ?? (err as Error).message})`,
        { profile: this.opts.profile, retryable: true, cause: err },
      );
    }
    this.storeCookies(url, response.headers.getSetCookie());
    return {
      status: response.status,
      url,
      headers: response.headers,
      body: await this.readCapped(response, url),
    };
  }

  /** The body, refusing more than maxResponseBytes (what reaches the XML and HTML parsers is bounded). */
  private async readCapped(response: Response, url: URL): Promise<string> {
    try {
      return Buffer.from((await readCapped(response, this.opts.maxResponseBytes)).buffer).toString('utf8');
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new SourceError(
          'SAML_RESPONSE_TOO_LARGE',
          `the IdP at ${url.origin} answered with more than ${err.limit} bytes; raise source.maxResponseBytes if that is expected`,
          { profile: this.opts.profile },
        );
      }
      throw new SourceError(
        'SAML_IDP_UNREACHABLE',
        `the IdP at ${url.origin} broke off its answer (${describeNetworkFailure(err) ?? (err as Error).message})`,
        { profile: this.opts.profile, retryable: true, cause: err },
      );
    }
  }

  /** An IdP redirecting to plain http (off loopback) would expose the session cookie and the assertion. */
  private checkScheme(url: URL): void {
    if (isHttpsOrLoopback(url)) return;
    throw new SourceError(
      'SAML_IDP_ERROR',
      `the IdP redirected to ${url.origin}, which is not https; refusing to send the session there`,
      { profile: this.opts.profile },
    );
  }

  private checkBodyTarget(from: URL, to: URL): void {
    if (originAllowed(to, this.opts.idpUrl, this.opts.allowedOrigins)) return;
    throw new SourceError(
      'SAML_ORIGIN_REFUSED',
      `the IdP at ${from.origin} redirected the login POST (HTTP 307/308, which repeats its body) to ${to.origin}, which is not the idpUrl's origin; the ${this.opts.allowedOrigins ? 'form' : 'request'} is not sent there. ${this.ifLoginServer(to)}`,
      { profile: this.opts.profile },
    );
  }

  /** A 401 from an origin the credentials may not go to (the session was redirected there). */
  private challengeElsewhere(answer: HttpAnswer): SourceError {
    const scheme = (answer.headers.get('www-authenticate') ?? '').split(/[\s,]/)[0] || 'credentials';
    return new SourceError(
      'SAML_ORIGIN_REFUSED',
      `the IdP at ${this.opts.idpUrl.origin} redirected to ${answer.url.origin}, which asks for ${scheme} credentials (HTTP 401); the broker sends credentials only to source.idpUrl's origin, so none were sent there. ${this.ifLoginServer(answer.url, true)}`,
      { profile: this.opts.profile },
    );
  }

  private ifLoginServer(url: URL, credentials = false): string {
    return this.opts.allowedOrigins && !credentials
      ? `If that host is your IdP's login server, add "${url.origin}" to auth.allowedOrigins`
      : `If that host is your IdP's login server, set source.idpUrl to ${url.origin}${url.pathname}${url.search}`;
  }

  private storeCookies(url: URL, setCookies: string[]): void {
    const host = url.hostname.toLowerCase();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        domain: host,
        hostOnly: true,
        path: '/',
        secure: false,
        expires: undefined,
      };
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const value = rest.join('=').trim();
        if (key === 'domain' && value) {
          const domain = value.replace(/^\./, '').toLowerCase();
          // A server may only set cookies for itself or a parent domain of itself.
          if (host === domain || host.endsWith(`.${domain}`)) {
            cookie.domain = domain;
            cookie.hostOnly = false;
          }
        } else if (key === 'path' && value.startsWith('/')) cookie.path = value;
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'max-age' && /^-?\d+$/.test(value))
          cookie.expires = Date.now() + Number(value) * 1000;
        else if (key === 'expires' && cookie.expires === undefined) {
          const at = Date.parse(value);
          if (!Number.isNaN(at)) cookie.expires = at;
        }
      }
      this.cookies = this.cookies.filter(
        (c) => !(c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path),
      );
      if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie);
    }
  }

  private cookieHeader(url: URL): string | undefined {
    const host = url.hostname.toLowerCase();
    const now = Date.now();
    const matching = this.cookies.filter(
      (c) =>
        (c.hostOnly ? host === c.domain : host === c.domain || host.endsWith(`.${c.domain}`)) &&
        (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) &&
        (!c.secure || url.protocol === 'https:') &&
        (c.expires === undefined || c.expires > now),
    );
    return matching.length > 0 ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

/** Whether a request carrying credentials may go to `url`: the idpUrl's origin or one listed, over https or loopback http. */
export function originAllowed(url: URL, idpUrl: URL, allowedOrigins: readonly string[] = []): boolean {
  if (!isHttpsOrLoopback(url)) return false;
  return url.origin === idpUrl.origin || allowedOrigins.some((o) => new URL(o).origin === url.origin);
}

function withoutContentType(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-type'));
}

/** Throws the coded error for an IdP answer that is not a success (5xx and 429 are worth retrying). */
export function expectSuccess(answer: HttpAnswer, profile: string, step: string): void {
  if (answer.status >= 200 && answer.status < 300) return;
  throw new SourceError(
    'SAML_IDP_ERROR',
    `${step}: the IdP answered HTTP ${answer.status} at ${answer.url.origin}${answer.url.pathname}`,
    { profile, retryable: answer.status >= 500 || answer.status === 429 },
  );
}
