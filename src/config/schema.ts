// The one source of truth for configuration: these zod schemas give both the TypeScript types
// (`Config`, `Profile`, ...) and the validation, with messages that say what to write instead.
// Adding a source type = one more member of `SourceSchema` (and its file in src/sources/).
// Every setting carries `.meta({ description })`: docs/config-reference.md is generated from it
// (`npm run docs:config`) and a test fails on a setting without one. Shared schemas (DurationSchema,
// SecretRefSchema, ...) carry none, so that each use has to say what it is for. `defaultText` states
// a default applied at run time rather than by the schema (the reference shows it as the default).
import { isIP } from 'node:net';
import { z } from 'zod';
import { isHttpsOrLoopback, isLoopbackHost, parseListen } from '../net.ts';
import { parseDuration } from './duration.ts';

const DURATION_HELP = 'a duration such as 90s, 15m or 1h (or a number of seconds)';

/** The longest a Node timer waits (2^31-1 ms, 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function durationSchema(max: { ms: number; text: string }) {
  return z.union([z.number(), z.string()], { error: `expected ${DURATION_HELP}` }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not ${DURATION_HELP}` });
      return z.NEVER;
    }
    if (ms > max.ms) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is too long: this duration is at most ${max.text}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * A duration in config, normalised to milliseconds. Most become timers, and Node fires a longer
 * timer than 2^31-1 ms after 1 ms (with only a warning): `sts.timeout: 30d` would abort every STS
 * call at once, `backoff.max: 30d` retry in a loop.
 */
export const DurationSchema = durationSchema({ ms: MAX_TIMER_MS, text: '24d' });

/** A duration only compared with a certificate's remaining lifetime, never a timer: months are
 * normal there. */
export const ThresholdDurationSchema = durationSchema({ ms: 400 * 86_400_000, text: '400d' });

/**
 * Where a secret lives. Secrets are never inline in the config file, so that the file can be
 * world-readable, versioned and shown in bug reports; each use re-reads the reference, so rotating
 * a secret needs no restart.
 */
export const SecretRefSchema = z
  .string({ error: 'expected a secret reference: file:/path, env:NAME or credential:NAME' })
  .regex(/^(file|env|credential):.+$/, {
    error:
      'secrets are never written inline: use file:/path/to/secret, env:VARIABLE or credential:NAME (a systemd LoadCredential= name)',
  });

const PROFILE_NAME_HELP = 'profile names use letters, digits, "_", "." and "-" (at most 64)';
const ProfileNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: PROFILE_NAME_HELP });

const RoleArnSchema = z
  .string({ error: 'expected an IAM role ARN, like arn:aws:iam::123456789012:role/NAME' })
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
    error: 'expected an IAM role ARN, like arn:aws:iam::123456789012:role/NAME',
  });

const PolicyArnSchema = z.string().regex(/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]+$/, {
  error: 'expected a managed policy ARN, like arn:aws:iam::aws:policy/ReadOnlyAccess',
});

/** Credentials and client secrets cross these URLs, so plain http is only allowed to loopback (tests, emulators). */
const HttpUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .refine(httpOnlyToLoopback, {
    error: 'use https: plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost)',
  });

/** zod runs this refinement even when the URL check failed: it must not throw on a non-URL
 * (that escaped as an exit-1 "Invalid URL" naming neither file nor setting), and it leaves
 * non-http values to the URL check's one message. */
function httpOnlyToLoopback(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return true;
  }
  return url.protocol !== 'http:' || isHttpsOrLoopback(url);
}

/** STS client settings; on the top level they are the default for every profile. The run-time
 * defaults (`defaultText`) are DEFAULT_STS in src/sts/request.ts; the reference test checks that
 * they agree. */
export const StsSettingsSchema = z.strictObject({
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region, like us-east-1 or eu-west-1' })
    .optional()
    .meta({
      description:
        'AWS region whose regional STS endpoint (sts.REGION.amazonaws.com) is called; us-east-1 is also what the global endpoint means.',
      defaultText: '`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`',
      examples: ['eu-west-1'],
    }),
  endpoint: HttpUrlSchema.optional().meta({
    description:
      'STS endpoint URL to call instead of the regional one: an STS VPC endpoint, or a test emulator. https only (plain http only to a loopback address).',
    defaultText:
      '`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL` (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional endpoint',
    examples: ['https://vpce-0abc-123.sts.eu-west-1.vpce.amazonaws.com'],
  }),
  timeout: DurationSchema.optional().meta({
    description:
      'Bound on one STS call, so that a hung connection cannot stall a refresh (the refresh is then retried with backoff).',
    defaultText: '`10s`',
  }),
  useFipsEndpoint: z.boolean().optional().meta({
    description: "Call the region's FIPS 140 endpoint, sts-fips.REGION.amazonaws.com.",
    defaultText: '`false`',
  }),
  clockSkewTolerance: DurationSchema.optional().meta({
    description:
      "Log a warning when STS's clock and this host's differ by more than this (the skew is a metric either way). Served expirations are corrected for the skew; beyond 15 min SigV4 signing itself fails.",
    defaultText: '`5m`',
  }),
});

/** The proxy URL's own user:pass@ (http://user:pass@host) is refused: secrets are never written
 * inline. zod runs this even when the URL check failed, so it must not throw on a non-URL. */
function proxyHasNoCredentials(text: string): boolean {
  try {
    const url = new URL(text);
    return url.username === '' && url.password === '';
  } catch {
    return true;
  }
}

