// A throwaway PKI made at run time (WebCrypto keys, @peculiar/x509 certificates): a root CA,
// optional intermediates and end-entity certificates with RSA or EC keys, for the IAM Roles
// Anywhere emulator's trust anchors and the x509 source's client certificates.
// @peculiar/x509 resolves its parts with tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyKind = 'rsa' | 'ec';

const KEY_ALGORITHMS = {
  rsa: {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  },
  ec: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

const SIGNING = { rsa: { name: 'RSASSA-PKCS1-v1_5' }, ec: { name: 'ECDSA', hash: 'SHA-256' } } as const;

const DAY = 86_400_000;

export interface IssuedCert {
  cert: x509.X509Certificate;
  certPem: string;
  /** Unencrypted PKCS#8 PEM. */
  keyPem: string;
  kind: KeyKind;
}

async function generate(kind: KeyKind): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHMS[kind], true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export class TestCa {
  private constructor(
    readonly name: string,
    readonly cert: x509.X509Certificate,
    private readonly keys: CryptoKeyPair,
    readonly kind: KeyKind,
  ) {}

  get certPem(): string {
    return this.cert.toString('pem');
  }

  /** A self-signed root CA. */
  static async root(name = 'Broker Test Root CA', kind: KeyKind = 'ec'): Promise<TestCa> {
    const keys = await generate(kind);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${name}`,
      keys,
      signingAlgorithm: SIGNING[kind],
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(name, cert, keys, kind);
  }

  /** An intermediate CA issued by this one. */
  async intermediate(name: string, kind: KeyKind = 'ec'): Promise<TestCa> {
    const keys = await generate(kind);
    const cert = await this.sign(`CN=${name}`, keys.publicKey, {
      ca: true,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 180 * DAY),
    });
    return new TestCa(name, cert, keys, kind);
  }

  /** An end-entity (client) certificate and its key. */
  async issue(
    cn: string,
    opts: {
      kind?: KeyKind;
      notBefore?: Date;
      notAfter?: Date;
      serialNumber?: string;
      san?: { type: 'ip' | 'dns'; value: string };
    } = {},
  ): Promise<IssuedCert> {
    const kind = opts.kind ?? 'ec';
    const keys = await generate(kind);
    const cert = await this.sign(`CN=${cn}`, keys.publicKey, {
      ca: false,
      notBefore: opts.notBefore ?? new Date(Date.now() - 60_000),
      notAfter: opts.notAfter ?? new Date(Date.now() + 30 * DAY),
      serialNumber: opts.serialNumber,
      san: opts.san,
    });
    return { cert, certPem: cert.toString('pem'), keyPem: await pkcs8Pem(keys.privateKey), kind };
  }

  private async sign(
    subject: string,
    publicKey: CryptoKey,
    opts: {
      ca: boolean;
      notBefore: Date;
      notAfter: Date;
      serialNumber?: string;
      san?: { type: 'ip' | 'dns'; value: string };
    },
  ): Promise<x509.X509Certificate> {
    return x509.X509CertificateGenerator.create({
      subject,
      issuer: this.cert.subject,
      publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: SIGNING[this.kind],
      serialNumber: opts.serialNumber ?? randomSerial(),
      notBefore: opts.notBefore,
      notAfter: opts.notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(opts.ca, undefined, true),
        new x509.KeyUsagesExtension(
          opts.ca
            ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
            : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        // A TLS server certificate for a loopback test server.
        ...(opts.san ? [new x509.SubjectAlternativeNameExtension([opts.san])] : []),
      ],
    });
  }
}

/** A PKCS#8 PEM re-exported encrypted (AES-256-CBC, PBES2), or in the legacy PKCS#1/SEC1 form. */
export function reencodeKey(pkcs8Pem: string, as: { passphrase: string } | { legacy: true }): string {
  const key = createPrivateKey(pkcs8Pem);
  if ('passphrase' in as) {
    return key.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: as.passphrase,
    }) as string;
  }
  return key.export({ type: key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1', format: 'pem' }) as string;
}

/** Positive, 16 random bytes, as CAs use (RFC 5280 allows up to 20 octets). */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return Buffer.from(bytes).toString('hex');
}
