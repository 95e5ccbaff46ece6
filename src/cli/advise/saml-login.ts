// `advise --saml-login` and its question: whether the SAML IdP lets this machine log in with a
// service account's password, or only with Windows Integrated Authentication (Kerberos from a
// keytab). It is what makes Kerberos the answer (decide.ts): only asked when it can change it.
import type { Facts } from './decide.ts';

export type SamlLogin = NonNullable<Facts['samlLogin']>;

const SAML_LOGINS: readonly SamlLogin[] = ['password', 'kerberos'];

export const SAML_LOGIN_QUESTION =
  'Does the SAML IdP allow this machine only Windows Integrated Authentication (Kerberos from a keytab), no service account with a password?';

/** Only with both a SAML IdP and Kerberos does the answer change the recommendation. */
export function asksSamlLogin(has: ReadonlySet<string>): boolean {
  return has.has('saml') && has.has('kerberos');
}

/** The --saml-login value, or a usage message saying what to write instead. */
export function parseSamlLogin(
  value: string | undefined,
  saml: boolean,
): { samlLogin: SamlLogin | undefined } | { problem: string } {
  if (value === undefined) return { samlLogin: undefined };
  if (!(SAML_LOGINS as readonly string[]).includes(value)) {
    return { problem: `--saml-login must be ${SAML_LOGINS.join(' or ')}, not "${value}"` };
  }
  if (!saml) {
    return { problem: '--saml-login says how the SAML IdP logs this machine in: add saml to --has' };
  }
  return { samlLogin: value as SamlLogin };
}
