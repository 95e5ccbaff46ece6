// PKCS#12 (.p12/.pfx) bundles: the certificate, its chain and the private key in one file, as
// Windows, Java keystores and many PKIs hand them out. The ASN.1 is parsed by @peculiar/asn1-pfx
// (+ asn1js for the PBES2 parameters); node:crypto decrypts. Supported: PBES2 (PBKDF2 + AES-CBC),
// what OpenSSL 3 and current Windows write; the key bag may also use any PBE OpenSSL knows.
// Legacy RC2/3DES-encrypted *certificate* bags are refused with the command to re-export.
// The MAC is not checked: a wrong passphrase fails the decryption, and the key must match the
// certificate, which together catch corruption and tampering that would matter here.
import { createDecipheriv, createPrivateKey, type KeyObject, pbkdf2Sync, X509Certificate } from 'node:crypto';
import { type ContentInfo, EncryptedContentInfo, id_data, id_encryptedData } from '@peculiar/asn1-cms';
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_keyBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  PFX,
  SafeContents,
} from '@peculiar/asn1-pfx';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { SourceError } from '../errors.ts';

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const PRF: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const AES_CBC: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc',
  '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc',
};
const REEXPORT =
  're-export it with OpenSSL 3 defaults (AES-256/PBKDF2): openssl pkcs12 -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12';

export interface Pkcs12Contents {
  certificates: X509Certificate[];
  key: KeyObject;
}

/** Certificates (leaf first) and the private key of a PKCS#12 file. */
export function readPkcs12(der: Buffer, passphrase: string, file: string): Pkcs12Contents {
  const certificates: X509Certificate[] = [];
  const keys: KeyObject[] = [];
  let safes: ContentInfo[];
  try {
    const pfx = AsnConvert.parse(der, PFX);
    if (pfx.authSafe.contentType !== id_data) {
      throw new SourceError(
        'X509_CERT_INVALID',
        `${file}: public-key integrity mode PKCS#12 is not supported; ${REEXPORT}`,
      );
    }
    safes = [...AsnConvert.parse(octets(pfx.authSafe.content), AuthenticatedSafe)];
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError('X509_CERT_INVALID', `${file} is not a PKCS#12 file (${(err as Error).message})`, {
      cause: err,
    });
  }
  for (const safe of safes) {
    const contents =
      safe.contentType === id_encryptedData
        ? decryptSafe(safe.content, passphrase, file)
        : safe.contentType === id_data
          ? octets(safe.content)
          : undefined;
    if (!contents) continue;
    for (const bag of AsnConvert.parse(contents, SafeContents)) {
      if (bag.bagId === id_certBag) {
        const certBag = AsnConvert.parse(bag.bagValue, CertBag);
        if (certBag.certId === id_x509Certificate)
          certificates.push(new X509Certificate(Buffer.from(octets(certBag.certValue))));
      } else if (bag.bagId === id_pkcs8ShroudedKeyBag || bag.bagId === id_keyBag) {
        keys.push(
          decryptKey(
            Buffer.from(bag.bagValue),
            bag.bagId === id_pkcs8ShroudedKeyBag ? passphrase : undefined,
            file,
          ),
        );
      }
    }
  }
  const key = keys[0];
  if (!key) throw new SourceError('X509_KEY_INVALID', `${file} holds no private key`);
  const leaf = certificates.find((c) => c.checkPrivateKey(key));
  if (!leaf) {
    throw new SourceError('X509_KEY_MISMATCH', `${file} holds no certificate for its private key`);
  }
  return { certificates: [leaf, ...certificates.filter((c) => c !== leaf)], key };
}

function decryptKey(der: Buffer, passphrase: string | undefined, file: string): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
  } catch (err) {
    throw new SourceError(
      'X509_KEY_INVALID',
      `the private key in ${file} cannot be decrypted: check source.passphrase (or ${REEXPORT})`,
      { cause: err },
    );
  }
}