/** How outbound requests (STS, Roles Anywhere, the IdP) leave this host. */
export const NetworkSchema = z
  .strictObject({
    proxy: z
      .string()
      .refine((v) => v === 'none' || /^https?:\/\/[^/\s]+(\/.*)?$/.test(v), {
        error: 'proxy must be an http(s)://host:port URL or "none"',
      })
      .refine(proxyHasNoCredentials, {
        error:
          'the proxy URL carries credentials (user:password@): secrets are never written inline; remove them from the URL and set network.proxyAuth: { username: NAME, password: file:/path } (or env:NAME, credential:NAME)',
      })
      .optional()
      .meta({
        description:
          'HTTP CONNECT proxy for STS, Roles Anywhere, OIDC issuer and SAML IdP requests, `http(s)://host:port`, or `none` to ignore the proxy environment variables. A proxy that is down fails the request (retried), never a silent direct connection. Credentials go in `proxyAuth`, never in the URL.',
        defaultText: '`$HTTPS_PROXY` or `$https_proxy` (which may carry `user:password@`)',
        examples: ['http://proxy.corp.example:3128'],
      }),
    proxyAuth: z
      .strictObject({
        username: z
          .string()
          .min(1)
          .regex(/^[^:]+$/, { error: 'a proxy user name cannot contain ":"' })
          .meta({
            description: 'User name the broker gives the proxy (HTTP Basic `Proxy-Authorization`).',
            examples: ['svc-broker'],
          }),
        password: SecretRefSchema.meta({
          description:
            'The proxy password, as a secret reference; read again for every connection, so rotating it needs no restart.',
          examples: ['file:/etc/credential-broker/secrets/proxy-password'],
        }),
      })
      .optional()
      .meta({
        description:
          'Credentials for `proxy` (same `network` section): sent only to that proxy, never to a proxy named elsewhere or taken from the environment.',
      }),
    noProxy: z
      .array(z.string().min(1))
      .optional()
      .meta({
        description:
          'Hosts reached without the proxy: exact names, `.domain` suffixes, IP addresses, each with an optional `:port`, or `*` for every host.',
        defaultText: '`$NO_PROXY` or `$no_proxy` (comma-separated)',
        examples: [['.corp.example', '192.0.2.10', 'sts.eu-west-1.amazonaws.com:443']],
      }),
    caFile: z.string().min(1).optional().meta({
      description:
        "PEM file of extra CA certificates to trust on outbound TLS, e.g. a TLS-inspecting proxy's; the system roots stay trusted.",
    }),
  })
  .refine((n) => !n.proxyAuth || (n.proxy !== undefined && n.proxy !== 'none'), {
    error:
      'proxyAuth needs a proxy in the same network section: set network.proxy to the proxy these credentials are for',
    path: ['proxyAuth'],
  });

const ClientSecretAuthSchema = z.strictObject({
  method: z.enum(['client_secret_basic', 'client_secret_post']).meta({
    description:
      'Send the client secret in an HTTP Basic `Authorization` header (`client_secret_basic`) or in the token request body (`client_secret_post`), whichever the client is registered for.',
  }),
  clientSecret: SecretRefSchema.meta({
    description:
      'The client secret, as a secret reference; read again on every token request, so rotating it needs no restart.',
    examples: ['file:/etc/credential-broker/secrets/billing-batch'],
  }),
});

const PrivateKeyJwtAuthSchema = z.strictObject({
  method: z.literal('private_key_jwt').meta({
    description:
      'Authenticate with a JWT signed by a private key (RFC 7523): the provider holds only the public key, so no shared secret exists.',
  }),
  privateKey: SecretRefSchema.meta({
    description:
      'The signing key: a PEM (PKCS#8, PKCS#1 `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY`) or a private JWK (JSON), as a secret reference; read again on every token request.',
    examples: ['credential:oidc-key'],
  }),
  alg: z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']).default('RS256').meta({
    description:
      'Signature algorithm of the client assertion; it must suit the key type (RSA: RS256/PS256, EC P-256: ES256, P-384: ES384, Ed25519: EdDSA).',
  }),
  keyId: z.string().optional().meta({
    description: '`kid` header of the client assertion, for providers that select the key by it.',
    defaultText: "the JWK's own `kid`, if any",
  }),
  assertionAudience: z.enum(['token_endpoint', 'issuer']).default('token_endpoint').meta({
    description:
      "`aud` of the client assertion: the token endpoint URL (what OpenID Connect Core 9 recommends; Okta, Entra ID, ADFS and Keycloak's default accept it) or the issuer (Auth0, Keycloak with strict audience checks, FAPI 2.0 servers).",
  }),
  certificate: SecretRefSchema.optional().meta({
    description:
      "The PEM certificate of the signing key, as a reference (`file:` ...): its SHA-256 and SHA-1 thumbprints go into the assertion's `x5t#S256` and `x5t` headers, which Entra ID and ADFS use to find the key of a certificate credential.",
    examples: ['file:/etc/credential-broker/secrets/billing-batch.crt'],
  }),
});

/** The certificate + key settings of the `x509` source, also used for mutual TLS at a token endpoint. */
const CertificateMaterialShape = {
  certificateFile: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        'PEM certificate; more certificates after it in the same file (a fullchain.pem) are sent as the chain. Read again on every exchange, so a renewal on disk needs no restart. Required unless `pkcs12File` is set.',
      examples: ['/etc/pki/broker/host.crt'],
    }),
  chainFile: z.string().min(1).optional().meta({
    description: "PEM intermediates between the certificate and its CA's trusted root.",
  }),
  privateKey: SecretRefSchema.optional().meta({
    description:
      "The certificate's PEM private key (PKCS#8, PKCS#1 or SEC1; RSA or EC; encrypted with `passphrase` or not), as a secret reference. Required unless `pkcs12File` is set.",
    examples: ['file:/etc/pki/broker/host.key'],
  }),
  pkcs12File: z.string().min(1).optional().meta({
    description:
      'Instead of `certificateFile` + `privateKey`: a PKCS#12 (.p12/.pfx) bundle holding both (and the chain). PBES2/AES bundles only, as OpenSSL 3 writes; a legacy RC2/3DES bundle is refused with the command that re-exports it.',
  }),
  passphrase: SecretRefSchema.optional().meta({
    description: 'Passphrase of an encrypted private key or of the PKCS#12 bundle, as a secret reference.',
    examples: ['credential:host-key-passphrase'],
  }),
};

