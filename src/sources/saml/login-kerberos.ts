// `kerberos`: the IdP-initiated sign-on URL with SPNEGO (`Authorization: Negotiate`), as ADFS
// Windows Integrated Authentication and Keycloak's Kerberos login do it, from a keytab: no password
// anywhere. GSSAPI (the `kerberos` addon, MIT krb5) gets and re-gets the tickets itself from the
// client keytab into a credential cache private to the broker, one per profile and principal.
//
// The keytab, ticket cache and error mapping are src/sources/kerberos-client.ts, shared with the
// OIDC `kerberos` client authentication.
import { SourceError } from '../../errors.ts';
import type { KerberosAddon } from '../kerberos-addon.ts';
import { type KerberosAuth, KerberosIdentity, negotiateToken, SpnegoContext } from '../kerberos-client.ts';
import { pageTitle, parseForms, samlResponseOf } from './html.ts';
import { type Authorizer, BROKER_USER_AGENT, expectSuccess, type HttpAnswer } from './http.ts';
import { idpSession, type LoginContext, type SamlLogin, samlResponseFrom } from './login.ts';

export class KerberosLogin implements SamlLogin {
  private readonly identity: KerberosIdentity;

  constructor(
    private readonly ctx: LoginContext,
    auth: KerberosAuth,
  ) {
    this.identity = new KerberosIdentity(ctx.profile, auth, ctx.idpUrl.hostname);
  }

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    return this.identity.run(async (kerberos) => {
      const negotiate = new NegotiateAuthorizer(kerberos, this.identity, profile);
      const session = idpSession(this.ctx, negotiate);
      const answer = await session.request(idpUrl);
      if (answer.status === 401) throw this.refused(answer, negotiate.sent);
      expectSuccess(answer, profile, 'Kerberos sign-on');
      if (!negotiate.sent && !samlResponseOf(parseForms(answer.body, answer.url)))
        throw this.pageInstead(answer);
      return samlResponseFrom(
        answer,
        profile,
        'check that source.idpUrl is the IdP-initiated sign-on URL for AWS',
      );
    });
  }

  /** A page (ADFS: its forms login) where a Negotiate challenge was expected. */
  private pageInstead(answer: HttpAnswer): SourceError {
    const forms = parseForms(answer.body, answer.url);
    const loginForm = forms.some((f) => f.inputs.some((i) => i.type === 'password'));
    const title = pageTitle(answer.body);
    return new SourceError(
      'KERBEROS_NOT_OFFERED',
      `the IdP at ${answer.url.origin}${answer.url.pathname} answered with ${loginForm ? 'a login form' : 'a page'}${title ? ` ("${title}")` : ''} instead of a Negotiate challenge, so no Kerberos ticket was asked for. ADFS shows its forms page to user agents not in WIASupportedUserAgents: the broker's is "${BROKER_USER_AGENT}", add it (Set-AdfsProperties -WIASupportedUserAgents ((Get-AdfsProperties).WIASupportedUserAgents + "${BROKER_USER_AGENT}")) and allow Windows authentication for the intranet; other IdPs: enable Kerberos/SPNEGO login for this URL`,
      { profile: this.ctx.profile },
    );
  }

  private refused(answer: HttpAnswer, sent: boolean): SourceError {
    const offered = answer.headers.get('www-authenticate') ?? '';
    if (!/\bnegotiate\b/i.test(offered)) {
      return new SourceError(
        'KERBEROS_NOT_OFFERED',
        `the IdP at ${answer.url.origin} does not offer Negotiate (it offers: ${offered.slice(0, 80) || 'nothing'}); enable Windows Integrated Authentication (ADFS: intranet authentication policy) or Kerberos (Keycloak: user federation with Kerberos) for this URL, or reach the IdP by the name its SPN has`,
        { profile: this.ctx.profile },
      );
    }
    return new SourceError(
      'KERBEROS_REJECTED',
      `the IdP at ${answer.url.origin} did not accept the Kerberos ticket of ${this.identity.principal}${sent ? '' : ' (none was sent)'}; check that ${this.identity.spn} is the SPN registered for the IdP's service account, that the IdP's keytab is current, that this host's clock agrees with the IdP's (NTP), and that the IdP maps ${this.identity.principal} to a user`,
      { profile: this.ctx.profile },
    );
  }
}

/** SPNEGO over HTTP (RFC 4559): token on 401 challenges, the server's last token checked for mutual auth. */
class NegotiateAuthorizer implements Authorizer {
  sent = false;
  private context: SpnegoContext | undefined;
  /** The URL the current context was started for: a bare challenge from another URL starts a new one. */
  private contextUrl: string | undefined;

  constructor(
    private readonly kerberos: KerberosAddon,
    private readonly identity: KerberosIdentity,
    private readonly profile: string,
  ) {}

  async challenge(answer: HttpAnswer): Promise<string | undefined> {
    const offer = negotiateToken(answer.headers.get('www-authenticate'));
    if (offer === undefined) return undefined;
    if (!this.context || (offer === '' && this.contextUrl !== answer.url.href)) {
      this.contextUrl = answer.url.href;
      this.context = new SpnegoContext(this.kerberos, this.identity, this.profile);
      this.sent = true;
      return `Negotiate ${await this.context.start()}`;
    }
    // A 401 with a token continues the exchange; a bare one means our token was refused.
    if (!offer || this.context.complete) return undefined;
    return `Negotiate ${await this.context.continue(offer)}`;
  }

  async answered(answer: HttpAnswer): Promise<void> {
    // Its answer (and the assertion in it) is trusted only if the IdP proves to be the SPN.
    await this.context?.verify(negotiateToken(answer.headers.get('www-authenticate')));
  }
}
