// The role trust table: a stand-in for IAM roles and their trust policies.
// Each trustRole() call adds one trust statement; a role exists once it has one.
//
// A statement with `issuer`/`audience`/`subject` trusts web identities (AssumeRoleWithWebIdentity);
// one with `principals`/`externalId` trusts AWS principals (AssumeRole). A statement that sets
// neither kind of condition trusts both (handy in tests), like a policy with a wildcard principal.
import { errors } from './protocol.ts';

export interface TrustedRole {
  roleArn: string;
  /** Web identity: token `iss` (trailing slash ignored). */
  issuer?: string;
  /** Web identity: like the `<provider>:aud` condition; one of the token's audiences. */
  audience?: string;
  /** Web identity: like `<provider>:sub`. A string may use `*`/`?` as IAM StringLike does. */
  subject?: string | RegExp;
  /** Seconds, 3600..43200; default 3600 (IAM's default MaxSessionDuration). */
  maxSessionDuration?: number;
  /** AssumeRole: caller ARNs trusted: role ARNs (`arn:aws:iam::ACC:role/X`), user ARNs, `arn:aws:iam::ACC:root` or `*`. */
  principals?: string[];
  /** AssumeRole: like the `sts:ExternalId` condition. */
  externalId?: string;
  /** AssumeRoleWithSAML: the trusted SAML provider ARN (Principal.Federated). */
  samlProvider?: string;
  /** AssumeRoleWithSAML: like the `SAML:aud` condition; default https://signin.aws.amazon.com/saml. */
  samlAudience?: string;
}

export interface RoleRef {
  arn: string;
  account: string;
  /** The role name without its path: what appears in `assumed-role/NAME/SESSION`. */
  name: string;
}

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\u0021-\u007e]+\/)?([\w+=,.@-]{1,64})$/;

/** Parses an IAM role ARN; STS answers a malformed one with "Request ARN is invalid". */
export function parseRoleArn(arn: string): RoleRef {
  const m = ROLE_ARN.exec(arn);
  if (!m) throw errors.validation('Request ARN is invalid');
  return { arn, account: m[1]!, name: m[2]! };
}

export function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

/** IAM StringLike: `*` any run of characters, `?` any single character; everything else literal. */
export function stringLike(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) =>
    c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`,
  );
  return new RegExp(`^${source}$`, 's').test(value);
}

export interface WebIdentityClaims {
  issuer: string;
  /** The token's audiences that are registered client IDs of the provider. */
  audiences: string[];
  subject: string;
}

export interface AwsCaller {
  /** The caller's identity as trust policies name it: role ARN for a session, user ARN for a user. */
  principalArn: string;
  account: string;
}

export class TrustTable {
  private readonly statements = new Map<string, TrustedRole[]>();

  add(statement: TrustedRole): void {
    parseRoleArn(statement.roleArn); // fail fast on a typo in a test
    const max = statement.maxSessionDuration;
    if (max !== undefined && (max < 3600 || max > 43200)) {
      throw new RangeError(`maxSessionDuration must be 3600..43200 seconds, got ${max}`);
    }
    const list = this.statements.get(statement.roleArn) ?? [];
    list.push({ ...statement });
    this.statements.set(statement.roleArn, list);
  }

  /** The role's MaxSessionDuration (the largest any of its statements declares). */
  maxSessionDuration(roleArn: string): number {
    const list = this.statements.get(roleArn) ?? [];
    return Math.max(3600, ...list.map((s) => s.maxSessionDuration ?? 3600));
  }

  /** The first statement that lets this web identity in, and the audience it matched on. */
  matchWebIdentity(roleArn: string, claims: WebIdentityClaims): { audience: string } | undefined {
    for (const s of this.statements.get(roleArn) ?? []) {
      if (s.principals !== undefined || s.externalId !== undefined || s.samlProvider !== undefined) continue;
      if (s.issuer !== undefined && normalizeIssuer(s.issuer) !== claims.issuer) continue;
      if (s.audience !== undefined && !claims.audiences.includes(s.audience)) continue;
      if (!subjectMatches(s.subject, claims.subject)) continue;
      return { audience: s.audience ?? claims.audiences[0]! };
    }
    return undefined;
  }

  /** Whether some statement trusts this SAML provider, with a SAML:aud matching the assertion's Recipient. */
  matchSaml(roleArn: string, providerArn: string, recipient: string): boolean {
    return (this.statements.get(roleArn) ?? []).some(
      (s) =>
        s.samlProvider === providerArn &&
        (s.samlAudience ?? 'https://signin.aws.amazon.com/saml') === recipient,
    );
  }

  /** Whether some statement lets this AWS principal (with this ExternalId) assume the role. */
  matchAwsPrincipal(roleArn: string, caller: AwsCaller, externalId: string | undefined): boolean {
    return (this.statements.get(roleArn) ?? []).some((s) => {
      if (s.issuer !== undefined || s.audience !== undefined || s.subject !== undefined) return false;
      if (s.samlProvider !== undefined) return false;
      if (s.externalId !== undefined && s.externalId !== externalId) return false;
      if (s.principals === undefined) return true;
      return s.principals.some(
        (p) => p === '*' || p === caller.principalArn || p === `arn:aws:iam::${caller.account}:root`,
      );
    });
  }
}

function subjectMatches(condition: string | RegExp | undefined, subject: string): boolean {
  if (condition === undefined) return true;
  if (condition instanceof RegExp) {
    condition.lastIndex = 0; // a /g or /y RegExp would otherwise carry state between calls
    return condition.test(subject);
  }
  return stringLike(condition, subject);
}