const TlsClientAuthSchema = z.strictObject({
  method: z.enum(['tls_client_auth', 'self_signed_tls_client_auth']).meta({
    description:
      "Mutual TLS at the token endpoint (RFC 8705): the client certificate authenticates the client, no secret is sent. `tls_client_auth`: a certificate from a CA the provider trusts, matched by subject; `self_signed_tls_client_auth`: a certificate registered with the client (its JWKS). The provider's `mtls_endpoint_aliases` are used when it publishes them.",
  }),
  ...CertificateMaterialShape,
});

/** A client principal and its keytab: SAML `kerberos` login and OIDC `kerberos` client authentication. */
const KerberosKeytabShape = {
  principal: z
    .string()
    .regex(/^[^\s@]+(@[^\s@]+)?$/, { error: 'expected a principal like svc-app@EXAMPLE.COM' })
    .meta({
      description: 'Client principal; without `@REALM` the realm comes from `realm` or krb5.conf.',
      examples: ['svc-billing@EXAMPLE.COM'],
    }),
  keytab: z
    .string()
    .min(1)
    .meta({
      description:
        "Keytab file with the principal's keys: a path, not a secret reference (there is no password to read). It is as good as the account's password: mode 0600, owned by the broker user.",
      examples: ['/etc/credential-broker/svc-billing.keytab'],
    }),
  spn: z
    .string()
    .regex(/^[^\s/@]+(\/[^\s/@]+(@[^\s/@]+)?|@[^\s/@]+)$/, {
      error: 'expected a service principal like HTTP/adfs.example.com or HTTP/adfs.example.com@EXAMPLE.COM',
    })
    .optional()
    .meta({
      description:
        "The IdP's service principal name, as registered in the directory (setspn). With `@REALM`, the host is mapped to that realm for this profile (as krb5.conf [domain_realm] would). MIT krb5 canonicalizes the host through DNS unless krb5.conf sets `dns_canonicalize_hostname = false` and `rdns = false`: errors name the SPN it actually asked for.",
      defaultText: '`HTTP/<host of idpUrl>`',
      examples: ['HTTP/adfs.example.com', 'HTTP/adfs.example.com@EXAMPLE.COM'],
    }),
  krb5Conf: z.string().min(1).optional().meta({
    description: 'krb5.conf for this profile (KDCs, realms).',
    defaultText: "the system's (or `$KRB5_CONFIG`)",
  }),
  realm: z
    .string()
    .regex(/^[^\s@]+$/, { error: 'expected a realm like EXAMPLE.COM' })
    .optional()
    .meta({
      description: 'Kerberos realm, for a `principal` written without `@REALM`.',
      defaultText: "krb5.conf's `default_realm`",
      examples: ['EXAMPLE.COM'],
    }),
};

const KerberosClientAuthSchema = z.strictObject({
  method: z.literal('kerberos').meta({
    description:
      'SPNEGO (`Authorization: Negotiate`) at the token endpoint with tickets from a keytab, plus `use_windows_client_authentication=true`: how ADFS issues client_credentials tokens to a client using Windows Integrated Authentication. No secret anywhere. Needs the `kerberos` addon (libkrb5-dev).',
  }),
  ...KerberosKeytabShape,
});

const ResourceUriSchema = z.url({
  error: 'resource must be an absolute URI, like urn:aws:sts or https://sts.amazonaws.com',
});

/** Token-request parameters with a setting of their own (or set by client authentication). */
const RESERVED_TOKEN_PARAMS = [
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'resource',
  'use_windows_client_authentication',
];

export const OidcSourceSchema = z.strictObject({
  type: z.literal('oidc').meta({
    description:
      'OAuth 2.0 client_credentials at an OIDC provider; the JWT it returns is exchanged at STS AssumeRoleWithWebIdentity.',
  }),
  issuer: HttpUrlSchema.meta({
    description:
      'Issuer URL; its discovery document (`/.well-known/openid-configuration`) gives the token endpoint. https only (plain http only to a loopback address).',
    examples: ['https://idp.example.com/realms/machines'],
  }),
  clientId: z.string().min(1).meta({ description: 'The OAuth client ID registered at the provider.' }),
  clientAuth: z
    .discriminatedUnion(
      'method',
      [ClientSecretAuthSchema, PrivateKeyJwtAuthSchema, TlsClientAuthSchema, KerberosClientAuthSchema],
      {
        error:
          'clientAuth.method must be client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or kerberos',
      },
    )
    .meta({ description: 'How the client authenticates at the token endpoint, chosen by `method`.' }),
  scope: z.string().optional().meta({
    description: '`scope` token-request parameter (space-separated scopes); not sent when unset.',
  }),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .meta({
      description:
        '`audience` token-request parameter (a list sends it once per value), for providers that take it (Auth0: the API identifier). Okta does not: an Okta custom authorization server sets `aud` from its own Audience setting. Not sent when unset.',
      examples: ['sts.amazonaws.com'],
    }),
  resource: z
    .union([ResourceUriSchema, z.array(ResourceUriSchema).min(1)])
    .optional()
    .meta({
      description:
        'RFC 8707 resource indicator, an absolute URI (a list sends it once per value), for providers that use it (oidc-provider, Keycloak, ADFS: the relying party identifier); not sent when unset.',
      examples: ['urn:aws:sts'],
    }),
  extraParams: z
    .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
    .optional()
    .refine((params) => !params || !Object.keys(params).some((k) => RESERVED_TOKEN_PARAMS.includes(k)), {
      error: `extraParams cannot set ${RESERVED_TOKEN_PARAMS.join(', ')}: the broker sends those from scope, audience, resource and clientAuth`,
    })
    .meta({
      description:
        'More token-request parameters, name → value (a list sends the parameter once per value), for what a provider needs beyond scope, audience and resource.',
      examples: [{ requested_token_use: 'on_behalf_of' }],
    }),
  token: z.enum(['access_token', 'id_token']).default('access_token').meta({
    description:
      'Which token of the response to present to STS; it must be a JWT. client_credentials responses rarely carry an id_token.',
  }),
  timeout: DurationSchema.default(10_000).meta({
    description: 'Bound on each request to the provider (discovery, token).',
  }),
});

