// `basic`: an IdP-initiated sign-on URL behind HTTP Basic. The IdP answers with the auto-post form
// that a browser would submit to AWS; we take its SAMLResponse.
import { readSecret } from '../../config/secrets.ts';
import { SourceError } from '../../errors.ts';
import { type Authorizer, expectSuccess, type HttpAnswer } from './http.ts';
import {
  basicAuthorization,
  idpSession,
  type LoginContext,
  type SamlLogin,
  samlResponseFrom,
} from './login.ts';

type BasicAuth = { username: string; password: string };

/** Answers a Basic challenge once per URL (as a browser resends to each protected page); a second
 * 401 for the same URL means the credentials were refused. With `preemptive`, the credentials go
 * with the first request already (the session sends them only to idpUrl's origin, which the
 * config holds to https or loopback), and a server that challenges anyway (one that reads
 * credentials only after its own 401, with the cookie it set) still gets its one answer. */
export function basicAuthorizer(auth: BasicAuth, preemptive = false): Authorizer {
  const challenged = new Set<string>();
  const authorization = async () => basicAuthorization(auth.username, await readSecret(auth.password));
  return {
    ...(preemptive && { preemptive: authorization }),
    async challenge(answer: HttpAnswer) {
      const offered = answer.headers.get('www-authenticate') ?? '';
      if (challenged.has(answer.url.href) || !/\bbasic\b/i.test(offered)) return undefined;
      challenged.add(answer.url.href);
      return authorization();
    },
  };
}

/** The coded error for a 401 that survived the login method's answers. */
export function loginRejected(
  answer: HttpAnswer,
  username: string,
  profile: string,
  method: string,
): SourceError {
  const offered = answer.headers.get('www-authenticate') ?? 'nothing';
  return new SourceError(
    'SAML_LOGIN_REJECTED',
    `the IdP at ${answer.url.origin} refused ${method} login for "${username}" (HTTP 401, it offers: ${offered.slice(0, 100)}); check auth.username and the password secret, and that the account is enabled`,
    { profile },
  );
}

export class BasicLogin implements SamlLogin {
  constructor(
    private readonly ctx: LoginContext,
    private readonly auth: BasicAuth,
  ) {}

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    const session = idpSession(this.ctx, basicAuthorizer(this.auth));
    const answer = await session.request(idpUrl);
    if (answer.status === 401) throw loginRejected(answer, this.auth.username, profile, 'HTTP Basic');
    expectSuccess(answer, profile, 'IdP-initiated sign-on');
    return samlResponseFrom(
      answer,
      profile,
      'check that source.idpUrl is the IdP-initiated sign-on URL for AWS',
    );
  }
}
