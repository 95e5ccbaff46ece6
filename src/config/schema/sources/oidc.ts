// Source `oidc`: OAuth 2.0 client_credentials at an OpenID Provider, and its client authentication.
import * as z from 'zod';
import { DurationSchema, HttpUrlSchema, SecretRefSchema } from '../common.ts';
import { CertificateMaterialShape } from './certificate.ts';
import { KerberosKeytabShape } from './kerberos.ts';

const ClientSecretAuthSchema = z.strictObject({
  method: z.enum(['client_secret_basic', 'client_secret_post']).meta({
    description:
      'Send the client secret in an HTTP Basic `Authorization` header (`client_secret_basic`) or in the token request body (`client_secret_post`), whichever the client is registered for.',
  }),
  clientSecret: SecretRefSchema.meta({
    description:
      'The client secret, as a secret reference; read again on every token request, so rotating it needs no restart.',
    examples: ['file:/etc/credential-broker/secrets/billing-batch'],
  }),
});

const PrivateKeyJwtAuthSchema = z.strictObject({
  method: z.literal('private_key_jwt').meta({
    description:
      'Authenticate with a JWT signed by a private key (RFC 7523): the provider holds only the public key, so no shared secret exists.',
  }),
  privateKey: SecretRefSchema.meta({
    description:
      'The signing key: a PEM (PKCS#8, PKCS#1 `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY`) or a private JWK (JSON), as a secret reference; read again on every token request.',
    examples: ['credential:oidc-key'],
  }),
  alg: z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']).default('RS256').meta({
    description:
      'Signature algorithm of the client assertion; it must suit the key type (RSA: RS256/PS256, EC P-256: ES256, P-384: ES384, Ed25519: EdDSA).',
  }),
  keyId: z.string().optional().meta({
    description: '`kid` header of the client assertion, for providers that select the key by it.',
    defaultText: "the JWK's own `kid`, if any",
  }),
  assertionAudience: z.enum(['token_endpoint', 'issuer']).default('token_endpoint').meta({
    description:
      "`aud` of the client assertion: the token endpoint URL (what OpenID Connect Core 9 recommends; Okta, Entra ID, ADFS and Keycloak's default accept it) or the issuer (Auth0, Keycloak with a FAPI 2.0 client policy, FAPI 2.0 servers).",
  }),
  certificate: SecretRefSchema.optional().meta({
    description:
      "The PEM certificate of the signing key, as a reference (`file:` ...): its SHA-256 and SHA-1 thumbprints go into the assertion's `x5t#S256` and `x5t` headers, which Entra ID and ADFS use to find the key of a certificate credential.",
    examples: ['file:/etc/credential-broker/secrets/billing-batch.crt'],
  }),
});
const TlsClientAuthSchema = z.strictObject({
  method: z.enum(['tls_client_auth', 'self_signed_tls_client_auth']).meta({
    description:
      "Mutual TLS at the token endpoint (RFC 8705): the client certificate authenticates the client, no secret is sent. `tls_client_auth`: a certificate from a CA the provider trusts, matched by subject; `self_signed_tls_client_auth`: a certificate registered with the client (its JWKS). The provider's `mtls_endpoint_aliases` are used when it publishes them.",
  }),
  ...CertificateMaterialShape,
});
const KerberosClientAuthSchema = z.strictObject({
  method: z.literal('kerberos').meta({
    description:
      'SPNEGO (`Authorization: Negotiate`) at the token endpoint with tickets from a keytab, plus `use_windows_client_authentication=true`: how ADFS issues client_credentials tokens to a client using Windows Integrated Authentication. No secret anywhere. Needs the `kerberos` addon (libkrb5-dev).',
  }),
  ...KerberosKeytabShape,
});

const ResourceUriSchema = z.url({
  error: 'resource must be an absolute URI, like urn:aws:sts or https://sts.amazonaws.com',
});

/** Token-request parameters with a setting of their own (or set by client authentication). */
const RESERVED_TOKEN_PARAMS = [
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'resource',
  'use_windows_client_authentication',
];

export const OidcSourceSchema = z.strictObject({
  type: z.literal('oidc').meta({
    description:
      'OAuth 2.0 client_credentials at an OIDC provider; the JWT it returns is exchanged at STS AssumeRoleWithWebIdentity.',
  }),
  issuer: HttpUrlSchema.meta({
    description:
      'Issuer URL; its discovery document (`/.well-known/openid-configuration`) gives the token endpoint. https only (plain http only to a loopback address).',
    examples: ['https://idp.example.com/realms/machines'],
  }),
  clientId: z.string().min(1).meta({ description: 'The OAuth client ID registered at the provider.' }),
  clientAuth: z
    .discriminatedUnion(
      'method',
      [ClientSecretAuthSchema, PrivateKeyJwtAuthSchema, TlsClientAuthSchema, KerberosClientAuthSchema],
      {
        error:
          'clientAuth.method must be client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or kerberos',
      },
    )
    .meta({ description: 'How the client authenticates at the token endpoint, chosen by `method`.' }),
  scope: z.string().optional().meta({
    description: '`scope` token-request parameter (space-separated scopes); not sent when unset.',
  }),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .meta({
      description:
        '`audience` token-request parameter (a list sends it once per value), for providers that take it (Auth0: the API identifier). Okta does not: an Okta custom authorization server sets `aud` from its own Audience setting. Not sent when unset.',
      examples: ['sts.amazonaws.com'],
    }),
  resource: z
    .union([ResourceUriSchema, z.array(ResourceUriSchema).min(1)])
    .optional()
    .meta({
      description:
        'RFC 8707 resource indicator, an absolute URI (a list sends it once per value), for providers that use it (oidc-provider, ADFS: the relying party identifier; Keycloak does not implement it). Most take one value per token request (oidc-provider refuses more for client_credentials: `invalid_target`). Not sent when unset.',
      examples: ['urn:aws:sts'],
    }),
  extraParams: z
    .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
    .optional()
    .refine((params) => !params || !Object.keys(params).some((k) => RESERVED_TOKEN_PARAMS.includes(k)), {
      error: `extraParams cannot set ${RESERVED_TOKEN_PARAMS.join(', ')}: the broker sends those from scope, audience, resource and clientAuth`,
    })
    .meta({
      description:
        'More token-request parameters, name → value (a list sends the parameter once per value), for what a provider needs beyond scope, audience and resource.',
      examples: [{ requested_token_use: 'on_behalf_of' }],
    }),
  token: z.enum(['access_token', 'id_token']).default('access_token').meta({
    description:
      'Which token of the response to present to STS; it must be a JWT. client_credentials responses rarely carry an id_token.',
  }),
  timeout: DurationSchema.default(10_000).meta({
    description: 'Bound on each request to the provider (discovery, token).',
  }),
});