export const WebIdentityFileSourceSchema = z.strictObject({
  type: z.literal('web-identity-file').meta({
    description:
      'A JWT that something else keeps fresh in a file, exchanged at STS AssumeRoleWithWebIdentity.',
  }),
  tokenFile: z
    .string()
    .min(1)
    .meta({
      description:
        'The JWT file (a Kubernetes projected service-account token, a SPIFFE JWT-SVID, a CI OIDC token); read again on every exchange, so a rotated token is simply picked up.',
      examples: ['/var/run/secrets/tokens/token'],
    }),
  expectedAudience: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        'Refuse a token whose `aud` lacks this value before asking STS (`WEB_IDENTITY_AUDIENCE_MISMATCH`), so a wrongly projected token fails clearly.',
      examples: ['sts.amazonaws.com'],
    }),
});

const rolesAnywhereArn = (kind: 'trust-anchor' | 'profile') =>
  z
    .string()
    .regex(new RegExp(`^arn:aws[a-z-]*:rolesanywhere:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:${kind}/[\\w-]{1,64}$`), {
      error: `expected an IAM Roles Anywhere ${kind} ARN, like arn:aws:rolesanywhere:eu-west-1:123456789012:${kind}/UUID`,
    });

export const X509SourceSchema = z.strictObject({
  type: z.literal('x509').meta({
    description:
      'A client certificate and its private key sign IAM Roles Anywhere CreateSession (AWS4-X509-RSA-SHA256 / AWS4-X509-ECDSA-SHA256).',
  }),
  ...CertificateMaterialShape,
  trustAnchorArn: rolesAnywhereArn('trust-anchor').meta({
    description: "ARN of the Roles Anywhere trust anchor that holds the certificate's issuing CA.",
    examples: [
      'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0b5e1d9c-1b7a-4b8e-9f0e-2d1c3b4a5e6f',
    ],
  }),
  profileArn: rolesAnywhereArn('profile').meta({
    description:
      "ARN of the Roles Anywhere profile that lists `role.arn`; session policies belong on this profile, not in the broker's config.",
    examples: ['arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f5e4d3c-2b1a-4c9d-8e7f-0a1b2c3d4e5f'],
  }),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region, like us-east-1 or eu-west-1' })
    .optional()
    .meta({
      description: 'Region of the Roles Anywhere endpoint to call.',
      defaultText: "the trust anchor ARN's region",
    }),
  endpoint: HttpUrlSchema.optional().meta({
    description:
      'Roles Anywhere endpoint URL instead of the regional one (a VPC endpoint, an emulator). https only (plain http only to a loopback address).',
    defaultText: 'the regional endpoint',
  }),
  useFipsEndpoint: z.boolean().default(false).meta({
    description: "Call the region's FIPS endpoint, rolesanywhere-fips.REGION.amazonaws.com.",
  }),
  sendSessionName: z.boolean().default(false).meta({
    description:
      "Send `role.sessionName` (the Roles Anywhere profile must accept role session names); otherwise Roles Anywhere names the session after the certificate's serial number.",
  }),
  certExpiryWarning: ThresholdDurationSchema.default(14 * 86_400_000).meta({
    description:
      'Every exchange logs a warning while the certificate expires within this long; the metric `credential_broker_certificate_expiry_seconds` shows the time left either way.',
  }),
  timeout: DurationSchema.default(10_000).meta({ description: 'Bound on the CreateSession request.' }),
});

export const AwsSourceSchema = z.strictObject({
  type: z.literal('aws').meta({
    description:
      "The AWS SDK's standard credential chain (environment, shared files, SSO, credential_process, container or instance metadata), then STS AssumeRole into `role.arn`.",
  }),
  profile: z.string().min(1).optional().meta({
    description: 'Profile in the shared config and credentials files.',
    defaultText: "the SDK's default chain order",
  }),
  credentialsFile: z.string().min(1).optional().meta({
    description:
      'Shared credentials file (static keys); read again on every exchange, so rotating the keys needs no restart. Keep it mode 0600.',
    defaultText: '`~/.aws/credentials` (or `$AWS_SHARED_CREDENTIALS_FILE`)',
  }),
  configFile: z.string().min(1).optional().meta({
    description: 'Shared config file.',
    defaultText: '`~/.aws/config` (or `$AWS_CONFIG_FILE`)',
  }),
});

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
    .record(z.string().min(1), z.string())
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

export const SourceSchema = z.discriminatedUnion(
  'type',
  [OidcSourceSchema, WebIdentityFileSourceSchema, X509SourceSchema, AwsSourceSchema, SamlSourceSchema],
  {
    error: 'source.type must be one of: oidc, web-identity-file, x509, aws, saml',
  },
);

