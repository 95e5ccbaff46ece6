// Source `saml`: an unattended login at a SAML 2.0 IdP (ecp, form, basic, kerberos).
import * as z from 'zod';
import { DurationSchema, HttpUrlSchema, SecretRefSchema, TextOrSecretRefSchema } from '../common.ts';
import { KerberosKeytabShape } from './kerberos.ts';

const SamlUsernameSchema = z.string().min(1, { error: 'username must not be empty' });
const SAML_USERNAME = {
  description:
    "The service account's login name, in the form the IdP expects (plain config: it is not a secret).",
  examples: ['EXAMPLE\\svc-billing', 'svc-billing@example.com'],
};
const SAML_PASSWORD = {
  description:
    "The account's password, as a secret reference; read again on every login, so rotating it needs no restart.",
  examples: ['file:/etc/credential-broker/secrets/svc-billing'],
};

const SamlEcpAuthSchema = z.strictObject({
  method: z.literal('ecp').meta({
    description:
      "SAML ECP: an AuthnRequest for AWS in a SOAP envelope, posted to `idpUrl` (the IdP's ECP endpoint) with HTTP Basic; the standard unattended profile.",
  }),
  username: SamlUsernameSchema.meta(SAML_USERNAME),
  password: SecretRefSchema.meta(SAML_PASSWORD),
});

const SamlFormAuthSchema = z.strictObject({
  method: z.literal('form').meta({
    description:
      'Fill in and post the login form at the IdP-initiated sign-on URL (redirects and cookies followed), as a browser would.',
  }),
  username: SamlUsernameSchema.meta(SAML_USERNAME),
  password: SecretRefSchema.meta(SAML_PASSWORD),
  usernameField: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: "Name of the login form's username input, for a page with several text inputs.",
      defaultText: "the form's text input",
      examples: ['UserName'],
    }),
  passwordField: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: "Name of the login form's password input.",
      defaultText: "the form's password input",
      examples: ['Password'],
    }),
  formFields: z
    .record(z.string().min(1), TextOrSecretRefSchema)
    .optional()
    .meta({
      description:
        'Further login form fields, name → value, set over what the form holds (its selected option, checked boxes, hidden inputs), e.g. the organization of a `<select>` picker. A value `file:…`, `env:…` or `credential:…` is a secret reference, read at each login.',
      examples: [{ organization: 'billing' }],
    }),
  allowedOrigins: z
    .array(
      HttpUrlSchema.refine(isOrigin, {
        error: 'expected an origin like https://login.example.com (scheme, host and port; no path)',
      }),
    )
    .optional()
    .meta({
      description:
        "Origins besides idpUrl's that the login form may post the password to (an IdP whose sign-on page and login server are different hosts). The form's action, and any 307/308 redirect of the post, must be one of these or idpUrl's origin (`SAML_ORIGIN_REFUSED`).",
      defaultText: "idpUrl's origin only",
      examples: [['https://login.example.com']],
    }),
});

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  } catch {
    return true;
  }
}

const SamlBasicAuthSchema = z.strictObject({
  method: z.literal('basic').meta({
    description: 'The IdP-initiated sign-on URL is behind HTTP Basic authentication.',
  }),
  username: SamlUsernameSchema.meta(SAML_USERNAME),
  password: SecretRefSchema.meta(SAML_PASSWORD),
});

const SamlKerberosAuthSchema = z.strictObject({
  method: z.literal('kerberos').meta({
    description:
      'SPNEGO (`Authorization: Negotiate`) with tickets the broker gets from a keytab, as ADFS Windows Integrated Authentication does: no password anywhere. Needs the `kerberos` addon (libkrb5-dev).',
  }),
  ...KerberosKeytabShape,
});

export const SamlSourceSchema = z.strictObject({
  type: z.literal('saml').meta({
    description:
      'Log in to a SAML 2.0 IdP without a browser and exchange the SAML Response it issues for AWS at STS AssumeRoleWithSAML.',
  }),
  idpUrl: HttpUrlSchema.meta({
    description:
      "The IdP-initiated sign-on URL (`form`, `basic`, `kerberos`) or the IdP's SAML ECP endpoint (`ecp`). https only (plain http only to a loopback address); credentials are sent only to this URL's origin.",
    examples: ['https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices'],
  }),
  auth: z
    .discriminatedUnion(
      'method',
      [SamlEcpAuthSchema, SamlFormAuthSchema, SamlBasicAuthSchema, SamlKerberosAuthSchema],
      { error: 'auth.method must be ecp, form, basic or kerberos' },
    )
    .meta({ description: 'How the broker logs in to the IdP, chosen by `method`.' }),
  principalArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]{1,128}$/, {
      error: 'expected a SAML provider ARN, like arn:aws:iam::123456789012:saml-provider/ADFS',
    })
    .optional()
    .meta({
      description:
        'The IAM SAML provider to use when the assertion offers `role.arn` through several providers (otherwise `SAML_ROLE_AMBIGUOUS`).',
      defaultText: 'the one provider offering `role.arn`',
      examples: ['arn:aws:iam::123456789012:saml-provider/ADFS'],
    }),
  timeout: DurationSchema.default(10_000).meta({ description: 'Bound on each HTTP request to the IdP.' }),
  maxResponseBytes: z.number().int().min(16_384).max(16_777_216).default(1_048_576).meta({
    description:
      'Largest IdP answer (page or assertion) read, in bytes; a larger one is refused (`SAML_RESPONSE_TOO_LARGE`). It bounds the hostile XML and HTML that reach the parsers.',
  }),
});
