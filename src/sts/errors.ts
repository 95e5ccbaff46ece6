// STS's (and Roles Anywhere's) failures as StsErrors: a stable code, whether to retry, and what
// to fix, with the fix worded for the exchange that failed (web identity, SAML, AssumeRole).
import { StsError } from '../errors.ts';
import { describeNetworkFailure } from '../net.ts';

const RETRYABLE_CODES = new Set([
  'TooManyRequests',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'IDPCommunicationError',
]);

/**
 * What to fix for each reason STS gives in InvalidIdentityToken (its own wording, as the STS
 * emulator in test/harness/sts/oidc.ts reproduces it). SAML refusals share the code; they get
 * the provider hint.
 */
function identityTokenHint(msg: string): { hint: string; retryable: boolean } {
  const rules: [RegExp, string, boolean?][] = [
    [
      /No OpenIDConnect provider found/i,
      "no IAM OIDC provider has exactly the token's issuer (iss): create one for it (aws iam create-open-id-connect-provider --url ISSUER --client-id-list AUDIENCE); the URL must match iss character for character, trailing slash and path included",
    ],
    [
      /Incorrect token audience/i,
      "the token's aud is not one of the IAM OIDC provider's client IDs: add it (aws iam add-client-id-to-open-id-connect-provider) or have the token issued for an audience the provider lists (sts.amazonaws.com by convention)",
    ],
    [
      /Couldn't retrieve verification key|Signature validation failed|signing algorithm/i,
      'STS could not verify the signature: it fetches ISSUER/.well-known/openid-configuration and its jwks_uri from the internet, so both must be reachable over https with a publicly trusted certificate, and the JWKS must hold the key (kid) that signed the token; signing keys rotated since? RS256/ES256 only',
    ],
    [
      /not valid yet|issued in the future/i,
      "the token's nbf or iat lies ahead of STS's clock: the issuer's clock (or this host's, if it mints the token) runs fast; fix time sync (NTP). Retried: the token becomes valid with time",
      true,
    ],
    [
      /not a valid JWT/i,
      'the token is not a signed JWT STS can read (an opaque access token, or an encrypted one); have the provider issue a JWT',
    ],
    [/missing the (sub|exp)/i, 'the token lacks a claim STS requires; have the provider include sub and exp'],
  ];
  for (const [pattern, hint, retryable] of rules) {
    if (pattern.test(msg)) return { hint, retryable: retryable ?? false };
  }
  return {
    hint: "check that an IAM identity provider exists for the token's issuer and lists the token's audience as a client ID",
    retryable: false,
  };
}

/** What a failed STS call was, for its message and fix. */
export interface StsCallContext {
  profile: string;
  /** What was asked: a role ARN, `chain[0] role ARN`, `GetCallerIdentity`. */
  target: string;
  /** What to check on AccessDenied, when the default (web identity trust) does not fit. */
  accessDeniedHint?: string | undefined;
  /** An AssumeRoleWithSAML call: its refusals name the assertion and this IAM SAML provider. */
  samlProvider?: string | undefined;
}