const SessionTagSchema = z.strictObject({
  key: z
    .string()
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, {
      error: 'tag keys are 1..128 letters, digits, spaces or _.:/=+-@',
    })
    .meta({ description: 'Tag key: 1..128 letters, digits, spaces or `_.:/=+-@`.', examples: ['team'] }),
  value: z
    .string()
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u, {
      error: 'tag values are 0..256 letters, digits, spaces or _.:/=+-@',
    })
    .meta({ description: 'Tag value: 0..256 letters, digits, spaces or `_.:/=+-@`.', examples: ['data'] }),
});

export const RoleSchema = z.strictObject({
  arn: RoleArnSchema.meta({
    description: 'The IAM role to assume; its trust policy must allow this exchange.',
    examples: ['arn:aws:iam::123456789012:role/billing-batch'],
  }),
  sessionName: z
    .string()
    .min(1)
    .default('credential-broker-{profile}')
    .meta({
      description:
        "Role session name, shown in CloudTrail. `{profile}`, `{hostname}` (short host name; the pod name in Kubernetes) and `{sub}` (the JWT's `sub`, the certificate's CN) are replaced. SAML takes the assertion's RoleSessionName instead; x509 sends it only with `sendSessionName`.",
      examples: ['{hostname}-{profile}'],
    }),
  durationSeconds: z
    .number()
    .int()
    .min(900, { error: 'durationSeconds must be at least 900 (STS minimum)' })
    .max(43_200, { error: 'durationSeconds must be at most 43200 (12 h, the STS maximum)' })
    .default(3600)
    .meta({
      description:
        "Session lifetime in seconds, 900..43200; STS also caps it at the role's MaxSessionDuration. Chained sessions are capped at 3600 by AWS (with a warning at startup); SAML caps it at the assertion's SessionDuration.",
    }),
  policy: z
    .string()
    .max(2048)
    .refine(isJsonObject, { error: 'policy must be a JSON policy document (text)' })
    .optional()
    .meta({
      description:
        'Inline session policy, a JSON policy document as text (at most 2048 characters): the session gets only what both it and the role allow. Not on an `x509` role (set it on the Roles Anywhere profile).',
    }),
  policyArns: z
    .array(PolicyArnSchema)
    .max(10)
    .optional()
    .meta({
      description:
        'Managed policies (at most 10) used as session policies, to narrow the role further. Not on an `x509` role.',
      examples: [['arn:aws:iam::aws:policy/ReadOnlyAccess']],
    }),
  // AssumeRole only (chain entries, and the role of an `aws` source):
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'externalId is 2..1224 of letters, digits and +=,.@:/-' })
    .optional()
    .meta({
      description:
        "The `sts:ExternalId` the role's trust policy requires (third-party roles): an identifier agreed with the role's owner, not a secret. AssumeRole only: a chain entry, or the role of an `aws` source.",
      examples: ['acme-7f3a91'],
    }),
  tags: z.array(SessionTagSchema).max(50).optional().meta({
    description:
      "Session tags (attribute-based access control), at most 50; the role's trust policy must allow `sts:TagSession`. AssumeRole only.",
  }),
  transitiveTagKeys: z
    .array(z.string().min(1))
    .max(50)
    .optional()
    .meta({
      description:
        "Keys of `tags` that pass on to further chained sessions; each must be one of this role's `tags`. AssumeRole only.",
      examples: [['team']],
    }),
  sourceIdentity: z
    .string()
    .regex(/^[\w+=,.@{}-]{2,64}$/, {
      error: 'sourceIdentity is 2..64 of letters, digits and +=,.@- (templates allowed)',
    })
    .optional()
    .meta({
      description:
        'Source identity, set once and kept across the rest of the chain, shown in CloudTrail; the same templates as `sessionName`. The trust policy must allow `sts:SetSourceIdentity`. AssumeRole only.',
      examples: ['{hostname}'],
    }),
});

/**
 * When to refresh. Defaults come from how the SDKs consume the endpoint
 * (docs/sdk-contract.md, Container endpoint, "refreshes when left"): botocore re-fetches on every call once less than
 * 15 min remain, so what we serve keeps more than `minRemaining` (20 min) while the source is
 * healthy, and we start refreshing `before` (30 min, plus up to `jitter` of it) ahead of expiry,
 * which leaves ~10 min of retries before the floor is reached.
 */
export const RefreshSchema = z
  .strictObject({
    before: DurationSchema.default(30 * 60_000).meta({
      description:
        'Start refreshing this long before the credentials expire (plus up to `jitter` of it), leaving time for retries before `minRemaining` is reached.',
    }),
    minRemaining: DurationSchema.default(20 * 60_000).meta({
      description:
        "While the source is healthy, never serve credentials with less than this left (a request waits for the refresh). Above botocore's 15 min, below which it re-fetches on every call; must be shorter than `before`.",
    }),
    jitter: z.number().min(0).max(1).default(0.1).meta({
      description:
        'Up to this share of `before` is added at random (0..1), so that many brokers and profiles do not call STS in lockstep.',
    }),
    backoff: z
      .strictObject({
        initial: DurationSchema.default(1000).meta({
          description:
            'A failed fetch is retried after a random wait of up to this long, the cap doubling per failure ("full jitter").',
        }),
        max: DurationSchema.default(5 * 60_000).meta({
          description:
            'Cap on the retry wait; permanent errors (rejected client, AccessDenied) wait 50–100% of it, so a fix at the IdP or in IAM needs no restart.',
        }),
      })
      .default({ initial: 1000, max: 5 * 60_000 })
      .meta({ description: 'Retry timing after a failed fetch; a `Retry-After` from upstream is honoured.' }),
  })
  .refine((r) => r.minRemaining < r.before, {
    error:
      'refresh.minRemaining must be shorter than refresh.before (the refresh must start before the floor)',
  });

