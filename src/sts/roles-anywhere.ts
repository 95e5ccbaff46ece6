// IAM Roles Anywhere CreateSession, signed with SigV4-X509 (AWS4-X509-RSA-SHA256 /
// AWS4-X509-ECDSA-SHA256): SigV4's canonical request and string to sign, but the signature is
// the certificate's private key over the string to sign (not an HMAC chain), and the Credential
// is the certificate's decimal serial number. Written from aws/rolesanywhere-credential-helper
// (aws_signing_helper/signer.go) and the Roles Anywhere "signing process" documentation.
import { createHash, sign } from 'node:crypto';
import type { Credentials as StsCredentials } from '@aws-sdk/client-sts';
import { BrokerError, StsError } from '../errors.ts';
import type { X509Proof } from '../model/proof.ts';
import { describeNetworkFailure, readCapped } from '../net.ts';
import { DIRECT, fetchFor, type ResolvedNetwork } from '../outbound.ts';

export const SERVICE = 'rolesanywhere';

export interface SignInput {
  url: URL;
  body: string;
  /** `YYYYMMDDTHHMMSSZ` */
  amzDate: string;
  region: string;
  proof: Pick<X509Proof, 'certificate' | 'chain' | 'privateKey' | 'algorithm' | 'serialNumber'>;
}

/** Headers of a signed CreateSession request (Authorization included). */
export function signCreateSession(input: SignInput): Record<string, string> {
  const { url, amzDate, region, proof } = input;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-x509': proof.certificate.toString('base64'),
  };
  if (proof.chain.length > 0)
    headers['x-amz-x509-chain'] = proof.chain.map((c) => c.toString('base64')).join(',');
  const signedHeaders = Object.keys(headers).sort();
  const scope = `${amzDate.slice(0, 8)}/${region}/${SERVICE}/aws4_request`;
  const toSign = stringToSign(
    proof.algorithm,
    amzDate,
    scope,
    canonicalRequest(url, headers, signedHeaders, input.body),
  );
  // RSA: PKCS#1 v1.5 over SHA-256; EC: DER-encoded ECDSA over SHA-256 (node's defaults).
  const signature = sign('sha256', Buffer.from(toSign), proof.privateKey).toString('hex');
  headers.authorization = `${proof.algorithm} Credential=${proof.serialNumber}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}

export function canonicalRequest(
  url: URL,
  headers: Record<string, string>,
  signedHeaders: string[],
  body: string,
): string {
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headerLines = signedHeaders.map((h) => `${h}:${headers[h]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  return ['POST', url.pathname, query, headerLines, signedHeaders.join(';'), sha256Hex(body)].join('\n');
}

export function stringToSign(algorithm: string, amzDate: string, scope: string, canonical: string): string {
  return [algorithm, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export interface CreateSessionRequest {
  profile: string;
  proof: X509Proof;
  roleArn: string;
  durationSeconds: number;
  sessionName: string | undefined;
  network: ResolvedNetwork | undefined;
  now?: () => number;
}

export interface CreateSessionResult {
  credentials: StsCredentials;
  assumedRoleArn: string | undefined;
  /** The response's Date header (ms), for the clock-skew correction. */
  serverDate: number | undefined;
}

/** Calls CreateSession and returns the session credentials; failures are StsErrors with a fix. */
export async function createSession(req: CreateSessionRequest): Promise<CreateSessionResult> {
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
  if (response.status < 200 || response.status > 299) throw mapError(response, req);
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

/** Roles Anywhere errors are REST-JSON: the type in X-Amzn-ErrorType, the text in `message`. */
function mapError(response: Answer, req: CreateSessionRequest): StsError {
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
  const opts = { profile: req.profile, awsCode: type || `HTTP ${response.status}`, cause: undefined };
  const what = `IAM Roles Anywhere CreateSession for ${req.roleArn} (${type || response.status}: ${message})`;
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

/** RFC 3986 encoding (encodeURIComponent leaves !'()* alone). */
function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}
