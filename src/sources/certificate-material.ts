// A certificate, its chain and its private key as the settings name them (PEM files or one
// PKCS#12 bundle), loaded and checked to belong together: the `x509` source signs Roles Anywhere
// requests with them, the `oidc` source presents them for mutual TLS at a token endpoint.
import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readSecret } from '../config/secrets.ts';
import { SourceError } from '../errors.ts';
import { keyMatches, parsePrivateKey, readCertificates, subjectLine } from './x509-material.ts';

/** The certificate settings (`x509` source, mutual-TLS client auth): PEM files or one PKCS#12. */
export interface CertificateMaterialConfig {
  certificateFile?: string | undefined;
  chainFile?: string | undefined;
  privateKey?: string | undefined;
  pkcs12File?: string | undefined;
  passphrase?: string | undefined;
}

export interface CertificateMaterial {
  leaf: X509Certificate;
  chain: X509Certificate[];
  privateKey: KeyObject;
}

/** Reads the certificate, its chain and its key, checking that the key is the certificate's.
 * `at` names the settings' place in messages (`source`, `source.clientAuth`). */
export async function loadCertificateMaterial(
  cfg: CertificateMaterialConfig,
  at: string,
): Promise<CertificateMaterial> {
  return cfg.pkcs12File ? loadPkcs12(cfg, cfg.pkcs12File, at) : loadPem(cfg, at);
}

async function loadPem(cfg: CertificateMaterialConfig, at: string): Promise<CertificateMaterial> {
  // The schema guarantees both are set when pkcs12File is not.
  const [certificateFile, keyRef] = [cfg.certificateFile!, cfg.privateKey!];
  const [leaf, ...bundled] = await readCertificates(certificateFile, `${at}.certificateFile`);
  const chain = cfg.chainFile ? await readCertificates(cfg.chainFile, `${at}.chainFile`) : bundled;
  const passphrase = cfg.passphrase ? await readSecret(cfg.passphrase) : undefined;
  const privateKey = parsePrivateKey(await readSecret(keyRef), passphrase, keyRef);
  if (!keyMatches(leaf!, privateKey)) {
    // Typical mid-renewal state: the new certificate is on disk, the old key still is (or the reverse).
    throw new SourceError(
      'X509_KEY_MISMATCH',
      `the private key ${keyRef} does not belong to the certificate in ${certificateFile} (${subjectLine(leaf!)}); renew both together, or fix the paths`,
      { retryable: true },
    );
  }
  return { leaf: leaf!, chain, privateKey };
}

async function loadPkcs12(
  cfg: CertificateMaterialConfig,
  file: string,
  at: string,
): Promise<CertificateMaterial> {
  let der: Buffer;
  try {
    der = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SourceError('X509_CERT_UNREADABLE', `${at}.pkcs12File ${file}: cannot read it (${code})`, {
      retryable: true,
      cause: err,
    });
  }
  const passphrase = cfg.passphrase ? await readSecret(cfg.passphrase) : '';
  // Loaded on first use: the ASN.1 libraries only serve PKCS#12 files (about 11% of start-up).
  const { readPkcs12 } = await import('./pkcs12.ts');
  const { certificates, key } = readPkcs12(der, passphrase, file);
  const [leaf, ...bundled] = certificates;
  const chain = cfg.chainFile ? await readCertificates(cfg.chainFile, `${at}.chainFile`) : bundled;
  return { leaf: leaf!, chain, privateKey: key };
}
