import type { SourceConfig } from '../config/schema.ts';
import { AwsSource } from './aws.ts';
import { OidcSource } from './oidc.ts';
import { SamlSource } from './saml/source.ts';
import type { Source } from './types.ts';
import { WebIdentityFileSource } from './web-identity-file.ts';
import { X509Source } from './x509.ts';

/** The one place that maps `source.type` to its implementation. */
export function createSource(profile: string, cfg: SourceConfig): Source {
  switch (cfg.type) {
    case 'oidc':
      return new OidcSource(profile, cfg);
    case 'web-identity-file':
      return new WebIdentityFileSource(profile, cfg);
    case 'x509':
      return new X509Source(profile, cfg);
    case 'aws':
      return new AwsSource(profile, cfg);
    case 'saml':
      return new SamlSource(profile, cfg);
  }
}

export type { Proof, Source } from './types.ts';
