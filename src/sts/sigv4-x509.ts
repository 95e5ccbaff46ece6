// SigV4-X509 (AWS4-X509-RSA-SHA256 / AWS4-X509-ECDSA-SHA256), the signature of IAM Roles Anywhere's
// CreateSession: SigV4's canonical request and string to sign, but the signature is the
// certificate's private key over the string to sign (not an HMAC chain), and the Credential is the
// certificate's decimal serial number. Written from aws/rolesanywhere-credential-helper
// (aws_signing_helper/signer.go) and the Roles Anywhere "signing process" documentation.
import { createHash, sign } from 'node:crypto';
import type { X509Proof } from '../model/proof.ts';

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
