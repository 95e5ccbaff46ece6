import type { SourceConfig } from '../config/schema/index.ts';

/** Where a source authenticates (issuer URL, file path), for logs and `check`; never secret.
 * Apart from the sources so that it is known before a source's code is loaded (index.ts). */
export function describeSource(cfg: SourceConfig): string {
  switch (cfg.type) {
    case 'oidc':
      return cfg.issuer;
    case 'web-identity-file':
      return cfg.tokenFile;
    case 'x509':
      return (cfg.pkcs12File ?? cfg.certificateFile)!;
    case 'aws':
      return [cfg.profile ? `profile ${cfg.profile}` : 'default credential chain', cfg.credentialsFile]
        .filter(Boolean)
        .join(' in ');
    case 'saml': {
      // Never the query's secrets or userinfo in logs: origin and path name the IdP well enough.
      const idpUrl = new URL(cfg.idpUrl);
      return `${idpUrl.origin}${idpUrl.pathname}`;
    }
  }
}