export const ProfileSchema = z.strictObject({
  source: SourceSchema.meta({
    description: 'The identity the broker proves, chosen by `type`; each type has its own settings.',
  }),
  role: RoleSchema.meta({ description: "The role the source's proof is exchanged for at STS." }),
  sts: StsSettingsSchema.optional().meta({
    description: 'STS client settings for this profile; each one set here overrides the top-level `sts` one.',
    defaultText: 'the top-level `sts`',
  }),
  tokenFile: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        "This profile's own client token file (created like `server.tokenFile`): only this token opens the profile, so app A cannot read app B's role. Give only this app's user read access.",
      defaultText: 'the shared `server.tokenFile`',
      examples: ['/run/credential-broker/reports.token'],
    }),
  lazy: z.boolean().default(false).meta({
    description:
      'Fetch on the first request instead of at startup, and do not hold `/readyz` for this profile until then.',
  }),
  refresh: RefreshSchema.default({
    before: 30 * 60_000,
    minRemaining: 20 * 60_000,
    jitter: 0.1,
    backoff: { initial: 1000, max: 5 * 60_000 },
  }).meta({
    description:
      'When to refresh; the defaults keep what is served above every SDK\'s own refresh window (see README "How refresh works").',
  }),
  chain: z.array(RoleSchema).max(10).optional().meta({
    description:
      "Further roles (at most 10) assumed in turn with AssumeRole after the first exchange, each signed with the previous hop's credentials; apps get the last one.",
  }),
  network: NetworkSchema.optional().meta({
    description:
      "How this profile's STS, Roles Anywhere and IdP requests leave the host; each setting overrides the top-level `network` one.",
    defaultText: 'the top-level `network`',
  }),
});

const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: 'expected HOST:PORT, like 127.0.0.1:9911',
  })
  .refine((l) => parseListen(l).port <= 65_535, { error: 'the port must be 0..65535 (0 picks a free one)' });

/** Source addresses allowed to connect, as IPs or CIDRs (`10.0.0.0/8`, `::1/128`); absent = any. */
const AllowListSchema = z
  .array(z.string().refine(isCidr, { error: 'expected an IP address or CIDR, like 10.0.0.0/8 or ::1/128' }))
  .min(1, { error: 'an empty allow-list would refuse everyone: remove it to allow any address' });

export const TlsSchema = z.strictObject({
  certificate: z
    .string()
    .min(1)
    .meta({
      description:
        'PEM certificate chain file; re-read every 5 s and swapped in when it changes, so renewal needs no restart (a pair that fails to load is logged and the old one kept).',
      examples: ['/etc/credential-broker/tls/tls.crt'],
    }),
  privateKey: SecretRefSchema.meta({
    description: "The certificate's PEM private key, as a secret reference; re-read like the certificate.",
    examples: ['file:/etc/credential-broker/tls/tls.key'],
  }),
  clientCa: z.string().min(1).optional().meta({
    description: 'PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS).',
  }),
});

/** Bounds on what one client can make a listener do (like the ECS agent and IMDS). */
export const LimitsSchema = z.strictObject({
  maxHeaderBytes: z.number().int().min(1024).max(65_536).default(8192).meta({
    description:
      'Largest request line plus headers, in bytes (431 beyond); SDK requests are well under 1 KiB.',
  }),
  maxUrlLength: z.number().int().min(64).max(8192).default(1024).meta({
    description: 'Longest request URL, in characters (414 beyond).',
  }),
  headersTimeout: DurationSchema.default(5000).meta({
    description:
      'A client must have sent its headers within this long, so a client that trickles its request is cut off; SDKs send the whole request at once and give up after 1–5 s themselves.',
  }),
  requestTimeout: DurationSchema.default(10_000).meta({
    description: 'A client must have sent its whole request within this long.',
  }),
  maxConcurrent: z.number().int().min(1).default(4096).meta({
    description:
      'Requests in progress at once on this listener; beyond it, 503 `TOO_BUSY` with `Retry-After`. Waiting on a single-flight refresh is cheap, and 1,000 simultaneous cold requests must all be served.',
  }),
  failedTokenMistakes: z.number().int().min(1).default(10).meta({
    description:
      "Wrong-token mistakes allowed per client address per `failedTokenWindow` (an SDK's retries of one request count once); beyond it wrong tokens get 429, while a valid token is still served.",
  }),
  failedTokenWindow: DurationSchema.default(10 * 60_000).meta({
    description: 'The window `failedTokenMistakes` is counted over.',
  }),
  keepAliveTimeout: DurationSchema.default(5000).meta({
    description:
      'An idle keep-alive connection is closed after this long. SDKs reuse a connection within a burst of calls and fetch credentials every few minutes at most, so a long idle time only lets idle sockets pile up.',
  }),
  maxConnections: z.number().int().min(1).max(1_000_000).default(1024).meta({
    description:
      'Open connections on this listener at once; beyond it a new connection is closed at once (no answer), while the open ones are served. Idle ones close after `keepAliveTimeout`, so this bounds file descriptors, not traffic.',
  }),
  maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(256).meta({
    description:
      'Open connections from one non-loopback client address at once (a remote host on a TLS listener); beyond it its new connections are closed. Loopback clients count only against `maxConnections`: every local app shares 127.0.0.1.',
  }),
});

