// AWS Signature Version 4 verification, written out from the specification rather than
// by calling the SDK's own signer, so a signing bug in a client cannot verify itself.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { errors } from './protocol.ts';

export interface ParsedAuthorization {
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export interface RequestToVerify {
  method: string;
  /** Path and query exactly as on the wire (`req.url`). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** AWS accepts a signature dated at most this far from its own clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;_.-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(header: string): ParsedAuthorization {
  if (!header.startsWith('AWS4-HMAC-SHA256 ')) {
    throw errors.incompleteSignature(`Unsupported AWS 'algorithm': '${header.split(' ')[0] ?? ''}'`);
  }
  const m = AUTHORIZATION.exec(header);
  if (!m) {
    throw errors.incompleteSignature(
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
    );
  }
  return {
    accessKeyId: m[1]!,
    scopeDate: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(';'),
    signature: m[6]!,
  };
}

/**
 * Checks the request's date, scope and signature against the secret key.
 * Throws the StsError real STS would answer with.
 */
export function verifySignature(
  req: RequestToVerify,
  auth: ParsedAuthorization,
  secretAccessKey: string,
  nowMs: number,
): void {
  const amzDate = headerValue(req.headers, 'x-amz-date');
  if (amzDate === undefined) {
    throw errors.incompleteSignature(
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw errors.incompleteSignature(`Invalid X-Amz-Date '${amzDate}'`);
  if (!auth.signedHeaders.includes('host')) {
    throw errors.signatureDoesNotMatch("'Host' must be a signed header.");
  }
  if (auth.service !== 'sts') {
    throw errors.signatureDoesNotMatch("Credential should be scoped to correct service: 'sts'. ");
  }
  if (auth.scopeDate !== amzDate.slice(0, 8)) {
    throw errors.signatureDoesNotMatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  checkSkew(signedAt, amzDate, nowMs);

  const scope = `${auth.scopeDate}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256Hex(canonicalRequest(req, auth.signedHeaders)),
  ].join('\n');
  const key = signingKey(secretAccessKey, auth.scopeDate, auth.region, auth.service);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  // Both are 64 hex characters (the header regex guarantees it), so timingSafeEqual cannot throw.
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature))) {
    throw errors.signatureDoesNotMatch();
  }
}

function checkSkew(signedAt: number, amzDate: string, nowMs: number): void {
  const now = toAmzDate(nowMs);
  if (signedAt < nowMs - MAX_SKEW_MS) {
    throw errors.signatureDoesNotMatch(
      `Signature expired: ${amzDate} is now earlier than ${toAmzDate(nowMs - MAX_SKEW_MS)} (${now} - 15 min.)`,
    );
  }
  if (signedAt > nowMs + MAX_SKEW_MS) {
    throw errors.signatureDoesNotMatch(
      `Signature not yet current: ${amzDate} is still later than ${toAmzDate(nowMs + MAX_SKEW_MS)} (${now} + 15 min.)`,
    );
  }
}

/** The canonical request: method, path, query, signed headers, payload hash. */
export function canonicalRequest(req: RequestToVerify, signedHeaders: string[]): string {
  const queryStart = req.rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? req.rawUrl : req.rawUrl.slice(0, queryStart);
  const rawQuery = queryStart < 0 ? '' : req.rawUrl.slice(queryStart + 1);
  const headerLines = signedHeaders.map((name) => {
    const value = headerValue(req.headers, name);
    // A header listed as signed but not sent cannot have produced the client's signature.
    if (value === undefined) throw errors.signatureDoesNotMatch();
    return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  });
  return [
    req.method,
    canonicalPath(rawPath),
    canonicalQuery(rawQuery),
    headerLines.join(''),
    signedHeaders.join(';'),
    sha256Hex(req.body),
  ].join('\n');
}

/** Non-S3 services normalize `.`/`..` segments and URI-encode the (already encoded) path again. */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return uriEncode(`/${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

/** Sorted `key=value` pairs, each side RFC 3986-encoded; a presigned URL's own signature is excluded. */
function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      // '+' is a space, as in the parameter parsing (form decoding): a value must mean the same
      // thing to the signature check as to the action that uses it.
      const eq = pair.indexOf('=');
      const key = safeDecode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
      const value = eq < 0 ? '' : safeDecode(pair.slice(eq + 1).replace(/\+/g, ' '));
      return [uriEncode(key), uriEncode(value)] as const;
    })
    .filter(([key]) => key.toLowerCase() !== 'x-amz-signature')
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** RFC 3986 unreserved characters stay; everything else is %XX (encodeURIComponent leaves !'()* too). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20240102T030405Z` → ms epoch. */
function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(ms) ? undefined : ms;
}

function toAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
