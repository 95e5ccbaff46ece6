// The one source of truth for configuration: these zod schemas give both the TypeScript types
// (`Config`, `Profile`, ...) and the validation, with messages that say what to write instead.
// Adding a source type = one more member of `SourceSchema` (and its file in src/sources/).
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

export const SourceSchema = z.discriminatedUnion('type', [OidcSourceSchema], {
  error: 'source.type must be one of: oidc',
});

export const RoleSchema = z.strictObject({
  arn: RoleArnSchema,
  /** Shown in CloudTrail; `{profile}` and `{hostname}` are replaced. */
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
  refresh: RefreshSchema.default({ before: 30 * 60_000, minRemaining: 20 * 60_000, jitter: 0.1 }),
});

const ListenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: 'expected HOST:PORT, like 127.0.0.1:9911',
  })
  .refine((l) => parseListen(l).port <= 65_535, { error: 'the port must be 0..65535 (0 picks a free one)' })
  .refine((l) => isLoopbackHost(parseListen(l).host), {
    error:
      'credentials are served over plain http only on loopback, and this version has no TLS listener: listen on 127.0.0.1:PORT (a Kubernetes sidecar shares the pod loopback)',
  });

export const ServerSchema = z.strictObject({
  /** http is only allowed on loopback (DESIGN.md "Serving"). */
  listen: ListenSchema.default('127.0.0.1:9911'),
  /** Client token shared by profiles without their own; created (0600, 256 random bits) if missing. */
  tokenFile: z.string().min(1).optional(),
});

export const LoggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const ConfigSchema = z.strictObject({
  server: ServerSchema.default({ listen: '127.0.0.1:9911' }),
  logging: LoggingSchema.default({ level: 'info' }),
  sts: StsSettingsSchema.default({}),
  profiles: z
    .record(ProfileNameSchema, ProfileSchema, { error: 'profiles must map profile names to profiles' })
    .refine((p) => Object.keys(p).length > 0, { error: 'define at least one profile under profiles:' }),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Profile = z.infer<typeof ProfileSchema>;
export type SourceConfig = z.infer<typeof SourceSchema>;
export type OidcSourceConfig = z.infer<typeof OidcSourceSchema>;
export type RoleConfig = z.infer<typeof RoleSchema>;
export type StsSettings = z.infer<typeof StsSettingsSchema>;
export type RefreshConfig = z.infer<typeof RefreshSchema>;

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
