// STS settings as the exchanges use them: the config's `sts:` layers over the AWS SDKs' environment
// conventions over built-in defaults, the endpoint they name, and the time bound of every call.
import { type StsSettings, StsSettingsSchema } from '../config/schema/index.ts';
import { ConfigError } from '../errors.ts';
import type { ResolvedNetwork } from '../outbound.ts';

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