/** STS error → StsError with a stable code, a retry decision and the likely fix. */
export function mapStsError(err: unknown, ctx: StsCallContext): StsError {
  const { profile, target, samlProvider } = ctx;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const awsCode = e?.name ?? 'Unknown';
  // The SDK names modeled errors after their class (InvalidIdentityTokenException); the wire Code
  // has no suffix (InvalidIdentityToken). Match on the wire form.
  const code = awsCode.replace(/Exception$/, '');
  const status = e?.$metadata?.httpStatusCode;
  const msg = (e?.message ?? String(err)).replace(/\s+/g, ' ');
  const opts = { profile, awsCode: code, cause: err };

  // Not STS's answer (modeled errors carry $fault) but the transport's: a body cut off or aborted
  // after the status line arrived carries that status too, and is as retryable as a refused connection.
  if (status === undefined || typeof err !== 'object' || err === null || !('$fault' in err)) {
    const network = describeNetworkFailure(err);
    if (network) {
      return new StsError('STS_UNREACHABLE', `cannot reach STS for ${target} (${network})`, {
        ...opts,
        retryable: true,
      });
    }
  }
  if (code === 'Throttling' || code === 'RequestLimitExceeded') {
    return new StsError('STS_THROTTLED', `STS throttled ${target} (${awsCode}); backing off`, {
      ...opts,
      retryable: true,
    });
  }
  if (RETRYABLE_CODES.has(code) || (status !== undefined && status >= 500)) {
    return new StsError('STS_UNAVAILABLE', `STS failed ${target} (${awsCode}: ${msg})`, {
      ...opts,
      retryable: true,
    });
  }
  switch (code) {
    case 'InvalidIdentityToken': {
      const { hint, retryable } = identityTokenHint(msg);
      if (samlProvider) {
        return new StsError(
          'STS_SAML_REJECTED',
          `STS rejected the SAML assertion for ${target} (${msg}); check that the IAM SAML provider ${samlProvider} has the IdP's current metadata (signing certificate), and that the assertion's Audience is https://signin.aws.amazon.com/saml`,
          { ...opts, retryable },
        );
      }
      return new StsError(
        'STS_TOKEN_REJECTED',
        `STS rejected the identity token for ${target} (${msg}); ${hint}`,
        {
          ...opts,
          retryable,
        },
      );
    }
    case 'ExpiredToken':
      // The next attempt fetches a fresh token, so this one is worth retrying.
      return new StsError(
        'STS_TOKEN_EXPIRED',
        samlProvider
          ? `STS says the SAML assertion is expired (${code}); check the clocks of the IdP and of this host`
          : `STS says the identity token is expired (${msg}); check this machine's clock`,
        {
          ...opts,
          retryable: true,
        },
      );
    case 'IDPRejectedClaim':
      return new StsError(
        'STS_CLAIM_REJECTED',
        `STS rejected a claim of the token for ${target} (${msg})`,
        opts,
      );
    case 'AccessDenied':
      return new StsError(
        'STS_ACCESS_DENIED',
        `STS denied assuming ${target} (${msg}); ${ctx.accessDeniedHint ?? "check the role's trust policy: its Principal must name the identity provider and its Condition must match the token's aud and sub"}`,
        opts,
      );
    case 'RegionDisabled':
      return new StsError(
        'STS_REGION_DISABLED',
        `STS is not activated in this region for the account (${msg}); activate it in IAM or set sts.region`,
        opts,
      );
    default:
      return new StsError('STS_REQUEST_INVALID', `STS refused ${target} (${awsCode}: ${msg})`, opts);
  }
}

/** A Roles Anywhere answer that is not a 2xx: REST-JSON, the type in X-Amzn-ErrorType, the text in `message`. */
export function rolesAnywhereError(
  response: { status: number; headers: Headers; body: string },
  ctx: { profile: string; roleArn: string },
): StsError {
  const header = response.headers.get('x-amzn-errortype') ?? '';
  let message = '';
  let type = header.split(':')[0] ?? '';
  try {
    const json = JSON.parse(response.body) as { message?: string; Message?: string; __type?: string };
    message = json.message ?? json.Message ?? '';
    type ||= (json.__type ?? '').split('#').pop() ?? '';
  } catch {
    message = response.body.slice(0, 200);
  }
  const opts = { profile: ctx.profile, awsCode: type || `HTTP ${response.status}`, cause: undefined };
  const what = `IAM Roles Anywhere CreateSession for ${ctx.roleArn} (${type || response.status}: ${message})`;
  if (response.status === 429 || type === 'ThrottlingException') {
    return new StsError('STS_THROTTLED', `${what}; backing off`, { ...opts, retryable: true });
  }
  if (response.status >= 500) return new StsError('STS_UNAVAILABLE', what, { ...opts, retryable: true });
  switch (type) {
    case 'AccessDeniedException':
      return new StsError(
        'ROLES_ANYWHERE_DENIED',
        `${what}; check that the trust anchor holds the CA that issued the certificate (and source.chainFile any intermediates), that the certificate is valid, that the Roles Anywhere profile lists the role and is enabled, and that the role trusts rolesanywhere.amazonaws.com`,
        opts,
      );
    case 'ResourceNotFoundException':
      return new StsError(
        'ROLES_ANYWHERE_NOT_FOUND',
        `${what}; check source.trustAnchorArn, source.profileArn and the region`,
        opts,
      );
    default:
      return new StsError('ROLES_ANYWHERE_REQUEST_INVALID', what, opts);
  }
}
