// IAM Roles Anywhere CreateSession: the exchange of an `x509` source. The request is signed with
// the certificate's key (sigv4-x509.ts) and sent through the profile's proxy and CAs; the answer is
// read whole, capped, and converted like STS's (result.ts).
import type { Credentials as StsCredentials } from '@aws-sdk/client-sts';
import { BrokerError, StsError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { X509Proof } from '../model/proof.ts';
import { describeNetworkFailure, readCapped } from '../net.ts';
import { DIRECT, fetchFor, type ResolvedNetwork } from '../outbound.ts';
import { rolesAnywhereError } from './errors.ts';
import { type ExchangeRequest, renderSessionName } from './request.ts';
import { toCredentials } from './result.ts';
import { SERVICE, signCreateSession } from './sigv4-x509.ts';

/** The x509 exchange: a Roles Anywhere session for the profile's role. */
export async function rolesAnywhereSession(req: ExchangeRequest, proof: X509Proof): Promise<AwsCredentials> {
  const { role, profile } = req;
  const now = req.now ?? Date.now;
  const startedAt = now();
  const out = await createSession({
    profile,
    proof,
    roleArn: role.arn,
    durationSeconds: role.durationSeconds,
    sessionName: proof.rolesAnywhere.sendSessionName
      ? renderSessionName(role.sessionName, { profile, sub: proof.subject })
      : undefined,
    network: req.sts.network,
    now,
  });
  return toCredentials(out.credentials, {
    profile,
    roleArn: role.arn,
    durationSeconds: role.durationSeconds,
    assumedRoleArn: out.assumedRoleArn,
    startedAt,
    serverDate: out.serverDate,
    receivedAt: now(),
    service: 'IAM Roles Anywhere',
  });
}

interface CreateSessionRequest {
  profile: string;
  proof: X509Proof;
  roleArn: string;
  durationSeconds: number;
  sessionName: string | undefined;
  network: ResolvedNetwork | undefined;
  now?: () => number;
}

interface CreateSessionResult {
  credentials: StsCredentials;
  assumedRoleArn: string | undefined;
  /** The response's Date header (ms), for the clock-skew correction. */
  serverDate: number | undefined;
}

/** Calls CreateSession and returns the session credentials; failures are StsErrors with a fix. */
async function createSession(req: CreateSessionRequest): Promise<CreateSessionResult> {
  const target = req.proof.rolesAnywhere;
  const region = target.region ?? target.trustAnchorArn.split(':')[3]!;
  const base =
    target.endpoint ?? `https://${SERVICE}${target.useFipsEndpoint ? '-fips' : ''}.${region}.amazonaws.com`;
  const url = new URL('/sessions', base);
  url.searchParams.set('profileArn', target.profileArn);
  url.searchParams.set('roleArn', req.roleArn);
  url.searchParams.set('trustAnchorArn', target.trustAnchorArn);
  const body = JSON.stringify({
    durationSeconds: req.durationSeconds,
    ...(req.sessionName ? { roleSessionName: req.sessionName } : {}),
  });
  const amzDate = new Date((req.now ?? Date.now)()).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const headers = signCreateSession({ url, body, amzDate, region, proof: req.proof });

  let response: Answer;
  try {
    response = await post(url, headers, body, target.timeout, req.network);
  } catch (err) {
    if (err instanceof BrokerError) throw err; // caFile or the proxy password: the config's to fix
    throw new StsError(
      'STS_UNREACHABLE',
      `cannot reach IAM Roles Anywhere at ${url.origin} (${describeNetworkFailure(err) ?? (err as Error).message})`,
      {
        profile: req.profile,
        retryable: true,
        cause: err,
      },
    );
  }
  if (response.status < 200 || response.status > 299) throw rolesAnywhereError(response, req);
  return parseSession(response, req.profile);
}

function parseSession(response: Answer, profile: string): CreateSessionResult {
  const bad = () =>
    new StsError('STS_BAD_RESPONSE', 'IAM Roles Anywhere answered without complete credentials', {
      profile,
      retryable: true,
    });
  let parsed: {
    credentialSet?: { credentials?: Record<string, string>; assumedRoleUser?: { arn?: string } }[];
  };
  try {
    parsed = JSON.parse(response.body);
  } catch {
    throw bad();
  }
  const set = parsed.credentialSet?.[0];
  const c = set?.credentials;
  if (!c?.accessKeyId || !c.secretAccessKey || !c.sessionToken || !c.expiration) throw bad();
  const date = Date.parse(response.headers.get('date') ?? '');
  return {
    credentials: {
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      SessionToken: c.sessionToken,
      Expiration: new Date(c.expiration),
    },
    assumedRoleArn: set?.assumedRoleUser?.arn,
    serverDate: Number.isFinite(date) ? date : undefined,
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** CreateSession answers are a few KiB; the IdP sources allow the same 1 MiB. */
const MAX_RESPONSE_BYTES = 1_048_576;

/** The answer, read whole (up to MAX_RESPONSE_BYTES) within `timeout`, through the profile's
 * proxy and CAs (outbound.ts). `timeout` bounds the whole call, body included: a peer dripping
 * bytes cannot hold it open. */
async function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeout: number,
  network: ResolvedNetwork | undefined,
): Promise<Answer> {
  const response = await fetchFor(network ?? DIRECT)(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(timeout),
  });
  // A session is a few KiB; an endless answer must not grow memory until the deadline.
  const text = new TextDecoder().decode(await readCapped(response, MAX_RESPONSE_BYTES));
  return { status: response.status, headers: response.headers, body: text };
}
