// `form`: an IdP-initiated sign-on URL (ADFS IdpInitiatedSignOn, Keycloak, Shibboleth,
// SimpleSAMLphp) with a username/password form, as a browser would do it: follow redirects with
// cookies, fill the form as it stands (hidden inputs, selected options, checked boxes) plus
// auth.formFields, submit, and take the SAMLResponse of the auto-post form. The password goes only
// to the idpUrl's origin or an origin in auth.allowedOrigins. A page that asks again, says the
// account is locked, or asks for a second factor ends the login with its own code.
import { readSecret } from '../../config/secrets.ts';
import { SourceError } from '../../errors.ts';
import { type HtmlForm, parseForms, samlResponseOf, visibleText } from './html.ts';
import { expectSuccess, type HttpAnswer, originAllowed } from './http.ts';
import { idpSession, type LoginContext, type SamlLogin } from './login.ts';

interface FormAuth {
  username: string;
  password: string;
  usernameField?: string | undefined;
  passwordField?: string | undefined;
  formFields?: Record<string, string> | undefined;
  allowedOrigins?: string[] | undefined;
}

/** A formFields value of this form is a secret reference, read at each login. */
const SECRET_REF = /^(file|env|credential):./;

const MAX_PAGES = 6;
const MFA_FIELD = /otp|totp|passcode|verification|mfa|2fa|one.?time|security.?code|^code$|challenge/i;
const MFA_TEXT =
  /verification code|one-time|multi-factor|two-factor|2-step|second factor|authenticator app|\bMFA\b|\bOTP\b/i;
const LOCKED_TEXT = /\b(locked|disabled|suspended|deactivated)\b/i;
const ERROR_TEXT = /[^.!?]*\b(incorrect|invalid|wrong|failed|denied|locked|disabled)\b[^.!?]*[.!?]?/i;

export class FormLogin implements SamlLogin {
  constructor(
    private readonly ctx: LoginContext,
    private readonly auth: FormAuth,
  ) {}

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    const session = idpSession(this.ctx);
    let page = await session.request(idpUrl);
    let password: string | undefined;
    // Every secret the posted form held: quoted pages are scrubbed of each.
    const secrets: string[] = [];
    for (let step = 0; step < MAX_PAGES; step++) {
      expectSuccess(page, profile, password ? 'form login' : 'IdP-initiated sign-on');
      const forms = parseForms(page.body, page.url);
      const saml = samlResponseOf(forms);
      if (saml) return saml;
      const loginForm = forms.find((f) => this.passwordInput(f) !== undefined);
      this.refuseKnownDeadEnds(page, forms, loginForm, password, secrets);
      if (!loginForm) break;
      this.refuseForeignAction(loginForm);
      if (password === undefined) {
        password = await readSecret(this.auth.password);
        secrets.push(password);
      }
      page = await session.request(loginForm.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: (await this.fill(loginForm, password, secrets)).toString(),
      });
    }
    throw new SourceError(
      'SAML_NO_RESPONSE',
      `form login at ${idpUrl.origin} ended on ${page.url.origin}${page.url.pathname} without a SAMLResponse or a login form (page says: "${quote(page, secrets)}"); check source.idpUrl and that the user may sign in to the AWS relying party`,
      { profile },
    );
  }

  /** MFA prompt, locked account, or the login form again after we submitted it. */
  private refuseKnownDeadEnds(
    page: HttpAnswer,
    forms: HtmlForm[],
    loginForm: HtmlForm | undefined,
    password: string | undefined,
    secrets: string[],
  ): void {
    const { profile } = this.ctx;
    const text = visibleText(page.body);
    const user = this.auth.username;
    const asksSecondFactor =
      !loginForm &&
      (forms.some((f) => f.inputs.some((i) => i.type !== 'hidden' && MFA_FIELD.test(i.name))) ||
        MFA_TEXT.test(text));
    if (asksSecondFactor) {
      throw new SourceError(
        'SAML_MFA_REQUIRED',
        `the IdP asks "${user}" for a second factor (MFA), which an unattended login cannot give; exempt this service account from MFA for the AWS relying party (ADFS access control policy, Keycloak authentication flow), or use auth.method kerberos or ecp`,
        { profile },
      );
    }
    if (password !== undefined && LOCKED_TEXT.test(text)) {
      throw new SourceError(
        'SAML_ACCOUNT_LOCKED',
        `the IdP says the account "${user}" is locked or disabled (page says: "${quote(page, secrets)}"); unlock it at the directory, and check that no other client is retrying an old password`,
        { profile },
      );
    }
    if (password !== undefined && loginForm) {
      throw new SourceError(
        'SAML_LOGIN_REJECTED',
        `the IdP showed its login form again after the password for "${user}" was submitted (page says: "${quote(page, secrets)}"); check auth.username and the password secret`,
        { profile },
      );
    }
  }

  /** The password goes only where the config says: the idpUrl's origin or auth.allowedOrigins, over https or loopback. */
  private refuseForeignAction(form: HtmlForm): void {
    const { profile, idpUrl } = this.ctx;
    if (originAllowed(form.action, idpUrl, this.auth.allowedOrigins)) return;
    throw new SourceError(
      'SAML_ORIGIN_REFUSED',
      `the login form at ${idpUrl.origin} posts to ${form.action.origin}, which is not the idpUrl's origin; the password is not sent there. If that host is your IdP's login server, add "${form.action.origin}" to auth.allowedOrigins (https only, or http to loopback)`,
      { profile },
    );
  }

  private passwordInput(form: HtmlForm) {
    return form.inputs.find((i) =>
      this.auth.passwordField ? i.name === this.auth.passwordField : i.type === 'password',
    );
  }

  /** What a browser would post (parseForms keeps only the controls it sends), with the account and auth.formFields filled in. */
  private async fill(form: HtmlForm, password: string, secrets: string[]): Promise<URLSearchParams> {
    const passwordName = this.passwordInput(form)!.name;
    const usernameName =
      this.auth.usernameField ??
      form.inputs.find((i) => ['text', 'email'].includes(i.type) && i.name !== passwordName)?.name;
    const body = new URLSearchParams();
    for (const input of form.inputs) body.append(input.name, input.value);
    if (usernameName) body.set(usernameName, this.auth.username);
    body.set(passwordName, password);
    for (const [name, value] of Object.entries(this.auth.formFields ?? {})) {
      if (!SECRET_REF.test(value)) body.set(name, value);
      else {
        const secret = await readSecret(value);
        secrets.push(secret);
        body.set(name, secret);
      }
    }
    return body;
  }
}

/** A sentence of the page worth quoting (an error line, else its start), never containing a secret we sent. */
function quote(page: HttpAnswer, secrets: string[]): string {
  const text = visibleText(page.body);
  let line = (ERROR_TEXT.exec(text)?.[0] ?? text).trim().slice(0, 160);
  for (const secret of secrets) line = line.replaceAll(secret, '***');
  return line;
}
