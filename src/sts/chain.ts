// STS AssumeRole: the exchange of an `aws` source, and every hop of a profile's `chain:`.
// Each hop signs with the previous hop's credentials. AWS caps a session obtained with role
// credentials ("role chaining") at one hour, so chained durations are capped here rather than
// letting STS refuse the request; the broker warns about the cap once, at startup.
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { RoleConfig } from '../config/schema/index.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { SigningKeys } from './clients.ts';
import { type ExchangeRequest, renderSessionName } from './request.ts';
import { assumeCall } from './result.ts';

/** AWS's limit for sessions obtained by role chaining. */
export const CHAINED_SESSION_MAX_SECONDS = 3600;

/** Warnings for chain entries asking more than the chained-session cap (logged at startup). */
export function chainWarnings(chain: RoleConfig[] | undefined): string[] {
  return (chain ?? []).flatMap((role, i) =>
    role.durationSeconds > CHAINED_SESSION_MAX_SECONDS
      ? [
          `chain[${i}] (${role.arn}) asks durationSeconds ${role.durationSeconds}, but AWS limits chained role sessions to ${CHAINED_SESSION_MAX_SECONDS}: ${CHAINED_SESSION_MAX_SECONDS} is used`,
        ]
      : [],
  );
}

/** Assumes each chain role in turn, starting from the first exchange's credentials. */
export async function assumeChain(
  first: AwsCredentials,
  req: ExchangeRequest,
  sub: string | undefined,
): Promise<AwsCredentials> {
  let current = first;
  for (const [i, role] of (req.chain ?? []).entries()) {
    current = await assumeRole(current, role, req, {
      sub,
      durationSeconds: Math.min(role.durationSeconds, CHAINED_SESSION_MAX_SECONDS),
      label: `chain[${i}] role ${role.arn}`,
      slot: `chain[${i}]`,
    });
  }
  return current;
}

/** One AssumeRole call signed with `keys`. */
export async function assumeRole(
  keys: SigningKeys,
  role: RoleConfig,
  req: ExchangeRequest,
  /** `slot`: which of the profile's AssumeRole calls this is (`role`, `chain[0]`), one client each. */
  opts: { sub: string | undefined; durationSeconds: number; label: string; slot: string },
): Promise<AwsCredentials> {
  const { profile } = req;
  const vars = { profile, sub: opts.sub };
  const signer = { slot: `${profile}/${opts.slot}`, keys };
  const client = await req.clients.get(req.sts, { signer });
  return assumeCall(
    req,
    {
      roleArn: role.arn,
      durationSeconds: opts.durationSeconds,
      errors: {
        profile,
        target: opts.label,
        accessDeniedHint: `check ${role.arn}'s trust policy: its Principal must name the calling identity (the previous role, or the source's user/role)${role.externalId ? ' and its sts:ExternalId condition must equal the configured externalId' : ', and add externalId if it requires sts:ExternalId'}; for tags and sourceIdentity it must also allow sts:TagSession / sts:SetSourceIdentity`,
      },
    },
    (options) =>
      client.send(
        new AssumeRoleCommand({
          RoleArn: role.arn,
          RoleSessionName: renderSessionName(role.sessionName, vars),
          DurationSeconds: opts.durationSeconds,
          ExternalId: role.externalId,
          Policy: role.policy,
          PolicyArns: role.policyArns?.map((arn) => ({ arn })),
          Tags: role.tags?.map((t) => ({ Key: t.key, Value: t.value })),
          TransitiveTagKeys: role.transitiveTagKeys,
          SourceIdentity: role.sourceIdentity ? renderSessionName(role.sourceIdentity, vars) : undefined,
        }),
        options,
      ),
  );
}
