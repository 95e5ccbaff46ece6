// What a source hands to src/sts/: one proof kind per way of exchanging. Plain data, no behaviour.
import type { KeyObject } from 'node:crypto';

/** A JWT to present to AssumeRoleWithWebIdentity. */
export interface WebIdentityProof {
  kind: 'web-identity';
  token: string;
  /** The JWT's own expiry (ms since epoch), so it can be reused while valid. */
  expiresAt: number | undefined;
  /** `sub` of the JWT, for session names and logs (not secret). */
  subject: string | undefined;
}

/** One `https://aws.amazon.com/SAML/Attributes/Role` value: a role and the SAML provider that may assume it. */
export interface SamlRolePair {
  roleArn: string;
  principalArn: string;
}

/** A SAML Response to present to AssumeRoleWithSAML (what an IdP posts to signin.aws.amazon.com/saml). */
export interface SamlProof {
  kind: 'saml';
  /** The base64 `SAMLResponse`, exactly as the IdP sent it. A bearer secret: never log it. */
  assertion: string;
  /** Every role + provider pair the assertion offers, in its order. */
  roles: SamlRolePair[];
  /** The `SessionDuration` attribute (seconds): an upper bound for DurationSeconds. */
  sessionDuration: number | undefined;
  /** The earliest NotOnOrAfter of the assertion (ms since epoch). */
  notOnOrAfter: number | undefined;
  /** The provider to pick when role.arn is offered by several (source.principalArn). */
  principalArn: string | undefined;
  /** Where it came from, for messages (never secret). */
  idp: string;
}

/** A certificate and its key, to sign IAM Roles Anywhere CreateSession with (SigV4-X509). */
export interface X509Proof {
  kind: 'x509';
  /** DER of the end-entity certificate. */
  certificate: Buffer;
  /** DER of the intermediates, leaf-side first. */
  chain: Buffer[];
  /** Secret: never log it. */
  privateKey: KeyObject;
  algorithm: 'AWS4-X509-RSA-SHA256' | 'AWS4-X509-ECDSA-SHA256';
  /** Certificate serial number in decimal, as the signature's Credential= names it. */
  serialNumber: string;
  /** Subject CN, for session names (`{sub}`) and logs. */
  subject: string | undefined;
  notAfter: Date;
  /** Where to present it (from the source config). */
  rolesAnywhere: {
    trustAnchorArn: string;
    profileArn: string;
    region: string | undefined;
    endpoint: string | undefined;
    useFipsEndpoint: boolean;
    sendSessionName: boolean;
    timeout: number;
  };
}

/** AWS credentials from the standard chain, to call AssumeRole with. The secret parts are secrets. */
export interface AwsCredentialsProof {
  kind: 'aws-credentials';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
}

/** What a source hands to src/sts/: one kind per way of exchanging. */
export type Proof = WebIdentityProof | SamlProof | X509Proof | AwsCredentialsProof;
