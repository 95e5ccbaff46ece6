// Principals the emulator knows: the sessions it issued (ASIA… keys) and IAM users
// created by the test (AKIA… keys). SigV4 requests are authenticated against this store.
import { createHash, randomBytes } from 'node:crypto';

export interface SessionTag {
  key: string;
  value: string;
  transitive: boolean;
}

/** What the emulator remembers about a set of credentials it handed out. */
export interface Principal {
  kind: 'assumed-role' | 'user';
  accessKeyId: string;
  secretAccessKey: string;
  /** Undefined for IAM users (long-term keys carry no session token). */
  sessionToken?: string;
  /** ms epoch; undefined = never expires (IAM user keys). */
  expiration?: number;
  /** `arn:aws:sts::ACC:assumed-role/NAME/SESSION` or `arn:aws:iam::ACC:user/NAME`. */
  arn: string;
  /** GetCallerIdentity `UserId`: `AROA…:SESSION` or `AIDA…`. */
  userId: string;
  account: string;
  /** For sessions: the IAM role ARN behind the session (what trust policies name). */
  roleArn?: string;
  sessionName?: string;
  sourceIdentity?: string;
  tags: SessionTag[];
  policy?: string;
  policyArns: string[];
  /** How the session was obtained (AssumeRoleWithWebIdentity, AssumeRole) or 'CreateAccessKey'. */
  via: string;
}

// IAM unique IDs and access key IDs use upper-case base32 characters.
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE32[bytes[i % bytes.length]! % 32];
  return out;
}

export function newAccessKeyId(prefix: 'ASIA' | 'AKIA'): string {
  return prefix + base32(randomBytes(16), 16);
}

/** 40 characters, the same alphabet and length as real secret keys. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

/** Real session tokens are long opaque base64 blobs (several hundred characters). */
export function newSessionToken(): string {
  return `IQoJb3JpZ2luX2Vj${randomBytes(384).toString('base64')}`;
}

/** A stable unique ID for a named entity (AROA… for roles, AIDA… for users), like IAM's. */
export function uniqueId(prefix: 'AROA' | 'AIDA', arn: string): string {
  return prefix + base32(createHash('sha256').update(arn).digest(), 17);
}

export class PrincipalStore {
  private readonly byKey = new Map<string, Principal>();

  add(principal: Principal): Principal {
    this.byKey.set(principal.accessKeyId, principal);
    return principal;
  }

  get(accessKeyId: string): Principal | undefined {
    return this.byKey.get(accessKeyId);
  }
}
