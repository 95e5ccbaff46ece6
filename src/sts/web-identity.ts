// STS AssumeRoleWithWebIdentity: the exchange of the `oidc` and `web-identity-file` sources (and
// Kerberos -> OIDC). Unsigned: the token is the proof, so one client per STS setting serves all.
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { WebIdentityProof } from '../model/proof.ts';
import { type ExchangeRequest, renderSessionName } from './request.ts';
import { assumeCall } from './result.ts';

export async function assumeRoleWithWebIdentity(
  req: ExchangeRequest,
  proof: WebIdentityProof,
): Promise<AwsCredentials> {
  const { role, profile } = req;
  const client = await req.clients.get(req.sts);
  return assumeCall(
    req,
    { roleArn: role.arn, durationSeconds: role.durationSeconds, errors: { profile, target: role.arn } },
    (options) =>
      client.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: role.arn,
          RoleSessionName: renderSessionName(role.sessionName, { profile, sub: proof.subject }),
          WebIdentityToken: proof.token,
          DurationSeconds: role.durationSeconds,
          Policy: role.policy,
          PolicyArns: role.policyArns?.map((arn) => ({ arn })),
        }),
        options,
      ),
  );
}