export const ServerSchema = z
  .strictObject({
    listen: HostPortSchema.default('127.0.0.1:9911').meta({
      description:
        'Address of the credentials listener, `HOST:PORT` (port 0 picks a free one). Plain http is allowed only on loopback; any other address needs `server.tls`, because credentials cross it.',
      examples: ['127.0.0.1:9911', '10.0.0.5:9911'],
    }),
    tokenFile: z.string().min(1).optional().meta({
      description:
        "Client token shared by every profile without its own `tokenFile`; created (mode 0600, 256 random bits, no trailing newline) if missing. Whoever can read it can get those profiles' credentials: grant read access to the apps' users only.",
      defaultText: '`$RUNTIME_DIRECTORY/token`, else `/run/credential-broker/token`',
    }),
    shutdownTimeout: DurationSchema.default(10_000).meta({
      description:
        'On SIGTERM/SIGINT, in-flight requests get this long to finish before their connections are cut.',
    }),
    allow: AllowListSchema.optional().meta({
      description:
        'Client addresses allowed to connect at all, as IPs or CIDRs; others get 403 `ADDRESS_REFUSED`, health endpoints included.',
      defaultText: 'any address',
      examples: [['10.0.0.0/24', '127.0.0.1']],
    }),
    tls: TlsSchema.optional().meta({
      description: 'Serve https; required when `listen` is not a loopback address.',
      defaultText: 'plain http',
    }),
    limits: LimitsSchema.prefault({}).meta({
      description:
        'Bounds on what one client can make the listener do; they also apply to the IMDS listener.',
    }),
  })
  .superRefine((s, ctx) => {
    if (!s.tls && !isLoopbackHost(parseListen(s.listen).host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message:
          'credentials are served over plain http only on loopback: add server.tls (certificate, privateKey) to listen on another address, or listen on 127.0.0.1:PORT (a Kubernetes sidecar shares the pod loopback)',
      });
    }
  });

/**
 * IMDSv2 emulation for apps that only know instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT).
 * IMDS has no client secret (anyone who reaches it gets a session token), so it listens on
 * loopback only and serves exactly one profile.
 */
export const ImdsSchema = z.strictObject({
  listen: HostPortSchema.refine((l) => isLoopbackHost(parseListen(l).host), {
    error:
      'IMDS has no client token, so it listens on loopback only: use 127.0.0.1:PORT and set AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/',
  }).meta({
    description:
      'Address of the IMDS listener, loopback only: IMDS has no client secret, so anyone who reaches it gets credentials. Apps set `AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/`.',
    examples: ['127.0.0.1:9912'],
  }),
  profile: ProfileNameSchema.meta({
    description:
      'The one profile served; its role name is the one name listed under `security-credentials/`. Give it no more power than any local user may have.',
  }),
  tokenTtlMax: DurationSchema.default(6 * 3_600_000)
    .refine((ms) => ms >= 1000 && ms <= 6 * 3_600_000, {
      error: 'tokenTtlMax must be between 1s and 6h (the EC2 bounds)',
    })
    .meta({
      description:
        'Longest session-token TTL granted (EC2 bounds: 1s..6h); a longer request is granted this, and the granted value echoed.',
    }),
  maxTokens: z.number().int().min(1).max(100_000).default(1000).meta({
    description:
      'Session tokens held at once; beyond it the soonest-expiring is dropped (its client gets 401 and fetches a new one).',
  }),
  allowV1: z.boolean().default(false).meta({
    description:
      'Also answer GETs without a session token (IMDSv1). Off, as on EC2 with "IMDSv2 required": v1 is what SSRF attacks on metadata use.',
  }),
  allow: AllowListSchema.optional().meta({
    description: 'Client addresses allowed to connect, as IPs or CIDRs; others get 403.',
    defaultText: 'any address',
  }),
});

export const LoggingSchema = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .meta({ description: 'Least severe level logged; `LOG_LEVEL` in the environment wins.' }),
  format: z
    .enum(['json', 'pretty'], { error: 'logging.format must be json or pretty' })
    .default('json')
    .meta({
      description:
        '`json` (one object per line, for journald and log shippers) or `pretty` (for a terminal); `LOG_FORMAT` in the environment wins. Secrets are redacted either way.',
    }),
});

export const MetricsSchema = z.strictObject({
  listen: HostPortSchema.optional().meta({
    description:
      '`/metrics`, `/healthz` and `/readyz` on a listener of their own (e.g. the pod IP for Prometheus and probes, while credentials stay on loopback). Plain http on any address: it serves profile names and error codes, never credentials.',
    defaultText: 'only on the credentials listener',
    examples: ['0.0.0.0:9912'],
  }),
  hosts: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a host name, like metrics.example.internal' }),
    )
    .optional()
    .meta({
      description:
        'Host names (besides IP addresses and loopback names, always accepted) that scrapers may put in `Host` on this listener; any other name gets 403 `HOST_REFUSED`, so a DNS-rebinding web page cannot read profile names and error codes.',
      defaultText: 'none: only IP addresses and loopback names',
      examples: [['broker-metrics.monitoring.svc']],
    }),
});

export const ReloadSchema = z.strictObject({
  watch: z.boolean({ error: 'reload.watch must be true or false' }).default(false).meta({
    description:
      "Also reload when the config file changes (its folder is watched, so editors' renames and Kubernetes ConfigMap updates count); SIGHUP always reloads.",
  }),
});

