// Codes of the SAML source and its Kerberos login (docs/saml.md, docs/kerberos.md).
import type { CodeInfo } from './types.ts';

export const SAML_CODES = {
  // SAML
  SAML_IDP_UNREACHABLE: {
    meaning: 'network, proxy or TLS-certificate error, or timeout, talking to the SAML IdP',
    fix: 'reach `idpUrl` from the host; fix `network.proxy` or `network.caFile`',
    retried: 'yes',
    docs: ['saml'],
  },
  SAML_IDP_ERROR: {
    meaning:
      'the IdP answered an HTTP error, a SOAP fault, a redirect loop, a redirect off https, or an HTML page to ECP',
    fix: 'fix `idpUrl` or `auth.method` for this IdP; look at the IdP logs',
    retried: 'if 5xx / 429',
    docs: ['saml'],
  },
  SAML_ORIGIN_REFUSED: {
    meaning:
      "the login form posts to, or a 307/308 of a POST (form or ECP) goes to, an origin other than `idpUrl`'s; or a redirect leads to another origin that asks for Basic or Negotiate credentials (sent only to `idpUrl`'s origin)",
    fix: '`form`: add that origin to `auth.allowedOrigins` if it is the login server; `basic`, `ecp`, `kerberos`: set `idpUrl` to the URL on that host (the error names it)',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_LOGIN_REJECTED: {
    meaning:
      'wrong username or password (401, the login form again, or an ECP status such as `WRONGUSERPASS`)',
    fix: 'fix `auth.username` / `auth.password`',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_ACCOUNT_LOCKED: {
    meaning: 'the IdP answered a locked-account page',
    fix: 'fix the password first, then unlock the account at the IdP or in AD',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_MFA_REQUIRED: {
    meaning: 'the IdP asks for MFA',
    fix: 'exempt the service account from MFA for the AWS relying party',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_NO_RESPONSE: {
    meaning: 'the login ended on a page without a `SAMLResponse` form',
    fix: 'use the IdP-initiated URL for AWS as `idpUrl`; allow the account to use the AWS relying party',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_RESPONSE_TOO_LARGE: {
    meaning: 'an IdP answer above `source.maxResponseBytes`',
    fix: 'raise `source.maxResponseBytes` (up to 16 MiB) if the answer is legitimate',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_RESPONSE_MALFORMED: {
    meaning: 'not base64, XML or schema-valid SAML 2.0',
    fix: "check `idpUrl`; look at the IdP's logs",
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_RESPONSE_HOSTILE: {
    meaning: 'a DTD (XXE, entity expansion) or more than one Assertion (signature wrapping)',
    fix: 'investigate what sits between the broker and the IdP',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_RESPONSE_UNSIGNED: {
    meaning: 'the assertion is not signed',
    fix: 'make the IdP sign assertions for the AWS relying party',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_IDP_STATUS: {
    meaning: 'a non-Success SAML status: the IdP refused to issue the assertion',
    fix: "see the status in the message and the IdP's logs",
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_ATTRIBUTE_MISSING: {
    meaning: 'no Role or RoleSessionName attribute in the assertion',
    fix: 'add the two attributes (claim rules, mappers) at the IdP',
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_RESPONSE_EXPIRED: {
    meaning: "the assertion's NotOnOrAfter has passed",
    fix: "fix the host's or the IdP's time sync",
    retried: 'yes',
    docs: ['saml'],
  },
  SAML_ROLE_NOT_OFFERED: {
    meaning: "`role.arn` is not among the assertion's roles (the message lists them)",
    fix: "add the role to the account's Role values, or fix `role.arn`",
    retried: 'slow',
    docs: ['saml'],
  },
  SAML_ROLE_AMBIGUOUS: {
    meaning: 'the role is offered by several IAM SAML providers',
    fix: 'set `source.principalArn`',
    retried: 'slow',
    docs: ['saml'],
  },
  // Kerberos
  KERBEROS_UNAVAILABLE: {
    meaning: 'the optional `kerberos` addon is not installed or not built',
    fix: 'install libkrb5-dev and a compiler, then reinstall the broker (docs/kerberos.md)',
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_KDC_UNREACHABLE: {
    meaning: 'no KDC answers',
    fix: 'fix the KDC addresses in krb5.conf (`auth.krb5Conf`) and the network (88/tcp, 88/udp)',
    retried: 'yes',
    docs: ['kerberos'],
  },
  KERBEROS_TICKET_EXPIRED: {
    meaning: 'cached tickets expired and none could be had with the keytab',
    fix: 'make a KDC reachable',
    retried: 'yes',
    docs: ['kerberos'],
  },
  KERBEROS_CLOCK_SKEW: {
    meaning: 'the host and KDC clocks differ by more than the allowed skew',
    fix: 'fix time sync (NTP)',
    retried: 'yes',
    docs: ['kerberos'],
  },
  KERBEROS_KEYTAB: {
    meaning: 'the keytab is unreadable, or holds no key for the principal',
    fix: '`klist -k` the keytab; fix `auth.principal` / `auth.realm` / `auth.keytab`',
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_KVNO: {
    meaning: "the keytab's keys are older than the KDC's (kvno)",
    fix: 'export a new keytab after the password change',
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_PRINCIPAL_UNKNOWN: {
    meaning: 'the KDC knows no such principal',
    fix: 'fix `auth.principal` / `auth.realm`',
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_SPN_UNKNOWN: {
    meaning: 'the KDC knows no service principal for the IdP (the message names it)',
    fix: "register the SPN on the IdP's service account, or fix `idpUrl` / `auth.spn`",
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_NOT_OFFERED: {
    meaning: 'the IdP does not offer `Negotiate`',
    fix: 'enable Windows Integrated Authentication (ADFS) or Kerberos (Keycloak) for this client',
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_REJECTED: {
    meaning: 'the IdP did not accept the ticket',
    fix: "check that the SPN belongs to the account the IdP runs as, and the IdP's keytab",
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_MUTUAL_AUTH_FAILED: {
    meaning: "the IdP's final `Negotiate` token does not verify; its answer is not used",
    fix: "check that the IdP's keytab is the SPN's, and that nothing else answers for the IdP",
    retried: 'slow',
    docs: ['kerberos'],
  },
  KERBEROS_FAILED: {
    meaning: 'any other GSSAPI failure',
    fix: 'see the message; `KRB5_TRACE=/dev/stderr` on `check` shows the library trace',
    retried: 'slow',
    docs: ['kerberos'],
  },
} as const satisfies Record<string, CodeInfo>;
