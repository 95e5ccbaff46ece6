import type { SourceConfig } from '../config/schema.ts';

/** A JWT to present to AssumeRoleWithWebIdentity. */
export interface WebIdentityProof {
  kind: 'web-identity';
  token: string;
  /** The JWT's own expiry (ms since epoch), so it can be reused while valid. */
  expiresAt: number | undefined;
  /** `sub` of the JWT, for session names and logs (not secret). */
  subject: string | undefined;
}

/** What a source hands to src/sts/. More kinds (SAML assertion, X.509 session) join this union. */
export type Proof = WebIdentityProof;

/** An identity source: authenticates the machine somewhere and returns a proof. Never talks to clients or STS. */
export interface Source {
  readonly type: SourceConfig['type'];
  /** Where it authenticates (issuer URL, file path): for logs and `check`; never secret. */
  readonly describe: string;
  getProof(): Promise<Proof>;
}
