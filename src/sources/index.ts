import type { SourceConfig } from '../config/schema.ts';
import { type ResolvedNetwork, resolveNetwork } from '../outbound.ts';
import { AwsSource } from './aws.ts';
import { OidcSource } from './oidc.ts';
import { SamlSource } from './saml/source.ts';
import type { Source } from './types.ts';
import { WebIdentityFileSource } from './web-identity-file.ts';
import { X509Source } from './x509.ts';

/** The one place that maps `source.type` to its implementation. `network` is the profile's resolved
 * proxy / CA settings, the ones its STS requests use; by default only the environment's. */
export function createSource(
  profile: string,
  cfg: SourceConfig,
  network: ResolvedNetwork = resolveNetwork([]),
): Source {
  switch (cfg.type) {
    case 'oidc':
      return new OidcSource(profile, cfg, network);
    case 'web-identity-file':
      return new WebIdentityFileSource(profile, cfg);
    case 'x509':
      return new X509Source(profile, cfg);
    case 'aws':
      return new AwsSource(profile, cfg);
    case 'saml':
      return new SamlSource(profile, cfg, network);
  }
}
