// STS AssumeRoleWithWebIdentity: the exchange of the `oidc` and `web-identity-file` sources (and
// Kerberos -> OIDC). Unsigned: the token is the proof, so one client per STS setting serves all.
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { StsError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { WebIdentityProof } from '../model/proof.ts';
import { serverDateOf } from './clients.ts';
import { mapStsError } from './errors.ts';
import { type ExchangeRequest, renderSessionName } from './request.ts';
import { toCredentials } from './result.ts';
import { sendOptions } from './settings.ts';

export async function assumeRoleWithWebIdentity(
  req: ExchangeRequest,
  proof: WebIdentityProof,
): Promise<AwsCredentials> {
  const { role, profile } = req;
  const now = req.now ?? Date.now;
  const client = await req.clients.get(req.sts);
  const startedAt = now();
  try {
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: role.arn,
        RoleSessionName: renderSessionName(role.sessionName, { profile, sub: proof.subject }),
        WebIdentityToken: proof.token,
        DurationSeconds: role.durationSeconds,
        Policy: role.policy,
        PolicyArns: role.policyArns?.map((arn) => ({ arn })),
      }),
      sendOptions(req.sts),
    );
    return toCredentials(out.Credentials, {
      profile,
      roleArn: role.arn,
      durationSeconds: role.durationSeconds,
      assumedRoleArn: out.AssumedRoleUser?.Arn,
      startedAt,
      serverDate: serverDateOf(out),
      receivedAt: now(),
    });
  } catch (err) {
    throw err instanceof StsError ? err : mapStsError(err, { profile, target: role.arn });
  }
}
