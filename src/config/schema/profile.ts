// Config section `profiles.NAME`: a source, a role, and the rules that tie them together (role
// settings the profile's exchange cannot honour are refused here, with the file and path named).
import * as z from 'zod';
import { CredentialsFileSchema } from './credentials-file.ts';
import { NetworkSchema } from './network.ts';
import { PathSchema } from './path.ts';
import { RefreshSchema } from './refresh.ts';
import { type RoleConfig, RoleSchema } from './role.ts';
import { checkMaterial } from './sources/certificate.ts';
import { type SourceConfig, SourceSchema } from './sources/index.ts';
import { StsSettingsSchema } from './sts.ts';

/** A source plus a role, and how its credentials are fetched and refreshed. */

export const ProfileSchema = z
  .strictObject({
    source: SourceSchema.meta({
      description: 'The identity the broker proves, chosen by `type`; each type has its own settings.',
    }),
    role: RoleSchema.meta({ description: "The role the source's proof is exchanged for at STS." }),
    sts: StsSettingsSchema.optional().meta({
      description:
        'STS client settings for this profile; each one set here overrides the top-level `sts` one.',
      defaultText: 'the top-level `sts`',
    }),
    tokenFile: PathSchema.optional().meta({
      description:
        "This profile's own client token file (created like `server.tokenFile`): only this token opens the profile, so app A cannot read app B's role. Give only this app's user read access.",
      defaultText: 'the shared `server.tokenFile`',
      examples: ['/run/credential-broker/reports.token'],
    }),
    credentialsFile: CredentialsFileSchema.optional(),
    lazy: z.boolean().default(false).meta({
      description:
        'Fetch on the first request instead of at startup, and do not hold `/readyz` for this profile until then.',
    }),
    refresh: RefreshSchema.prefault({}).meta({
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
  })
  .superRefine(checkProfile);

const ASSUME_ROLE_ONLY = ['externalId', 'tags', 'transitiveTagKeys', 'sourceIdentity'] as const;

/** Settings that the profile's exchange (or its fetch timing) cannot honour are errors, not
 * silently dropped. */
function checkProfile(
  profile: {
    source: SourceConfig;
    role: RoleConfig;
    chain?: RoleConfig[] | undefined;
    lazy: boolean;
    credentialsFile?: unknown;
  },
  ctx: z.core.$RefinementCtx,
): void {
  if (profile.lazy && profile.credentialsFile) {
    // A tool reading the file never asks the broker, so a lazy profile's file would never appear.
    ctx.addIssue({
      code: 'custom',
      path: ['lazy'],
      message: 'a profile with credentialsFile is fetched at startup: remove lazy: true',
    });
  }
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
