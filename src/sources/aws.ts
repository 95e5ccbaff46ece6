// `aws` source: credentials from the AWS SDK's standard chain (environment, shared files, SSO,
// process, container or instance metadata), used by src/sts to AssumeRole the profile's role.
// Typical use: a static key of a locked-down IAM user whose only right is sts:AssumeRole, or an
// EC2 instance profile hopping into another account. A new provider per exchange re-reads the
// files, so rotated keys need no restart.

import type { AwsSourceConfig } from '../config/schema/index.ts';
import { SourceError } from '../errors.ts';
import type { AwsCredentialsProof } from '../model/proof.ts';
import { describeSource } from './describe.ts';
import type { Source } from './types.ts';

export class AwsSource implements Source {
  readonly type = 'aws';
  readonly describe: string;

  constructor(
    private readonly profile: string,
    private readonly cfg: AwsSourceConfig,
  ) {
    this.describe = describeSource(cfg);
  }

  async getProof(): Promise<AwsCredentialsProof> {
    // Loaded on first use: only brokers with an `aws` profile need the SDK's provider chain (~11 MB).
    const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
    const provider = fromNodeProviderChain({
      profile: this.cfg.profile,
      filepath: this.cfg.credentialsFile,
      configFilepath: this.cfg.configFile,
      ignoreCache: true,
    });
    try {
      const c = await provider();
      return {
        kind: 'aws-credentials',
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
      };
    } catch (err) {
      const message = (err as Error).message?.split('\n')[0] ?? String(err);
      throw new SourceError(
        'AWS_CREDENTIALS_UNAVAILABLE',
        `the AWS credential chain (${this.describe}) found no usable credentials: ${message}; check source.profile / source.credentialsFile, or the instance role`,
        { profile: this.profile, retryable: true, cause: err },
      );
    }
  }
}
