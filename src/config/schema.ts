// The one source of truth for configuration: these zod schemas give both the TypeScript types
// (`Config`, `Profile`, ...) and the validation, with messages that say what to write instead.
// Adding a source type = one more member of `SourceSchema` (and its file in src/sources/).
import { isIP } from 'node:net';
import { z } from 'zod';
import { isLoopbackHost, parseListen } from '../net.ts';
import { parseDuration } from './duration.ts';

const DURATION_HELP = 'a duration such as 90s, 15m or 1h (or a number of seconds)';

/** A duration in config, normalised to milliseconds. */
export const DurationSchema = z
  .union([z.number(), z.string()], { error: `expected ${DURATION_HELP}` })
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not ${DURATION_HELP}` });
      return z.NEVER;
    }
    return ms;
  });

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

const ProfileNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
  error: 'profile names use letters, digits, "_", "." and "-" (at most 64)',
});

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
  .refine((u) => u.startsWith('https:') || isLoopbackHost(new URL(u).hostname), {
    error: 'use https: plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost)',
  });

/** STS client settings; on the top level they are the default for every profile. */
export const StsSettingsSchema = z.strictObject({
  /** STS is regional; us-east-1 is also what the global endpoint means. */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region, like us-east-1 or eu-west-1' })
    .optional(),
  /** Override for VPC endpoints, FIPS endpoints or a test emulator. */
  endpoint: HttpUrlSchema.optional(),
  /** Bound on one STS call, so a hung connection cannot stall a refresh. */
  timeout: DurationSchema.optional(),
  /** The FIPS 140 endpoint of the region (sts-fips.REGION.amazonaws.com). */
  useFipsEndpoint: z.boolean().optional(),
  /** Warn (log + metric) when STS's clock and ours differ by more than this (default 5m).
   * Expirations are corrected for the skew either way; beyond 15 min SigV4 itself fails. */
  clockSkewTolerance: DurationSchema.optional(),
});

/** How outbound requests (STS, Roles Anywhere) leave this host. */
export const NetworkSchema = z.strictObject({
  /** An HTTP CONNECT proxy, http(s)://[user:pass@]host:port, or "none" to ignore HTTPS_PROXY.
   * Unset: $HTTPS_PROXY / $https_proxy. */
  proxy: z
    .string()
    .refine((v) => v === 'none' || /^https?:\/\/[^/\s]+(\/.*)?$/.test(v), {
      error: 'proxy must be an http(s)://host:port URL or "none"',
    })
    .optional(),
  /** Hosts that bypass the proxy: exact names, .suffix, IPs, optional :port, or "*". Unset: $NO_PROXY / $no_proxy. */
  noProxy: z.array(z.string().min(1)).optional(),
  /** Extra CA certificates (PEM) to trust, e.g. a TLS-inspecting proxy's; the system roots stay trusted. */
  caFile: z.string().min(1).optional(),
});

const ClientSecretAuthSchema = z.strictObject({
  method: z.enum(['client_secret_basic', 'client_secret_post']),
  clientSecret: SecretRefSchema,
});

const PrivateKeyJwtAuthSchema = z.strictObject({
  method: z.literal('private_key_jwt'),
  /** PEM (PKCS#8) or a private JWK as JSON. */
  privateKey: SecretRefSchema,
  alg: z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']).default('RS256'),
  /** `kid` header of the client assertion; defaults to the JWK's own `kid`. */
  keyId: z.string().optional(),
});

export const OidcSourceSchema = z.strictObject({
  type: z.literal('oidc'),
  /** Issuer URL; its discovery document gives the token endpoint. http only for loopback (tests). */
  issuer: HttpUrlSchema,
  clientId: z.string().min(1),
  clientAuth: z.discriminatedUnion('method', [ClientSecretAuthSchema, PrivateKeyJwtAuthSchema], {
    error: 'clientAuth.method must be client_secret_basic, client_secret_post or private_key_jwt',
  }),
  scope: z.string().optional(),
  /** `audience` token-request parameter, for providers that use it (Auth0, Okta custom AS). */
  audience: z.string().optional(),
  /** RFC 8707 resource indicator, for providers that use it (oidc-provider, Keycloak). */
  resource: z
    .url({ error: 'resource must be an absolute URI, like urn:aws:sts or https://sts.amazonaws.com' })
    .optional(),
  /** Which JWT to present to STS. client_credentials responses rarely carry an id_token. */
  token: z.enum(['access_token', 'id_token']).default('access_token'),
  timeout: DurationSchema.default(10_000),
});

export const WebIdentityFileSourceSchema = z.strictObject({
  type: z.literal('web-identity-file'),
  /** The JWT file (a Kubernetes projected service-account token, SPIFFE JWT-SVID, CI token), re-read on every exchange. */
  tokenFile: z.string().min(1),
  /** Refuse a token whose `aud` lacks this value before asking STS (e.g. sts.amazonaws.com). */
  expectedAudience: z.string().min(1).optional(),
});

const rolesAnywhereArn = (kind: 'trust-anchor' | 'profile') =>
  z
    .string()
    .regex(new RegExp(`^arn:aws[a-z-]*:rolesanywhere:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:${kind}/[\\w-]{1,64}$`), {
      error: `expected an IAM Roles Anywhere ${kind} ARN, like arn:aws:rolesanywhere:eu-west-1:123456789012:${kind}/UUID`,
    });

export const X509SourceSchema = z.strictObject({
  type: z.literal('x509'),
  /** PEM certificate; more certificates after it in the same file (a fullchain.pem) are sent as the chain.
   * Re-read on every exchange, so a renewal on disk needs no restart. */
  certificateFile: z.string().min(1).optional(),
  /** PEM intermediates between the certificate and the trust anchor's CA. */
  chainFile: z.string().min(1).optional(),
  /** PEM private key (PKCS#8, PKCS#1 or SEC1; RSA or EC; encrypted or not). */
  privateKey: SecretRefSchema.optional(),
  /** Instead of certificateFile + privateKey: a PKCS#12 (.p12/.pfx) bundle with both (and the chain). */
  pkcs12File: z.string().min(1).optional(),
  /** Passphrase of an encrypted private key or of the PKCS#12 bundle. */
  passphrase: SecretRefSchema.optional(),
  trustAnchorArn: rolesAnywhereArn('trust-anchor'),
  profileArn: rolesAnywhereArn('profile'),
  /** Roles Anywhere region; default: the trust anchor ARN's region. */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region, like us-east-1 or eu-west-1' })
    .optional(),
  /** Roles Anywhere endpoint override (VPC endpoint, emulator). */
  endpoint: HttpUrlSchema.optional(),
  useFipsEndpoint: z.boolean().default(false),
  /** Send role.sessionName (the Roles Anywhere profile must accept role session names); otherwise
   * Roles Anywhere names the session after the certificate's serial number. */
  sendSessionName: z.boolean().default(false),
  /** Warn (log line + metric) when the certificate expires within this long. */
  certExpiryWarning: DurationSchema.default(14 * 86_400_000),
  timeout: DurationSchema.default(10_000),
});

export const AwsSourceSchema = z.strictObject({
  type: z.literal('aws'),
  /** Profile in the shared config/credentials files; default: the SDK's default chain order. */
  profile: z.string().min(1).optional(),
  /** Shared credentials file (static keys); default ~/.aws/credentials (or $AWS_SHARED_CREDENTIALS_FILE). */
  credentialsFile: z.string().min(1).optional(),
  /** Shared config file; default ~/.aws/config (or $AWS_CONFIG_FILE). */
  configFile: z.string().min(1).optional(),
});

const SamlUsernameSchema = z.string().min(1, { error: 'username must not be empty' });

const SamlEcpAuthSchema = z.strictObject({
  method: z.literal('ecp'),
  username: SamlUsernameSchema,
  password: SecretRefSchema,
});

const SamlFormAuthSchema = z.strictObject({
  method: z.literal('form'),
  username: SamlUsernameSchema,
  password: SecretRefSchema,
  /** Login form field names; found from the form (its text and password inputs) when not set. */
  usernameField: z.string().min(1).optional(),
  passwordField: z.string().min(1).optional(),
});

const SamlBasicAuthSchema = z.strictObject({
  method: z.literal('basic'),
  username: SamlUsernameSchema,
  password: SecretRefSchema,
});

const SamlKerberosAuthSchema = z.strictObject({
  method: z.literal('kerberos'),
  /** Client principal, like svc-billing@EXAMPLE.COM (the realm may come from `realm`). */
  principal: z
    .string()
    .regex(/^[^\s@]+(@[^\s@]+)?$/, { error: 'expected a principal like svc-app@EXAMPLE.COM' }),
  /** Keytab file with the principal's keys: a path, not a secret reference (there is no password to read). */
  keytab: z.string().min(1),
  /** The IdP's service principal; default HTTP/<host of idpUrl>. */
  spn: z
    .string()
    .regex(/^[^\s/@]+[/@][^\s@]+$/, { error: 'expected a service principal like HTTP/adfs.example.com' })
    .optional(),
  /** krb5.conf for this profile; default the system's (or $KRB5_CONFIG). */
  krb5Conf: z.string().min(1).optional(),
  realm: z
    .string()
    .regex(/^[^\s@]+$/, { error: 'expected a realm like EXAMPLE.COM' })
    .optional(),
});

export const SamlSourceSchema = z.strictObject({
  type: z.literal('saml'),
  /** IdP-initiated sign-on URL (form, basic, kerberos) or the IdP's SAML ECP endpoint (ecp). */
  idpUrl: HttpUrlSchema,
  auth: z.discriminatedUnion(
    'method',
    [SamlEcpAuthSchema, SamlFormAuthSchema, SamlBasicAuthSchema, SamlKerberosAuthSchema],
    { error: 'auth.method must be ecp, form, basic or kerberos' },
  ),
  /** SAML provider ARN to use when the assertion pairs role.arn with several providers. */
  principalArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]{1,128}$/, {
      error: 'expected a SAML provider ARN, like arn:aws:iam::123456789012:saml-provider/ADFS',
    })
    .optional(),
  timeout: DurationSchema.default(10_000),
  /** Largest IdP answer read; bounds the XML that reaches the parser. */
  maxResponseBytes: z.number().int().min(16_384).max(16_777_216).default(1_048_576),
});

export const SourceSchema = z.discriminatedUnion(
  'type',
  [OidcSourceSchema, WebIdentityFileSourceSchema, X509SourceSchema, AwsSourceSchema, SamlSourceSchema],
  {
    error: 'source.type must be one of: oidc, web-identity-file, x509, aws, saml',
  },
);

const SessionTagSchema = z.strictObject({
  key: z.string().regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, {
    error: 'tag keys are 1..128 letters, digits, spaces or _.:/=+-@',
  }),
  value: z.string().regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u, {
    error: 'tag values are 0..256 letters, digits, spaces or _.:/=+-@',
  }),
});

export const RoleSchema = z.strictObject({
  arn: RoleArnSchema,
  /** Shown in CloudTrail; `{profile}`, `{hostname}` and `{sub}` (JWT sub, certificate CN) are replaced. */
  sessionName: z.string().min(1).default('credential-broker-{profile}'),
  /** 900..43200 s; STS also caps it at the role's MaxSessionDuration. */
  durationSeconds: z
    .number()
    .int()
    .min(900, { error: 'durationSeconds must be at least 900 (STS minimum)' })
    .max(43_200, { error: 'durationSeconds must be at most 43200 (12 h, the STS maximum)' })
    .default(3600),
  /** Inline session policy (JSON text), to narrow the role further. */
  policy: z
    .string()
    .max(2048)
    .refine(isJsonObject, { error: 'policy must be a JSON policy document (text)' })
    .optional(),
  policyArns: z.array(PolicyArnSchema).max(10).optional(),
  // AssumeRole only (chain entries, and the role of an `aws` source):
  /** The sts:ExternalId the role's trust policy requires. An identifier, not a secret. */
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'externalId is 2..1224 of letters, digits and +=,.@:/-' })
    .optional(),
  /** Session tags (attribute-based access control); at most 50. */
  tags: z.array(SessionTagSchema).max(50).optional(),
  /** Tag keys that pass on to further chained sessions; each must be one of `tags`. */
  transitiveTagKeys: z.array(z.string().min(1)).max(50).optional(),
  /** Set once, kept across the chain, shown in CloudTrail; the same templates as sessionName. */
  sourceIdentity: z
    .string()
    .regex(/^[\w+=,.@{}-]{2,64}$/, {
      error: 'sourceIdentity is 2..64 of letters, digits and +=,.@- (templates allowed)',
    })
    .optional(),
});

/**
 * When to refresh. Defaults come from how the SDKs consume the endpoint
 * (shared/reference/sdk-credential-contract.md §5): botocore re-fetches on every call once less than
 * 15 min remain, so what we serve keeps more than `minRemaining` (20 min) while the source is
 * healthy, and we start refreshing `before` (30 min, plus up to `jitter` of it) ahead of expiry,
 * which leaves ~10 min of retries before the floor is reached.
 */
export const RefreshSchema = z
  .strictObject({
    before: DurationSchema.default(30 * 60_000),
    minRemaining: DurationSchema.default(20 * 60_000),
    jitter: z.number().min(0).max(1).default(0.1),
    /** Failed fetches: retried after a random wait of up to `initial`, doubling per failure up
     * to `max` ("full jitter"); permanent errors wait 50–100% of `max`. */
    backoff: z
      .strictObject({ initial: DurationSchema.default(1000), max: DurationSchema.default(5 * 60_000) })
      .default({ initial: 1000, max: 5 * 60_000 }),
  })
  .refine((r) => r.minRemaining < r.before, {
    error:
      'refresh.minRemaining must be shorter than refresh.before (the refresh must start before the floor)',
  });

export const ProfileSchema = z.strictObject({
  source: SourceSchema,
  role: RoleSchema,
  sts: StsSettingsSchema.optional(),
  /** This profile's own client token file; when set, only this token reads this profile. */
  tokenFile: z.string().min(1).optional(),
  /** Fetch on first request instead of at startup (and do not hold readiness for it). */
  lazy: z.boolean().default(false),
  refresh: RefreshSchema.default({
    before: 30 * 60_000,
    minRemaining: 20 * 60_000,
    jitter: 0.1,
    backoff: { initial: 1000, max: 5 * 60_000 },
  }),
  /** Further roles assumed in turn (AssumeRole) after the first exchange; the last one is served. */
  chain: z.array(RoleSchema).max(10).optional(),
  /** Overrides the top-level network settings for this profile. */
  network: NetworkSchema.optional(),
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
  /** PEM certificate chain file; re-read when it changes (rotation without restart). */
  certificate: z.string().min(1),
  /** The certificate's private key (PEM), a secret reference; re-read like the certificate. */
  privateKey: SecretRefSchema,
  /** PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS). */
  clientCa: z.string().min(1).optional(),
});

/** Bounds on what one client can make a listener do (like the ECS agent and IMDS). */
export const LimitsSchema = z.strictObject({
  /** Request line + headers; SDK requests are well under 1 KiB. Above: 431. */
  maxHeaderBytes: z.number().int().min(1024).max(65_536).default(8192),
  /** Above: 414. */
  maxUrlLength: z.number().int().min(64).max(8192).default(1024),
  /** SDKs send their whole request at once and give up after 1–2 s themselves. */
  headersTimeout: DurationSchema.default(5000),
  requestTimeout: DurationSchema.default(10_000),
  /** Requests in progress at once, per listener; above: 503 + Retry-After. Waiting on a
   * single-flight refresh is cheap, and 1,000 simultaneous cold requests must all be served. */
  maxConcurrent: z.number().int().min(1).default(4096),
  /** Failed-token mistakes per source address and window (an SDK's retries of one request count once). */
  failedTokenMistakes: z.number().int().min(1).default(10),
  failedTokenWindow: DurationSchema.default(10 * 60_000),
});

export const ServerSchema = z
  .strictObject({
    /** http is only allowed on loopback (DESIGN.md "Serving"); any other address needs `tls`. */
    listen: HostPortSchema.default('127.0.0.1:9911'),
    /** Client token shared by profiles without their own; created (0600, 256 random bits) if missing. */
    tokenFile: z.string().min(1).optional(),
    /** SIGTERM/SIGINT: in-flight requests get this long to finish before connections are cut. */
    shutdownTimeout: DurationSchema.default(10_000),
    allow: AllowListSchema.optional(),
    tls: TlsSchema.optional(),
    limits: LimitsSchema.prefault({}),
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
      'IMDS has no client token, so it listens on loopback only: use 127.0.0.1:PORT and set AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT',
  }),
  /** The profile served; its role name is the one name listed under security-credentials/. */
  profile: ProfileNameSchema,
  /** Longest session-token TTL granted (EC2: 1 s..6 h); longer requests are granted this. */
  tokenTtlMax: DurationSchema.default(6 * 3_600_000).refine((ms) => ms >= 1000 && ms <= 6 * 3_600_000, {
    error: 'tokenTtlMax must be between 1s and 6h (the EC2 bounds)',
  }),
  /** Session tokens held at once; beyond it the soonest-expiring is dropped (its client gets 401 and fetches anew). */
  maxTokens: z.number().int().min(1).max(100_000).default(1000),
  /** Answer GETs without a session token (IMDSv1). Off, as on EC2 with "IMDSv2 required". */
  allowV1: z.boolean().default(false),
  allow: AllowListSchema.optional(),
});

export const LoggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json (one object per line, for journald and log shippers) or pretty (for a terminal). */
  format: z.enum(['json', 'pretty'], { error: 'logging.format must be json or pretty' }).default('json'),
});

/** /metrics, /healthz and /readyz on a listener of their own (no credentials are served there),
 * e.g. on the pod IP for Prometheus while credentials stay on loopback. */
export const MetricsSchema = z.strictObject({
  listen: HostPortSchema.optional(),
});

export const ReloadSchema = z.strictObject({
  /** Also reload when the config file changes (SIGHUP always reloads). */
  watch: z.boolean({ error: 'reload.watch must be true or false' }).default(false),
});

export const ConfigSchema = z.strictObject({
  server: ServerSchema.prefault({}),
  /** IMDSv2 listener; off unless configured. */
  imds: ImdsSchema.optional(),
  logging: LoggingSchema.default({ level: 'info', format: 'json' }),
  metrics: MetricsSchema.default({}),
  reload: ReloadSchema.default({ watch: false }),
  sts: StsSettingsSchema.default({}),
  network: NetworkSchema.default({}),
  profiles: z
    .record(ProfileNameSchema, ProfileSchema.superRefine(checkRoleOptions), {
      error: 'profiles must map profile names to profiles',
    })
    .refine((p) => Object.keys(p).length > 0, { error: 'define at least one profile under profiles:' }),
});

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

const ASSUME_ROLE_ONLY = ['externalId', 'tags', 'transitiveTagKeys', 'sourceIdentity'] as const;

/** Role settings that the profile's exchange cannot honour are errors, not silently dropped. */
function checkRoleOptions(
  profile: { source: SourceConfig; role: RoleConfig; chain?: RoleConfig[] | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  if (profile.source.type === 'x509') {
    const { pkcs12File, certificateFile, privateKey } = profile.source;
    if (pkcs12File === undefined && (certificateFile === undefined || privateKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', certificateFile === undefined ? 'certificateFile' : 'privateKey'],
        message: 'required: set certificateFile and privateKey (PEM), or pkcs12File',
      });
    }
    if (pkcs12File !== undefined && (certificateFile !== undefined || privateKey !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'pkcs12File'],
        message: 'pkcs12File holds the certificate and the key: remove certificateFile and privateKey',
      });
    }
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
