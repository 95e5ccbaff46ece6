// `x509` source: a client certificate and its private key, used by src/sts/roles-anywhere.ts to
// sign IAM Roles Anywhere CreateSession. Certificate, chain and key are re-read on every exchange,
// so a renewal on disk (certbot, step-ca, cert-manager) is picked up without a restart. The
// certificate lifecycle is this mechanism's weak spot, so nearing expiry is logged and measured.

import type { X509Certificate } from 'node:crypto';
import type { X509SourceConfig } from '../config/schema/index.ts';
import { SourceError } from '../errors.ts';
import type { X509Proof } from '../model/proof.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { loadCertificateMaterial } from './certificate-material.ts';
import { describeSource } from './describe.ts';
import type { Source } from './types.ts';
import { commonName, decimalSerial, signingAlgorithm, subjectLine, validity } from './x509-material.ts';

export class X509Source implements Source {
  readonly type = 'x509';
  readonly describe: string;

  constructor(
    _profile: string,
    private readonly cfg: X509SourceConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.describe = describeSource(cfg);
  }

  // Failures name no profile: the broker files them under it (BrokerError.withProfile).
  async getProof(): Promise<X509Proof> {
    return this.load();
  }

  private async load(): Promise<X509Proof> {
    const { cfg } = this;
    const { leaf, chain, privateKey } = await loadCertificateMaterial(cfg, 'source');
    const { notAfter } = this.checkValidity(leaf);
    return {
      kind: 'x509',
      certificate: leaf.raw,
      chain: chain.map((c) => c.raw),
      privateKey,
      algorithm: signingAlgorithm(privateKey, this.describe),
      serialNumber: decimalSerial(leaf),
      subject: commonName(leaf),
      notAfter,
      rolesAnywhere: {
        trustAnchorArn: cfg.trustAnchorArn,
        profileArn: cfg.profileArn,
        region: cfg.region,
        endpoint: cfg.endpoint,
        useFipsEndpoint: cfg.useFipsEndpoint,
        sendSessionName: cfg.sendSessionName,
        timeout: cfg.timeout,
      },
    };
  }

  private checkValidity(cert: X509Certificate): { notAfter: Date } {
    const now = this.now();
    const { notBefore, notAfter } = validity(cert);
    if (notAfter.getTime() <= now) {
      throw new SourceError(
        'X509_CERT_EXPIRED',
        `the certificate in ${this.describe} (${subjectLine(cert)}) expired at ${notAfter.toISOString()}; renew it (it is re-read on every attempt, no restart needed)`,
        { retryable: true },
      );
    }
    if (notBefore.getTime() > now) {
      throw new SourceError(
        'X509_CERT_NOT_YET_VALID',
        `the certificate in ${this.describe} is valid only from ${notBefore.toISOString()}; check this host's clock`,
        { retryable: true },
      );
    }
    return { notAfter };
  }
}

/**
 * After each successful load: the seconds-to-expiry gauge, and a warning while the certificate
 * is within `certExpiryWarning` of expiry (logged on every exchange, so it cannot be missed).
 */
export function noteCertificate(
  profile: string,
  proof: X509Proof,
  cfg: X509SourceConfig,
  deps: { logger: Logger; metrics: Metrics },
  now = Date.now(),
): void {
  const left = proof.notAfter.getTime() - now;
  deps.metrics.certificateExpirySeconds.set({ profile }, Math.round(left / 1000));
  deps.metrics.certificateExpiryTimestamp.set({ profile }, proof.notAfter.getTime() / 1000);
  if (left < cfg.certExpiryWarning) {
    deps.logger.warn(
      {
        profile,
        certificate: cfg.pkcs12File ?? cfg.certificateFile,
        subject: proof.subject,
        notAfter: proof.notAfter.toISOString(),
        daysLeft: Math.floor(left / 86_400_000),
      },
      `the client certificate expires in ${Math.max(0, Math.floor(left / 3_600_000))} h: renew it before ${proof.notAfter.toISOString()}`,
    );
  }
}
