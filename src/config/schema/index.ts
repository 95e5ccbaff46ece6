// The one source of truth for configuration, composed here from one module per section (this
// folder): these zod schemas give the TypeScript types (`Config`, `Profile`, ...), the validation,
// with messages that say what to write instead, and every default.
// Adding a source type = one more member of `SourceSchema` (sources/index.ts; its file in src/sources/).
// Every setting carries `.meta({ description })`: docs/config-reference.md is generated from it
// (`npm run docs:config`) and a test fails on a setting without one. Shared schemas (DurationSchema,
// SecretRefSchema, ...) carry none, so that each use has to say what it is for. `defaultText` states
// a default applied at run time rather than by the schema (the reference shows it as the default).
// Settings that name a file are of the path type (./path.ts): relative ones resolve against the
// config file's folder.
import * as z from 'zod';
import { PROFILE_NAME_HELP, ProfileNameSchema } from './common.ts';
import { ImdsSchema } from './imds.ts';
import { LoggingSchema, MetricsSchema, ReloadSchema } from './logging.ts';
import { NetworkSchema } from './network.ts';
import { ProfileSchema } from './profile.ts';
import type { RefreshSchema } from './refresh.ts';
import type { RoleSchema } from './role.ts';
import type { LimitsSchema, TlsSchema } from './server.ts';
import { ServerSchema } from './server.ts';
import type { AwsSourceSchema } from './sources/aws.ts';
import type { SourceSchema } from './sources/index.ts';
import type { OidcSourceSchema } from './sources/oidc.ts';
import type { SamlSourceSchema } from './sources/saml.ts';
import type { WebIdentityFileSourceSchema } from './sources/web-identity-file.ts';
import type { X509SourceSchema } from './sources/x509.ts';
import { StsSettingsSchema } from './sts.ts';

export { DurationSchema, SecretRefSchema, ThresholdDurationSchema } from './common.ts';
export { resolvingPathsAgainst } from './path.ts';
export { RefreshSchema } from './refresh.ts';
export { StsSettingsSchema } from './sts.ts';

const ConfigObjectSchema = z.strictObject({
  server: ServerSchema.prefault({}).meta({
    description: 'The credentials listener: address, client tokens, TLS, limits.',
  }),
  imds: ImdsSchema.optional().meta({
    description: 'An IMDSv2 listener, for apps that only know instance metadata.',
    defaultText: 'off',
  }),
  logging: LoggingSchema.prefault({}).meta({
    description: 'Log level and format.',
  }),
  metrics: MetricsSchema.prefault({}).meta({ description: 'A separate listener for metrics and health.' }),
  reload: ReloadSchema.prefault({}).meta({ description: 'Config reloading.' }),
  sts: StsSettingsSchema.prefault({}).meta({
    description: "STS client settings; the default for every profile (a profile's own `sts` overrides them).",
  }),
  network: NetworkSchema.prefault({}).meta({
    description:
      'How outbound requests (STS, Roles Anywhere, OIDC issuers, SAML IdPs) leave this host; the default for every profile.',
  }),
  profiles: z
    .record(ProfileNameSchema, ProfileSchema, {
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
export const ConfigSchema = ConfigObjectSchema.superRefine(checkImdsProfile).superRefine(
  checkCredentialsFileSections,
);

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

/** Two profiles writing one section of one file would overwrite each other at every refresh. */
function checkCredentialsFileSections(
  config: z.infer<typeof ConfigObjectSchema>,
  ctx: z.core.$RefinementCtx,
): void {
  const owners = new Map<string, string>();
  for (const [name, profile] of Object.entries(config.profiles)) {
    const target = profile.credentialsFile;
    if (!target) continue;
    const section = target.section ?? name;
    const key = JSON.stringify([target.path, section]);
    const owner = owners.get(key);
    if (owner === undefined) owners.set(key, name);
    else {
      ctx.addIssue({
        code: 'custom',
        path: ['profiles', name, 'credentialsFile', 'section'],
        message: `profile "${owner}" already keeps section [${section}] of ${target.path}: give this one another section`,
      });
    }
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
