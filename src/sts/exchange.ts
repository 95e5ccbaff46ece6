// Turns a source's proof into temporary credentials: the one exchange for the proof's kind (one
// file each: web-identity.ts, saml.ts, roles-anywhere.ts, chain.ts for AssumeRole), then the
// profile's chain. What the exchanges share: request.ts, settings.ts, clients.ts, errors.ts, result.ts.
import type { AwsCredentials } from '../model/credentials.ts';
import { assumeChain, assumeRole } from './chain.ts';
import type { ExchangeRequest } from './request.ts';
import { rolesAnywhereSession } from './roles-anywhere.ts';
import { assumeRoleWithSaml } from './saml.ts';
import { assumeRoleWithWebIdentity } from './web-identity.ts';

/** Exchanges a proof for credentials: one case per proof kind (each source yields one kind). */
export async function exchange(req: ExchangeRequest): Promise<AwsCredentials> {
  const first = await exchangeProof(req);
  if (!req.chain?.length) return first;
  const sub = 'subject' in req.proof ? req.proof.subject : undefined;
  return assumeChain(first, req, sub);
}

function exchangeProof(req: ExchangeRequest): Promise<AwsCredentials> {
  switch (req.proof.kind) {
    case 'web-identity':
      return assumeRoleWithWebIdentity(req, req.proof);
    case 'x509':
      return rolesAnywhereSession(req, req.proof);
    case 'saml':
      return assumeRoleWithSaml(req, req.proof);
    case 'aws-credentials':
      return assumeRole(req.proof, req.role, req, {
        sub: undefined,
        durationSeconds: req.role.durationSeconds,
        label: req.role.arn,
        slot: 'role',
      });
  }
}
