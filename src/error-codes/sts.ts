// Codes of the exchanges at STS (and the transient ones of Roles Anywhere), listed on every mechanism page.
import type { CodeInfo, DocPage } from './types.ts';

const STS_PAGES: readonly DocPage[] = [
  'oidc',
  'kubernetes-web-identity',
  'saml',
  'aws-and-chaining',
  'x509-roles-anywhere',
];
const WEB_IDENTITY_STS: readonly DocPage[] = ['oidc', 'kubernetes-web-identity', 'saml', 'aws-and-chaining'];

export const STS_CODES = {
  // STS exchanges
  STS_TOKEN_REJECTED: {
    meaning:
      "`InvalidIdentityToken`: no IAM OIDC provider for the token's issuer, a wrong audience, or a signature STS cannot verify",
    fix: "follow the message's hint: create or fix the IAM OIDC provider for the token's issuer and audience",
    retried: 'slow',
    docs: ['oidc', 'kubernetes-web-identity'],
  },
  STS_SAML_REJECTED: {
    meaning: '`InvalidIdentityToken` for a SAML assertion: signature, audience or recipient',
    fix: "update the IAM SAML provider's metadata (a rotated signing certificate); set the Audience / Recipient to AWS's",
    retried: 'slow',
    docs: ['saml'],
  },
  STS_TOKEN_EXPIRED: {
    meaning: 'STS says the token or starting credentials expired',
    fix: "fix the host's time sync; renew expired starting credentials",
    retried: 'yes',
    docs: ['oidc', 'kubernetes-web-identity', 'aws-and-chaining'],
  },
  STS_ACCESS_DENIED: {
    meaning: "`AccessDenied`: the role's trust policy does not allow this caller",
    fix: 'fix the trust policy (Principal and conditions) of the role the message names',
    retried: 'slow',
    docs: WEB_IDENTITY_STS,
  },
  STS_CLAIM_REJECTED: {
    meaning: '`IDPRejectedClaim`: STS refuses a claim of the token',
    fix: 'check the token claims against the IAM OIDC provider',
    retried: 'slow',
    docs: ['oidc', 'kubernetes-web-identity'],
  },
  STS_REGION_DISABLED: {
    meaning: 'STS is not activated in `sts.region` for the account',
    fix: 'activate the region in IAM, or change `sts.region`',
    retried: 'slow',
    docs: WEB_IDENTITY_STS,
  },
  STS_REQUEST_INVALID: {
    meaning: 'another STS refusal (e.g. `ValidationError`)',
    fix: "see STS's reason in the message, e.g. lower `durationSeconds` to the role's maximum",
    retried: 'slow',
    docs: WEB_IDENTITY_STS,
  },
  STS_THROTTLED: {
    meaning: 'STS or Roles Anywhere throttled the request',
    fix: 'nothing: the broker backs off',
    retried: 'yes',
    docs: STS_PAGES,
  },
  STS_UNAVAILABLE: {
    meaning: 'STS or Roles Anywhere answered 5xx',
    fix: 'nothing: the broker retries',
    retried: 'yes',
    docs: STS_PAGES,
  },
  STS_UNREACHABLE: {
    meaning: 'network, proxy or TLS error, or timeout, talking to STS or Roles Anywhere',
    fix: 'fix `network.proxy` or `sts.endpoint`, or the network',
    retried: 'yes',
    docs: STS_PAGES,
  },
  STS_BAD_RESPONSE: {
    meaning: 'STS answered with incomplete credentials, or ones already expired by the local clock',
    fix: "check the host's clock",
    retried: 'yes',
    docs: STS_PAGES,
  },
} as const satisfies Record<string, CodeInfo>;
