import type { SourceConfig } from '../config/schema.ts';
import { OidcSource } from './oidc.ts';
import type { Source } from './types.ts';

/** The one place that maps `source.type` to its implementation. */
export function createSource(profile: string, cfg: SourceConfig): Source {
  switch (cfg.type) {
    case 'oidc':
      return new OidcSource(profile, cfg);
  }
}

export type { Proof, Source } from './types.ts';
