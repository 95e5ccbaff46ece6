// Loading a certificate, its chain and its private key from PEM, with errors that name the file
// and the fix. Parsing is node:crypto's X509Certificate (OpenSSL's parser) rather than
// @peculiar/x509: that one needs a process-wide `reflect-metadata` polyfill (tsyringe) that the
// daemon should not carry for one parse; the test CA uses @peculiar/x509 to *make* certificates.
// Keys are KeyObjects: OpenSSL reads PKCS#8, PKCS#1, SEC1 and their encrypted forms.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SourceError } from '../errors.ts';
import type { X509Proof } from '../model/proof.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM file, in file order. */
export async function readCertificates(file: string, what: string): Promise<X509Certificate[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied for the broker user' : code;
    throw new SourceError('X509_CERT_UNREADABLE', `${what} ${file}: cannot read it (${why})`, {
      retryable: true,
      cause: err,
    });
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new SourceError(
      'X509_CERT_INVALID',
      `${what} ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert DER with: openssl x509 -inform der -in CERT -out CERT.pem`,
    );
  }
  try {
    return blocks.map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw new SourceError(
      'X509_CERT_INVALID',
      `${what} ${file}: not a valid certificate (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** A PEM private key; `passphrase` for encrypted ones. Messages never include key material. */
export function parsePrivateKey(pem: string, passphrase: string | undefined, ref: string): KeyObject {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (err) {
    // Without a passphrase OpenSSL reports "interrupted or cancelled" (it would have prompted).
    if (encrypted && passphrase === undefined) {
      throw new SourceError(
        'X509_KEY_INVALID',
        `private key ${ref} is encrypted: set source.passphrase to a secret reference holding its passphrase`,
      );
    }
    throw new SourceError(
      'X509_KEY_INVALID',
      encrypted
        ? `private key ${ref} cannot be decrypted: check source.passphrase`
        : `private key ${ref} is not a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)`,
      { cause: err },
    );
  }
}

/** The SigV4-X509 algorithm for a key; Roles Anywhere signs with RSA or ECDSA keys only. */
export function signingAlgorithm(key: KeyObject, ref: string): X509Proof['algorithm'] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'AWS4-X509-RSA-SHA256';
    case 'ec':
      return 'AWS4-X509-ECDSA-SHA256';
    default:
      throw new SourceError(
        'X509_KEY_INVALID',
        `private key ${ref} is ${key.asymmetricKeyType ?? 'of an unknown type'}; IAM Roles Anywhere accepts RSA and EC (P-256/P-384) keys`,
      );
  }
}

/** True when the private key belongs to the certificate. */
export function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  return cert.checkPrivateKey(key);
}

/** The decimal serial number (what SigV4-X509's Credential= carries). */
export function decimalSerial(cert: X509Certificate): string {
  return BigInt(`0x${cert.serialNumber}`).toString(10);
}

export function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
}

/** validFrom/validTo as Dates (Node 20 has only the OpenSSL text form, e.g. "Nov 25 18:30:13 2027 GMT"). */
export function validity(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** The subject on one line, for messages. */
export function subjectLine(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}
