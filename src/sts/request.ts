// What every STS call shares, whichever exchange makes it: the request and its resolved settings,
// a client, the send options, the answer converted to AwsCredentials, and failures mapped to an
// StsError that says whether to retry and what to fix. Only src/sts/ talks to STS.
import { hostname } from 'node:os';
import { STSClient, type Credentials as StsCredentials } from '@aws-sdk/client-sts';
import { UndiciHttpHandler } from '@smithy/undici-http-handler';
import { type RoleConfig, type StsSettings, StsSettingsSchema } from '../config/schema/index.ts';
import { ConfigError, StsError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { Proof } from '../model/proof.ts';
import { describeNetworkFailure } from '../net.ts';
import { DIRECT, dispatcherFor, type ResolvedNetwork } from '../outbound.ts';

/** Keys to sign a call with (AssumeRole, GetCallerIdentity). The secret parts are secrets. */
export interface SigningKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface ResolvedStsSettings {
  region: string;
  endpoint: string | undefined;
  timeout: number;
  clockSkewTolerance: number;
  /** sts-fips.REGION.amazonaws.com instead of sts.REGION.amazonaws.com. */
  useFipsEndpoint?: boolean;
  /** Proxy and extra CAs for STS and Roles Anywhere (set by the broker from `network:`). */
  network?: ResolvedNetwork;
}

export const DEFAULT_STS: ResolvedStsSettings = {
  region: 'us-east-1',
  endpoint: undefined,
  timeout: 10_000,
  clockSkewTolerance: 5 * 60_000,
};

/**
 * The AWS SDKs' environment conventions for STS, as a settings layer: the region from AWS_REGION,
 * else AWS_DEFAULT_REGION; the endpoint from AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true. A value the config would refuse is refused here too,
 * naming the variable, rather than sending credentials to a URL nobody checked.
 */
export function stsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StsSettings {
  const pick = (...names: string[]) => {
    const name = names.find((n) => env[n]);
    return name ? { name, value: env[name] as string } : undefined;
  };
  const ignoreEndpoints = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const fromEnv = {
    region: pick('AWS_REGION', 'AWS_DEFAULT_REGION'),
    endpoint: ignoreEndpoints ? undefined : pick('AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL'),
  };
  const settings: StsSettings = {};
  for (const key of ['region', 'endpoint'] as const) {
    const found = fromEnv[key];
    if (!found) continue;
    const parsed = StsSettingsSchema.shape[key].safeParse(found.value);
    if (!parsed.success) {
      throw new ConfigError(
        `environment variable ${found.name}=${found.value}: ${parsed.error.issues[0]?.message}; fix or unset it, or set sts.${key} in the config (which wins over the environment)`,
      );
    }
    settings[key] = parsed.data;
  }
  return settings;
}

/** Profile settings over top-level settings over the environment (stsSettingsFromEnv) over defaults:
 * a value written in the config is the operator's explicit choice, the environment a fallback. */
export function resolveStsSettings(...layers: (StsSettings | undefined)[]): ResolvedStsSettings {
  const merged = { ...DEFAULT_STS };
  for (const layer of [stsSettingsFromEnv(), ...layers]) {
    if (layer?.region) merged.region = layer.region;
    if (layer?.endpoint) merged.endpoint = layer.endpoint;
    if (layer?.timeout) merged.timeout = layer.timeout;
    if (layer?.clockSkewTolerance) merged.clockSkewTolerance = layer.clockSkewTolerance;
    if (layer?.useFipsEndpoint !== undefined) merged.useFipsEndpoint = layer.useFipsEndpoint;
  }
  return merged;
}

export interface ExchangeRequest {
  profile: string;
  proof: Proof;
  role: RoleConfig;
  sts: ResolvedStsSettings;
  /** Roles assumed in turn after the first exchange (the profile's `chain:`). */
  chain?: RoleConfig[] | undefined;
  /** Wall clock (ms); injected in tests together with the emulator's. */
  now?: () => number;
}

/**
 * Options for every `send`: the SDK's `requestTimeout` (smithy 4.x) only logs a warning when it
 * passes, and its socket timeout is an idle timer that a peer dripping bytes keeps resetting, so a
 * black-holed or crawling STS would hold a refresh (and every cold request waiting on it) for
 * minutes. An abort signal bounds the whole call, response body included.
 */
export function sendOptions(sts: ResolvedStsSettings): { abortSignal: AbortSignal } {
  return { abortSignal: AbortSignal.timeout(sts.timeout) };
}

/** The STS endpoint these settings call. */
export function endpointOf(sts: ResolvedStsSettings): URL {
  const fips = sts.useFipsEndpoint ?? false;
  return new URL(sts.endpoint ?? `https://sts${fips ? '-fips' : ''}.${sts.region}.amazonaws.com`);
}

/** A new STS client (the caller owns it: destroy() it); with `credentials` it can sign AssumeRole.
 * It speaks through undici (outbound.ts dispatcherFor), as every other outbound request does. */
export async function newStsClient(
  sts: ResolvedStsSettings,
  credentials?: SigningKeys,
  maxAttempts = 1,
): Promise<STSClient> {
  const limits = { connectTimeout: Math.min(sts.timeout, 5000), ioTimeout: sts.timeout };
  const dispatcher = await dispatcherFor(endpointOf(sts), sts.network ?? DIRECT, limits);
  const client = new STSClient({
    region: sts.region,
    endpoint: sts.endpoint,
    useFipsEndpoint: sts.useFipsEndpoint ?? false,
    credentials: credentials as { accessKeyId: string; secretAccessKey: string } | undefined,
    // The Refresher owns retries (with backoff and jitter); an SDK retry loop inside it would hide them.
    maxAttempts,
    requestHandler: new UndiciHttpHandler({ dispatcher }),
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const date = (result.response as { headers?: Record<string, string> }).headers?.date;
      if (date) (result.output as { $serverDate?: number }).$serverDate = Date.parse(date);
      return result;
    },
    { step: 'finalizeRequest', name: 'brokerServerDate' },
  );
  return client;
}

/** The STS response's Date header (ms), captured by the client's `brokerServerDate` middleware. */
export function serverDateOf(output: object): number | undefined {
  const date = (output as { $serverDate?: number }).$serverDate;
  return Number.isFinite(date) ? date : undefined;
}

export function toCredentials(
  c: StsCredentials | undefined,
  assumedArn: string | undefined,
  role: RoleConfig,
  startedAt: number,
  profile: string,
  serverDate?: number,
  receivedAt = Date.now(),
): AwsCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw new StsError('STS_BAD_RESPONSE', 'STS answered without complete credentials', {
      profile,
      retryable: true,
    });
  }
  // STS's Expiration is on STS's clock; apps on this host compare it with ours. Shift it by the
  // skew measured from the response's Date header (1 s resolution, so ignore less than 2 s), and
  // never believe more than the duration we asked for, counted from when we asked.
  const skew = serverDate === undefined ? 0 : serverDate - receivedAt;
  const local = c.Expiration.getTime() - (Math.abs(skew) >= 2000 ? skew : 0);
  const expiration = new Date(Math.min(local, startedAt + role.durationSeconds * 1000));
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration,
    accountId: role.arn.split(':')[4],
    roleArn: role.arn,
    assumedRoleArn: assumedArn,
    clockSkewMs: skew,
  };
}

/** `{profile}`, `{hostname}` and `{sub}` filled in, then made valid for STS (2..64 of [\w+=,.@-]). */
export function renderSessionName(
  template: string,
  vars: { profile: string; sub?: string | undefined },
): string {
  const filled = template
    .replaceAll('{profile}', vars.profile)
    .replaceAll('{hostname}', hostname().split('.')[0] ?? 'host')
    .replaceAll('{sub}', vars.sub ?? 'unknown');
  const clean = filled.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return clean.length >= 2 ? clean : `${clean}--`.slice(0, 2);
}

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

/** STS error → StsError with a stable code, a retry decision and the likely fix. */
export function mapStsError(
  err: unknown,
  profile: string,
  target: string,
  /** What to check on AccessDenied, when the default (web identity trust) does not fit. */
  accessDeniedHint?: string,
): StsError {
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
        `STS says the identity token is expired (${msg}); check this machine's clock`,
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
        `STS denied assuming ${target} (${msg}); ${accessDeniedHint ?? "check the role's trust policy: its Principal must name the identity provider and its Condition must match the token's aud and sub"}`,
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
