// Where each step of `check` goes and which settings steer it: the line a terminal shows while the
// step runs ("waiting for STS at URL (timeout 10 s)…"), and, when the step fails on the way there
// (refused, unresolved, timed out, a certificate not trusted), the endpoint and the settings to
// change, appended to the error's own message.
import type { Profile } from '../config/schema/index.ts';
import { describeNetworkFailure, networkErrorCode } from '../net.ts';
import { endpointOf, type ResolvedStsSettings } from '../sts/settings.ts';

export type StepName = 'identity source' | 'STS exchange' | 'GetCallerIdentity' | 'running broker';

export interface StepTarget {
  /** What the step is doing, for a terminal: "waiting for STS at https://… (timeout 10 s)". */
  doing: string;
  /** Where it goes over the network, when it does. */
  endpoint?: string;
  /** The settings that choose that endpoint, its timeout and the way there. */
  settings?: { endpoint: string; timeout: string };
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The Roles Anywhere endpoint an x509 profile's exchange calls. */
function rolesAnywhereEndpoint(source: Extract<Profile['source'], { type: 'x509' }>): string {
  if (source.endpoint) return source.endpoint;
  const region = source.region ?? source.trustAnchorArn.split(':')[3];
  return `https://rolesanywhere${source.useFipsEndpoint ? '-fips' : ''}.${region}.amazonaws.com`;
}

export function stepTarget(name: StepName, profile: Profile, sts: ResolvedStsSettings): StepTarget {
  const source = profile.source;
  if (name === 'identity source') {
    switch (source.type) {
      case 'oidc':
        return {
          doing: `asking the IdP at ${source.issuer} (timeout ${seconds(source.timeout)})`,
          endpoint: source.issuer,
          settings: { endpoint: 'source.issuer', timeout: 'source.timeout' },
        };
      case 'saml':
        return {
          doing: `asking the IdP at ${new URL(source.idpUrl).origin} (timeout ${seconds(source.timeout)})`,
          endpoint: source.idpUrl,
          settings: { endpoint: 'source.idpUrl', timeout: 'source.timeout' },
        };
      case 'web-identity-file':
        return { doing: `reading the token file ${source.tokenFile}` };
      case 'x509':
        return { doing: `reading the certificate and key of ${source.certificateFile ?? source.pkcs12File}` };
      default:
        return { doing: 'reading the AWS credentials to assume the role with' };
    }
  }
  if (name === 'STS exchange' && source.type === 'x509') {
    const endpoint = rolesAnywhereEndpoint(source);
    return {
      doing: `waiting for Roles Anywhere at ${endpoint} (timeout ${seconds(source.timeout)})`,
      endpoint,
      settings: { endpoint: 'source.endpoint (or source.region)', timeout: 'source.timeout' },
    };
  }
  const endpoint = endpointOf(sts).href;
  const settings = {
    endpoint: 'sts.endpoint or sts.region (AWS_ENDPOINT_URL_STS, AWS_REGION)',
    timeout: 'sts.timeout',
  };
  if (name === 'STS exchange') {
    return { doing: `waiting for STS at ${endpoint} (timeout ${seconds(sts.timeout)})`, endpoint, settings };
  }
  if (name === 'GetCallerIdentity') {
    return {
      doing: `asking STS at ${endpoint} who the credentials are (timeout ${seconds(sts.timeout)})`,
      endpoint,
      settings,
    };
  }
  return { doing: 'asking a broker listening on server.listen for the profile' };
}

/**
 * For a failure on the way to the step's endpoint: which endpoint, and which setting to change.
 * Undefined when the failure was not the network's (the peer answered, and its answer says more).
 */
export function networkHint(err: unknown, target: StepTarget): string | undefined {
  if (!target.endpoint || !target.settings) return undefined;
  const code = networkErrorCode(err);
  const failure = describeNetworkFailure(err);
  if (!code && !failure) return undefined;
  const { endpoint, timeout } = target.settings;
  if (failure?.startsWith('TLS certificate not accepted')) {
    return `the certificate of ${target.endpoint} is not trusted: name its CA in network.caFile, or correct ${endpoint} if it is the wrong host`;
  }
  if (code === 'timed out' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `${target.endpoint} did not answer in time: check ${endpoint} and network.proxy, or raise ${timeout}`;
  }
  return `${target.endpoint} could not be reached: check ${endpoint}, network.proxy and noProxy, and that this host can reach it`;
}
