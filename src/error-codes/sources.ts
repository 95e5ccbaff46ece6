// Codes of config, secrets and the identity sources other than SAML (docs/oidc.md, docs/kubernetes-web-identity.md, docs/x509-roles-anywhere.md, docs/aws-and-chaining.md).
import type { CodeInfo } from './types.ts';

export const SOURCE_CODES = {
  // Configuration and secrets
  CONFIG_INVALID: {
    meaning: 'the config file is unreadable or invalid',
    fix: 'follow the `file: path.to.setting: what is wrong` line; docs/config-reference.md lists every setting',
    retried: '–',
    docs: ['aws-and-chaining'],
    exit: 78,
  },
  SECRET_UNAVAILABLE: {
    meaning: 'a secret reference (`file:`, `env:`, `credential:`) cannot be read',
    fix: 'fix the reference or the file permissions; a `credential:` name needs `LoadCredential=` in the unit',
    retried: 'slow',
    docs: ['oidc', 'saml', 'x509-roles-anywhere'],
  },
  // OIDC client credentials
  OIDC_DISCOVERY_FAILED: {
    meaning: 'issuer discovery failed',
    fix: 'set `source.issuer` to the exact issuer the provider names in its discovery document',
    retried: 'if 5xx / network',
    docs: ['oidc'],
  },
  OIDC_UNREACHABLE: {
    meaning: 'network, proxy or TLS-certificate error, or timeout, talking to the provider',
    fix: 'reach the address the message names from the host; fix `network.proxy` or `network.caFile`',
    retried: 'yes',
    docs: ['oidc'],
  },
  OIDC_CLIENT_REJECTED: {
    meaning: '`invalid_client` or any 401 at the token endpoint',
    fix: 'fix `clientId` and the secret, key, certificate or Kerberos identity registered for the client',
    retried: 'slow',
    docs: ['oidc'],
  },
  OIDC_ENDPOINT_INSECURE: {
    meaning:
      'the discovery document names a token endpoint that is neither https nor loopback; nothing is sent there',
    fix: 'configure the provider to publish an https token endpoint',
    retried: 'slow',
    docs: ['oidc'],
  },
  OIDC_TOKEN_ERROR: {
    meaning: 'another OAuth error from the token endpoint (`unauthorized_client`, `invalid_scope`, ...)',
    fix: 'allow the client the `client_credentials` grant, or fix `scope` / `audience` / `resource`',
    retried: 'if 5xx / 429',
    docs: ['oidc'],
  },
  OIDC_TOKEN_NOT_JWT: {
    meaning: 'the provider returned an opaque token, which STS cannot use',
    fix: 'make the provider issue JWT access tokens (often by requesting an `audience`), or use `token: id_token`',
    retried: 'slow',
    docs: ['oidc'],
  },
  OIDC_NO_ID_TOKEN: {
    meaning: '`token: id_token` but the token response holds none',
    fix: 'use `source.token: access_token`',
    retried: 'slow',
    docs: ['oidc'],
  },
  OIDC_CLIENT_KEY_INVALID: {
    meaning: 'the `private_key_jwt` key cannot sign',
    fix: 'give an unencrypted PEM (PKCS#8, PKCS#1, SEC1) or a private JWK, with an `alg` that suits the key',
    retried: 'slow',
    docs: ['oidc'],
  },
  OIDC_RESPONSE_TOO_LARGE: {
    meaning: 'a discovery document or token response above 1 MiB: not the OIDC provider, or a hostile one',
    fix: 'point `source.issuer` at the OIDC provider',
    retried: 'slow',
    docs: ['oidc'],
  },
  // Token files (web-identity-file)
  WEB_IDENTITY_TOKEN_UNREADABLE: {
    meaning: 'the token file is missing or unreadable',
    fix: 'mount the volume, fix the path or give the broker user read access',
    retried: 'yes',
    docs: ['kubernetes-web-identity'],
  },
  WEB_IDENTITY_TOKEN_INVALID: {
    meaning: 'the token file holds no JWT (the message names what is wrong)',
    fix: 'point `tokenFile` at the token itself, not a JSON or YAML wrapper',
    retried: 'slow',
    docs: ['kubernetes-web-identity'],
  },
  WEB_IDENTITY_TOKEN_EXPIRED: {
    meaning: "the token's `exp` has passed: whatever writes the file stopped rotating it",
    fix: 'fix the writer (kubelet volume, SPIFFE agent, CI step)',
    retried: 'yes',
    docs: ['kubernetes-web-identity'],
  },
  WEB_IDENTITY_AUDIENCE_MISMATCH: {
    meaning: "the token's `aud` lacks `expectedAudience`; refused before STS",
    fix: 'project the token with that audience (`audience: sts.amazonaws.com`), or fix `expectedAudience`',
    retried: 'slow',
    docs: ['kubernetes-web-identity'],
  },
  // X.509 certificates and IAM Roles Anywhere
  X509_CERT_UNREADABLE: {
    meaning: 'a certificate, chain or PKCS#12 file is missing or unreadable',
    fix: 'fix the path or give the broker user read access',
    retried: 'yes',
    docs: ['x509-roles-anywhere'],
  },
  X509_CERT_INVALID: {
    meaning: 'the file holds no usable certificate (not PEM, damaged, or an unsupported PKCS#12)',
    fix: 'convert it to PEM, or re-export the PKCS#12 with AES-256-CBC and SHA-256',
    retried: 'slow',
    docs: ['x509-roles-anywhere'],
  },
  X509_CERT_EXPIRED: {
    meaning: 'the certificate is past its `notAfter`',
    fix: 'renew it; it is re-read on every attempt, no restart needed',
    retried: 'yes',
    docs: ['x509-roles-anywhere'],
  },
  X509_CERT_NOT_YET_VALID: {
    meaning: 'the certificate is before its `notBefore`',
    fix: "fix the host's time sync",
    retried: 'yes',
    docs: ['x509-roles-anywhere'],
  },
  X509_KEY_MISMATCH: {
    meaning: 'the private key and the certificate do not belong together',
    fix: 'renew both together, or fix `privateKey` / `certificateFile`',
    retried: 'yes',
    docs: ['x509-roles-anywhere'],
  },
  X509_KEY_INVALID: {
    meaning: 'the private key is unparsable, encrypted without (or with a wrong) passphrase, or not RSA/EC',
    fix: 'set `source.passphrase`, or use an RSA or EC key',
    retried: 'slow',
    docs: ['x509-roles-anywhere'],
  },
  ROLES_ANYWHERE_DENIED: {
    meaning:
      '`AccessDeniedException` from CreateSession: untrusted CA or chain, bad certificate, role not in the profile',
    fix: 'add the issuing CA to the trust anchor, send the intermediates, or add the role to the Roles Anywhere profile',
    retried: 'slow',
    docs: ['x509-roles-anywhere'],
  },
  ROLES_ANYWHERE_NOT_FOUND: {
    meaning: '`ResourceNotFoundException`: no such trust anchor or profile',
    fix: 'fix `trustAnchorArn` / `profileArn`, or `source.region`',
    retried: 'slow',
    docs: ['x509-roles-anywhere'],
  },
  ROLES_ANYWHERE_REQUEST_INVALID: {
    meaning: 'another refusal from Roles Anywhere (e.g. a `ValidationException`)',
    fix: "see Roles Anywhere's reason in the message",
    retried: 'slow',
    docs: ['x509-roles-anywhere'],
  },
  // AWS credentials (aws source)
  AWS_CREDENTIALS_UNAVAILABLE: {
    meaning: 'the AWS SDK credential chain found nothing',
    fix: 'check `source.profile` / `source.credentialsFile` (readable by the broker user), or the instance role',
    retried: 'yes',
    docs: ['aws-and-chaining'],
  },
} as const satisfies Record<string, CodeInfo>;