const ConfigObjectSchema = z.strictObject({
  server: ServerSchema.prefault({}).meta({
    description: 'The credentials listener: address, client tokens, TLS, limits.',
  }),
  imds: ImdsSchema.optional().meta({
    description: 'An IMDSv2 listener, for apps that only know instance metadata.',
    defaultText: 'off',
  }),
  logging: LoggingSchema.default({ level: 'info', format: 'json' }).meta({
    description: 'Log level and format.',
  }),
  metrics: MetricsSchema.default({}).meta({ description: 'A separate listener for metrics and health.' }),
  reload: ReloadSchema.default({ watch: false }).meta({ description: 'Config reloading.' }),
  sts: StsSettingsSchema.default({}).meta({
    description: "STS client settings; the default for every profile (a profile's own `sts` overrides them).",
  }),
  network: NetworkSchema.default({}).meta({
    description:
      'How outbound requests (STS, Roles Anywhere, OIDC issuers, SAML IdPs) leave this host; the default for every profile.',
  }),
  profiles: z
    .record(ProfileNameSchema, ProfileSchema.superRefine(checkRoleOptions), {
      // a bad name arrives here as the record's invalid_key, not with ProfileNameSchema's message
      error: (issue) =>
        issue.code === 'invalid_key' ? PROFILE_NAME_HELP : 'profiles must map profile names to profiles',
    })
    .refine((p) => Object.keys(p).length > 0, { error: 'define at least one profile under profiles:' })
    .meta({
      description:
        'One or more profiles by name (letters, digits, `_`, `.`, `-`; at most 64): each is a source plus a role, served at `/v1/credentials/NAME`; `default` is also served at `/v1/credentials`.',
    }),
});

/** The whole config file: the sections above, and the checks that need more than one of them. */
export const ConfigSchema = ConfigObjectSchema.superRefine(checkImdsProfile);

/** Here, not when the IMDS listener is built, so that the message names the file like every other
 * config error, and a reload that drops the profile is refused. */
function checkImdsProfile(config: z.infer<typeof ConfigObjectSchema>, ctx: z.core.$RefinementCtx): void {
  const names = Object.keys(config.profiles);
  if (config.imds && names.length > 0 && !names.includes(config.imds.profile)) {
    ctx.addIssue({
      code: 'custom',
      path: ['imds', 'profile'],
      message: `no profile "${config.imds.profile}" under profiles: (configured: ${names.join(', ')})`,
    });
  }
}

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Profile = z.infer<typeof ProfileSchema>;
export type SourceConfig = z.infer<typeof SourceSchema>;
export type OidcSourceConfig = z.infer<typeof OidcSourceSchema>;
export type SamlSourceConfig = z.infer<typeof SamlSourceSchema>;
export type RoleConfig = z.infer<typeof RoleSchema>;
export type WebIdentityFileSourceConfig = z.infer<typeof WebIdentityFileSourceSchema>;
export type X509SourceConfig = z.infer<typeof X509SourceSchema>;
export type AwsSourceConfig = z.infer<typeof AwsSourceSchema>;
export type NetworkConfig = z.infer<typeof NetworkSchema>;
export type StsSettings = z.infer<typeof StsSettingsSchema>;
export type RefreshConfig = z.infer<typeof RefreshSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type TlsConfig = z.infer<typeof TlsSchema>;
export type LimitsConfig = z.infer<typeof LimitsSchema>;
export type ImdsConfig = z.infer<typeof ImdsSchema>;

/** "10.0.0.0/8", "::1/128" or a bare address. */
function isCidr(text: string): boolean {
  const [ip, prefix, ...rest] = text.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A certificate and its key: as PEM files, or one PKCS#12 bundle, never both. */
function checkMaterial(
  material: {
    pkcs12File?: string | undefined;
    certificateFile?: string | undefined;
    privateKey?: string | undefined;
  },
  at: PropertyKey[],
  ctx: z.core.$RefinementCtx,
): void {
  const { pkcs12File, certificateFile, privateKey } = material;
  if (pkcs12File === undefined && (certificateFile === undefined || privateKey === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [...at, certificateFile === undefined ? 'certificateFile' : 'privateKey'],
      message: 'required: set certificateFile and privateKey (PEM), or pkcs12File',
    });
  }
  if (pkcs12File !== undefined && (certificateFile !== undefined || privateKey !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [...at, 'pkcs12File'],
      message: 'pkcs12File holds the certificate and the key: remove certificateFile and privateKey',
    });
  }
}

const ASSUME_ROLE_ONLY = ['externalId', 'tags', 'transitiveTagKeys', 'sourceIdentity'] as const;

/** Role settings that the profile's exchange cannot honour are errors, not silently dropped. */
function checkRoleOptions(
  profile: { source: SourceConfig; role: RoleConfig; chain?: RoleConfig[] | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  if (profile.source.type === 'x509') checkMaterial(profile.source, ['source'], ctx);
  if (profile.source.type === 'oidc' && 'certificateFile' in profile.source.clientAuth) {
    checkMaterial(profile.source.clientAuth, ['source', 'clientAuth'], ctx);
  }
  if (profile.source.type !== 'aws') {
    for (const key of ASSUME_ROLE_ONLY) {
      if (profile.role[key] === undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['role', key],
        message: `only AssumeRole takes ${key}, and a ${profile.source.type} source does not call it: move the role that needs it to a chain: entry`,
      });
    }
  }
  if (profile.source.type === 'x509') {
    for (const key of ['policy', 'policyArns'] as const) {
      if (profile.role[key] === undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['role', key],
        message: `IAM Roles Anywhere takes session policies from its profile, not from the request: set them on the Roles Anywhere profile, or on a chain: entry`,
      });
    }
  }
  const roles: [PropertyKey[], RoleConfig][] = [
    [['role'], profile.role],
    ...(profile.chain ?? []).map((r, i): [PropertyKey[], RoleConfig] => [['chain', i], r]),
  ];
  for (const [path, role] of roles) {
    const keys = new Set((role.tags ?? []).map((t) => t.key));
    for (const key of role.transitiveTagKeys ?? []) {
      if (keys.has(key)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'transitiveTagKeys'],
        message: `transitive tag key "${key}" is not one of this role's tags: add it under tags:`,
      });
    }
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
