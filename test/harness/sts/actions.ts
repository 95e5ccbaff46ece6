// The STS actions the emulator implements. Each returns the body of `<{Action}Result>`
// or throws the StsError real STS would answer with.
import {
  newAccessKeyId,
  newSecretAccessKey,
  newSessionToken,
  type Principal,
  type PrincipalStore,
  type SessionTag,
  uniqueId,
} from './identity.ts';
import type { OidcVerifier } from './oidc.ts';
import { errors, isoSeconds, type Params, type XmlNode } from './protocol.ts';
import { assumeRoleWithSaml, type SamlVerifier } from './saml.ts';
import { parseAuthorization, type RequestToVerify, verifySignature } from './sigv4.ts';
import { parseRoleArn, type RoleRef, type TrustTable } from './trust.ts';
import * as v from './validate.ts';

export interface ActionContext {
  now(): number;
  principals: PrincipalStore;
  trust: TrustTable;
  oidc: OidcVerifier;
  saml: SamlVerifier;
}

export type ActionHandler = (ctx: ActionContext, params: Params, req: RequestToVerify) => Promise<XmlNode>;

/** Action name → handler. AssumeRoleWith* are unsigned in real STS; the rest need SigV4. */
export const ACTIONS: Record<string, ActionHandler> = {
  AssumeRoleWithWebIdentity: assumeRoleWithWebIdentity,
  AssumeRoleWithSAML: assumeRoleWithSaml,
  AssumeRole: assumeRole,
  GetCallerIdentity: getCallerIdentity,
};

/** Actions real STS has that this emulator does not (answered distinctly from a typo'd action). */
export const UNIMPLEMENTED_ACTIONS = [
  'AssumeRoot',
  'DecodeAuthorizationMessage',
  'GetAccessKeyInfo',
  'GetDelegatedAccessToken',
  'GetFederationToken',
  'GetSessionToken',
  'GetWebIdentityToken',
];

// Claims STS reads from a web identity token besides iss/sub/aud.
const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';
const TAGS_CLAIM = 'https://aws.amazon.com/tags';

async function assumeRoleWithWebIdentity(ctx: ActionContext, params: Params): Promise<XmlNode> {
  const request = {
    roleArn: v.roleArn(params),
    sessionName: v.roleSessionName(params),
    token: v.webIdentityToken(params),
    duration: v.durationSeconds(params),
    policy: v.sessionPolicy(params),
    policyArns: v.policyArns(params),
  };
  const role = parseRoleArn(request.roleArn);
  const identity = await ctx.oidc.verify(request.token);
  const match = ctx.trust.matchWebIdentity(role.arn, {
    issuer: identity.provider.issuer,
    audiences: identity.audiences,
    subject: identity.subject,
  });
  if (!match) throw errors.accessDenied('Not authorized to perform sts:AssumeRoleWithWebIdentity');
  checkRoleMaxDuration(ctx, role, request.duration);

  const claimedSource = identity.claims[SOURCE_IDENTITY_CLAIM];
  const session = issueSession(ctx, role, {
    sessionName: request.sessionName,
    duration: request.duration,
    via: 'AssumeRoleWithWebIdentity',
    tags: tagsFromClaim(identity.claims[TAGS_CLAIM]),
    policy: request.policy,
    policyArns: request.policyArns,
    sourceIdentity: typeof claimedSource === 'string' ? claimedSource : undefined,
  });
  return {
    Credentials: credentialsXml(session),
    SubjectFromWebIdentityToken: identity.subject,
    AssumedRoleUser: assumedRoleUserXml(session),
    // Real STS returns the IAM OIDC provider's ARN here (not the bare `iss`).
    Provider: identity.provider.arn,
    Audience: match.audience,
    PackedPolicySize: packedPolicySize(session),
    SourceIdentity: session.sourceIdentity,
  };
}

async function assumeRole(ctx: ActionContext, params: Params, req: RequestToVerify): Promise<XmlNode> {
  const caller = authenticate(ctx, req);
  const request = {
    roleArn: v.roleArn(params),
    sessionName: v.roleSessionName(params),
    duration: v.durationSeconds(params),
    externalId: v.externalId(params),
    policy: v.sessionPolicy(params),
    policyArns: v.policyArns(params),
    tags: v.sessionTags(params),
    sourceIdentity: v.sourceIdentity(params),
  };
  const role = parseRoleArn(request.roleArn);
  const principalArn = caller.roleArn ?? caller.arn;
  if (!ctx.trust.matchAwsPrincipal(role.arn, { principalArn, account: caller.account }, request.externalId)) {
    throw errors.accessDenied(
      `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${role.arn}`,
    );
  }
  // A session obtained with a role session's credentials is "role chaining": capped at 1 hour.
  if (caller.kind === 'assumed-role' && request.duration > 3600) {
    throw errors.validation(
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    );
  }
  checkRoleMaxDuration(ctx, role, request.duration);

  const session = issueSession(ctx, role, {
    sessionName: request.sessionName,
    duration: request.duration,
    via: 'AssumeRole',
    tags: mergeTransitiveTags(caller.tags, request.tags),
    policy: request.policy,
    policyArns: request.policyArns,
    sourceIdentity: chainSourceIdentity(caller.sourceIdentity, request.sourceIdentity),
  });
  return {
    Credentials: credentialsXml(session),
    AssumedRoleUser: assumedRoleUserXml(session),
    PackedPolicySize: packedPolicySize(session),
    SourceIdentity: session.sourceIdentity,
  };
}

