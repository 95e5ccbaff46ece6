// STS AssumeRoleWithSAML: the exchange of a `saml` source. The role + provider pair comes from the
// assertion's Role attribute (the one naming role.arn), and DurationSeconds never asks for more
// than the assertion's SessionDuration allows.
import { AssumeRoleWithSAMLCommand } from '@aws-sdk/client-sts';
import { SourceError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { SamlProof, SamlRolePair } from '../model/proof.ts';
import type { ExchangeRequest } from './request.ts';
import { assumeCall } from './result.ts';

/** STS's lower bound for DurationSeconds. */
const MIN_DURATION_SECONDS = 900;

/** role.durationSeconds, capped by the assertion's SessionDuration (never below STS's minimum). */
export function samlDurationSeconds(requested: number, sessionDuration: number | undefined): number {
  if (sessionDuration === undefined) return requested;
  return Math.max(MIN_DURATION_SECONDS, Math.min(requested, sessionDuration));
}

/** Which role + provider pair of the assertion to present: the one naming the profile's role.arn
 * (and source.principalArn when several providers offer it). */
export function chooseRolePair(proof: SamlProof, roleArn: string, profile: string): SamlRolePair {
  const offered = proof.roles.map((r) => `${r.roleArn} (via ${r.principalArn})`).join(', ');
  let candidates = proof.roles.filter((r) => r.roleArn === roleArn);
  if (proof.principalArn) candidates = candidates.filter((r) => r.principalArn === proof.principalArn);
  if (candidates.length === 0) {
    const via = proof.principalArn ? ` via ${proof.principalArn}` : '';
    throw new SourceError(
      'SAML_ROLE_NOT_OFFERED',
      `the SAML assertion from ${proof.idp} does not offer role ${roleArn}${via}; it offers: ${offered}. Set role.arn to one of these, or map the role to this user at the IdP`,
      { profile },
    );
  }
  const providers = [...new Set(candidates.map((r) => r.principalArn))];
  if (providers.length > 1) {
    throw new SourceError(
      'SAML_ROLE_AMBIGUOUS',
      `the SAML assertion from ${proof.idp} offers role ${roleArn} through several SAML providers (${providers.join(', ')}); set source.principalArn to the one to use`,
      { profile },
    );
  }
  return candidates[0]!;
}

export async function assumeRoleWithSaml(req: ExchangeRequest, proof: SamlProof): Promise<AwsCredentials> {
  const { role, profile } = req;
  const pair = chooseRolePair(proof, role.arn, profile);
  const durationSeconds = samlDurationSeconds(role.durationSeconds, proof.sessionDuration);
  const client = await req.clients.get(req.sts);
  return assumeCall(
    req,
    {
      roleArn: role.arn,
      durationSeconds,
      errors: {
        profile,
        target: role.arn,
        samlProvider: pair.principalArn,
        accessDeniedHint: `check the role's trust policy: Principal {"Federated": "${pair.principalArn}"}, Action sts:AssumeRoleWithSAML, Condition SAML:aud = https://signin.aws.amazon.com/saml`,
      },
    },
    (options) =>
      client.send(
        new AssumeRoleWithSAMLCommand({
          RoleArn: pair.roleArn,
          PrincipalArn: pair.principalArn,
          SAMLAssertion: proof.assertion,
          DurationSeconds: durationSeconds,
          Policy: role.policy,
          PolicyArns: role.policyArns?.map((arn) => ({ arn })),
        }),
        options,
      ),
  );
}
