// Which role + provider pair of the assertion to present: the one naming the profile's role.arn
// (and source.principalArn when several providers offer it).
import { SourceError } from '../../errors.ts';
import type { SamlProof, SamlRolePair } from '../types.ts';

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