async function getCallerIdentity(
  ctx: ActionContext,
  _params: Params,
  req: RequestToVerify,
): Promise<XmlNode> {
  const caller = authenticate(ctx, req);
  return { UserId: caller.userId, Account: caller.account, Arn: caller.arn };
}

/** SigV4 authentication of a signed action: the principal whose key signed the request. */
function authenticate(ctx: ActionContext, req: RequestToVerify): Principal {
  const header = req.headers.authorization;
  if (header === undefined) {
    if (/[?&]X-Amz-Signature=/i.test(req.rawUrl)) {
      throw errors.incompleteSignature(
        'Presigned (query-string) requests are not supported by the STS emulator.',
      );
    }
    throw errors.missingAuth();
  }
  const auth = parseAuthorization(header);
  const principal = ctx.principals.get(auth.accessKeyId);
  if (!principal) throw errors.invalidClientTokenId();
  // Session credentials are only valid with their own token; long-term keys with none.
  if (req.headers['x-amz-security-token'] !== principal.sessionToken) throw errors.invalidClientTokenId();
  const now = ctx.now();
  if (principal.expiration !== undefined && now >= principal.expiration) throw errors.expiredToken();
  verifySignature(req, auth, principal.secretAccessKey, now);
  return principal;
}

export function checkRoleMaxDuration(ctx: ActionContext, role: RoleRef, duration: number): void {
  if (duration > ctx.trust.maxSessionDuration(role.arn)) {
    throw errors.validation(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }
}

export interface SessionRequest {
  sessionName: string;
  duration: number;
  via: string;
  tags: SessionTag[];
  policy: string | undefined;
  policyArns: string[];
  sourceIdentity: string | undefined;
}

/** Mints and remembers fresh credentials for a role session. */
export function issueSession(
  ctx: Pick<ActionContext, 'now' | 'principals'>,
  role: RoleRef,
  request: SessionRequest,
): Principal {
  const roleId = uniqueId('AROA', role.arn);
  return ctx.principals.add({
    kind: 'assumed-role',
    accessKeyId: newAccessKeyId('ASIA'),
    secretAccessKey: newSecretAccessKey(),
    sessionToken: newSessionToken(),
    expiration: ctx.now() + request.duration * 1000,
    arn: `arn:aws:sts::${role.account}:assumed-role/${role.name}/${request.sessionName}`,
    userId: `${roleId}:${request.sessionName}`,
    account: role.account,
    roleArn: role.arn,
    sessionName: request.sessionName,
    sourceIdentity: request.sourceIdentity,
    tags: request.tags,
    policy: request.policy,
    policyArns: request.policyArns,
    via: request.via,
  });
}

export function credentialsXml(p: Principal): XmlNode {
  return {
    AccessKeyId: p.accessKeyId,
    SecretAccessKey: p.secretAccessKey,
    SessionToken: p.sessionToken ?? '',
    Expiration: isoSeconds(p.expiration ?? 0),
  };
}

export function assumedRoleUserXml(p: Principal): XmlNode {
  return { AssumedRoleId: p.userId, Arn: p.arn };
}

/**
 * STS reports how much of the packed session-policy/tag budget a request used, only when it
 * passed any. The real packing is undocumented; this approximation never exceeds 100.
 */
function packedPolicySize(p: Principal): number | undefined {
  if (p.policy === undefined && p.policyArns.length === 0 && p.tags.length === 0) return undefined;
  const bytes =
    (p.policy?.length ?? 0) +
    p.policyArns.join('').length +
    p.tags.reduce((sum, t) => sum + t.key.length + t.value.length, 0);
  return Math.min(100, Math.max(1, Math.ceil((bytes * 100) / 4096)));
}

/** Transitive tags of the calling session carry over to the chained session and cannot be overridden. */
function mergeTransitiveTags(inherited: SessionTag[], requested: SessionTag[]): SessionTag[] {
  const carried = inherited.filter((t) => t.transitive);
  for (const tag of requested) {
    if (carried.some((t) => t.key.toLowerCase() === tag.key.toLowerCase())) {
      throw errors.validation(`Cannot override transitive session tag ${tag.key} in a role chain.`);
    }
  }
  return [...carried, ...requested];
}

/** Once set, a source identity persists across chained sessions and cannot change. */
function chainSourceIdentity(
  inherited: string | undefined,
  requested: string | undefined,
): string | undefined {
  if (inherited !== undefined && requested !== undefined && requested !== inherited) {
    throw errors.accessDenied('SourceIdentity cannot be changed once set on a role session.');
  }
  return inherited ?? requested;
}

/** Session tags from the `https://aws.amazon.com/tags` claim (`principal_tags` + `transitive_tag_keys`). */
function tagsFromClaim(claim: unknown): SessionTag[] {
  if (typeof claim !== 'object' || claim === null) return [];
  const { principal_tags: principalTags, transitive_tag_keys: transitiveKeys } = claim as Record<
    string,
    unknown
  >;
  if (typeof principalTags !== 'object' || principalTags === null) return [];
  const transitive = Array.isArray(transitiveKeys) ? transitiveKeys.filter((k) => typeof k === 'string') : [];
  return Object.entries(principalTags).map(([key, value]) => ({
    key,
    value: Array.isArray(value) ? String(value[0] ?? '') : String(value),
    transitive: transitive.includes(key),
  }));
}
