// A certificate and its key, shared by the `x509` source and OIDC mutual-TLS client authentication.
import type * as z from 'zod';
import { SecretRefSchema } from '../common.ts';
import { PathSchema } from '../path.ts';

/** The certificate + key settings of the `x509` source, also used for mutual TLS at a token endpoint. */
export const CertificateMaterialShape = {
  certificateFile: PathSchema.optional().meta({
    description:
      'PEM certificate; more certificates after it in the same file (a fullchain.pem) are sent as the chain. Read again on every exchange, so a renewal on disk needs no restart. Required unless `pkcs12File` is set.',
    examples: ['/etc/pki/broker/host.crt'],
  }),
  chainFile: PathSchema.optional().meta({
    description: "PEM intermediates between the certificate and its CA's trusted root.",
  }),
  privateKey: SecretRefSchema.optional().meta({
    description:
      "The certificate's PEM private key (PKCS#8, PKCS#1 or SEC1; RSA or EC; encrypted with `passphrase` or not), as a secret reference. Required unless `pkcs12File` is set.",
    examples: ['file:/etc/pki/broker/host.key'],
  }),
  pkcs12File: PathSchema.optional().meta({
    description:
      'Instead of `certificateFile` + `privateKey`: a PKCS#12 (.p12/.pfx) bundle holding both (and the chain). PBES2/AES bundles only, as OpenSSL 3 writes; a legacy RC2/3DES bundle is refused with the command that re-exports it.',
  }),
  passphrase: SecretRefSchema.optional().meta({
    description: 'Passphrase of an encrypted private key or of the PKCS#12 bundle, as a secret reference.',
    examples: ['credential:host-key-passphrase'],
  }),
};

/** A certificate and its key: as PEM files, or one PKCS#12 bundle, never both. */
export function checkMaterial(
  material: {
    pkcs12File?: string | undefined;
    certificateFile?: string | undefined;
    privateKey?: string | undefined;
  },
  at: PropertyKey[],
  ctx: z.core.$RefinementCtx,
): void {
  const { pkcs12File, certificateFile, privateKey } = material;
  if (pkcs12File === undefined && (certificateFile === undefined || privateKey === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [...at, certificateFile === undefined ? 'certificateFile' : 'privateKey'],
      message: 'required: set certificateFile and privateKey (PEM), or pkcs12File',
    });
  }
  if (pkcs12File !== undefined && (certificateFile !== undefined || privateKey !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [...at, 'pkcs12File'],
      message: 'pkcs12File holds the certificate and the key: remove certificateFile and privateKey',
    });
  }
}