/** EncryptedData ::= SEQUENCE { version, EncryptedContentInfo, ... } → the decrypted SafeContents. */
function decryptSafe(content: ArrayBuffer, passphrase: string, file: string): ArrayBuffer {
  const parsed = asn1js.fromBER(content);
  const info = (parsed.result as asn1js.Sequence).valueBlock?.value?.[1];
  if (parsed.offset === -1 || !info)
    throw new SourceError('X509_CERT_INVALID', `${file}: malformed encrypted content`);
  const eci = AsnConvert.parse(info.toBER(false), EncryptedContentInfo);
  const alg = eci.contentEncryptionAlgorithm;
  const data = eci.encryptedContent?.value ?? concat(eci.encryptedContent?.constructedValue ?? []);
  if (!data) throw new SourceError('X509_CERT_INVALID', `${file}: encrypted content is missing`);
  if (alg.algorithm !== PBES2 || !alg.parameters) {
    throw new SourceError(
      'X509_CERT_INVALID',
      `${file}: its certificates are encrypted with a legacy algorithm (${alg.algorithm}); ${REEXPORT}`,
    );
  }
  const { cipher, key, iv } = pbes2Key(alg.parameters as ArrayBuffer, passphrase, file);
  try {
    const decipher = createDecipheriv(cipher, key, iv);
    const plain = Buffer.concat([decipher.update(Buffer.from(data.buffer)), decipher.final()]);
    return plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength);
  } catch (err) {
    throw new SourceError('X509_KEY_INVALID', `${file} cannot be decrypted: check source.passphrase`, {
      cause: err,
    });
  }
}

/** PBES2-params → cipher name, derived key and IV (RFC 8018: PBKDF2 with the passphrase as UTF-8). */
function pbes2Key(
  params: ArrayBuffer,
  passphrase: string,
  file: string,
): { cipher: string; key: Buffer; iv: Buffer } {
  const unsupported = (what: string) =>
    new SourceError('X509_CERT_INVALID', `${file}: unsupported PKCS#12 encryption (${what}); ${REEXPORT}`);
  const seq = (node: unknown) => (node as asn1js.Sequence).valueBlock.value;
  const oid = (node: unknown) => (node as asn1js.ObjectIdentifier).valueBlock.toString();
  const bytes = (node: unknown) => Buffer.from((node as asn1js.OctetString).valueBlock.valueHexView);
  const int = (node: unknown) => (node as asn1js.Integer).valueBlock.valueDec;

  const [kdf, scheme] = seq(asn1js.fromBER(params).result);
  const [kdfOid, kdfParams] = seq(kdf);
  if (oid(kdfOid) !== PBKDF2) throw unsupported(`key derivation ${oid(kdfOid)}`);
  const [salt, iterations, ...rest] = seq(kdfParams);
  const keyLength = rest.find((n) => n instanceof asn1js.Integer);
  const prfNode = rest.find((n) => n instanceof asn1js.Sequence);
  const digest = prfNode ? PRF[oid(seq(prfNode)[0])] : 'sha1';
  const [schemeOid, iv] = seq(scheme);
  const cipher = AES_CBC[oid(schemeOid)];
  if (!digest || !cipher) throw unsupported(`cipher ${oid(schemeOid)}`);
  const length = keyLength ? int(keyLength) : Number(/aes-(\d+)/.exec(cipher)![1]) / 8;
  return {
    cipher,
    key: pbkdf2Sync(Buffer.from(passphrase, 'utf8'), bytes(salt), int(iterations), length, digest),
    iv: bytes(iv),
  };
}

/** The contents of a DER OCTET STRING (an `ANY` field that holds one). */
function octets(der: ArrayBuffer): ArrayBuffer {
  return AsnConvert.parse(der, OctetString).buffer;
}

function concat(parts: OctetString[]): OctetString | undefined {
  if (parts.length === 0) return undefined;
  return new OctetString(Buffer.concat(parts.map((p) => Buffer.from(p.buffer))));
}
