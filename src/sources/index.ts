import type { SourceConfig } from '../config/schema/index.ts';
import type { Proof } from '../model/proof.ts';
import { type ResolvedNetwork, resolveNetwork } from '../outbound.ts';
import { describeSource } from './describe.ts';
import type { Source } from './types.ts';

type Of<T extends SourceConfig['type']> = Extract<SourceConfig, { type: T }>;
type Implementations = {
  [T in SourceConfig['type']]: (profile: string, cfg: Of<T>, network: ResolvedNetwork) => Promise<Source>;
};

/** The one place that maps `source.type` to its implementation. Each is imported on first use,
 * so a broker loads only the code its profiles need: SAML's XML and HTML parsers, X.509's and
 * PKCS#12's ASN.1, openid-client, the SDK's credential chain are megabytes and tens of ms each. */
const IMPLEMENTATIONS: Implementations = {
  oidc: async (profile, cfg, network) => new (await import('./oidc.ts')).OidcSource(profile, cfg, network),
  'web-identity-file': async (profile, cfg) =>
    new (await import('./web-identity-file.ts')).WebIdentityFileSource(profile, cfg),
  x509: async (profile, cfg) => new (await import('./x509.ts')).X509Source(profile, cfg),
  aws: async (profile, cfg) => new (await import('./aws.ts')).AwsSource(profile, cfg),
  saml: async (profile, cfg, network) =>
    new (await import('./saml/source.ts')).SamlSource(profile, cfg, network),
};

/** A source whose code is loaded at its first proof (the broker's first fetch for the profile). */
class LazySource implements Source {
  readonly type: SourceConfig['type'];
  readonly describe: string;
  private source: Promise<Source> | undefined;

  constructor(
    private readonly load: () => Promise<Source>,
    cfg: SourceConfig,
  ) {
    this.type = cfg.type;
    this.describe = describeSource(cfg);
  }

  async getProof(): Promise<Proof> {
    // A failed import (a broken install) is not cached: the next attempt tries again.
    this.source ??= this.load().catch((err: unknown) => {
      this.source = undefined;
      throw err;
    });
    return (await this.source).getProof();
  }
}

/** `network` is the profile's resolved proxy / CA settings, the ones its STS requests use; by
 * default only the environment's. */
export function createSource(
  profile: string,
  cfg: SourceConfig,
  network: ResolvedNetwork = resolveNetwork([]),
): Source {
  const implementation = IMPLEMENTATIONS[cfg.type] as (
    profile: string,
    cfg: SourceConfig,
    network: ResolvedNetwork,
  ) => Promise<Source>;
  return new LazySource(() => implementation(profile, cfg, network), cfg);
}
