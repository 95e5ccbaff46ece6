// How the `oidc` source authenticates its client at the token endpoint. openid-client's own
// helpers are not used where real servers disagree with them:
// - client_secret_basic: RFC 6749 §2.3.1 form-urlencodes id and secret before Basic. The
//   application/x-www-form-urlencoded serializer leaves alphanumerics and `*-._` alone and turns a
//   space into `+`; openid-client 6.9 also percent-encodes `-._~!*'()`, so servers that compare the
//   user name undecoded refuse `billing%2Dbatch` for `billing-batch`.
// - private_key_jwt: the assertion's `aud` is configurable (openid-client always sends the
//   issuer), it can carry `x5t#S256`/`x5t` for certificate credentials (Entra ID, ADFS), and
//   Ed25519 keys sign with `alg: EdDSA` (openid-client writes `Ed25519`, which RFC 7523 servers
//   do not know).
// - tls_client_auth / self_signed_tls_client_auth (RFC 8705): no credential in the request; the
//   certificate goes into the TLS handshake (see OidcSource's fetch), the body names the client.
import { createHash, createPrivateKey, type KeyObject, randomUUID, X509Certificate } from 'node:crypto';
import { SignJWT } from 'jose';
import type * as oidc from 'openid-client';
import type { OidcSourceConfig } from '../config/schema/index.ts';
import { readSecret } from '../config/secrets.ts';
import { BrokerError, SourceError } from '../errors.ts';
import type { SpnegoContext } from './kerberos-client.ts';
import { keyMatches, parsePrivateKey } from './x509-material.ts';

type PrivateKeyJwtAuth = Extract<OidcSourceConfig['clientAuth'], { method: 'private_key_jwt' }>;

/** RFC 6749 §2.3.1 / Appendix B: application/x-www-form-urlencoded, as the WHATWG serializer writes it. */
export function formUrlEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

export function clientSecretBasic(secret: string): oidc.ClientAuth {
  return (_as, client, _body, headers) => {
    const credentials = `${formUrlEncode(client.client_id)}:${formUrlEncode(secret)}`;
    headers.set('authorization', `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`);
  };
}

export function clientSecretPost(secret: string): oidc.ClientAuth {
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_secret', secret);
  };
}

/** RFC 8705: the client is named in the body; the TLS handshake carries the certificate. */
export function tlsClientAuth(): oidc.ClientAuth {
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
  };
}

/**
 * ADFS's client_credentials with Windows Integrated Authentication: `Authorization: Negotiate`
 * with a fresh SPNEGO token, and `use_windows_client_authentication=true`, which ADFS requires to
 * take the Kerberos identity as the client's.
 */
export function kerberosClientAuth(context: SpnegoContext): oidc.ClientAuth {
  return async (_as, client, body, headers) => {
    body.set('client_id', client.client_id);
    body.set('use_windows_client_authentication', 'true');
    headers.set('authorization', `Negotiate ${await context.start()}`);
  };
}

/** A private_key_jwt signer for one token request; the key (and certificate) are read by the caller each time. */
export async function privateKeyJwt(auth: PrivateKeyJwtAuth, profile: string): Promise<oidc.ClientAuth> {
  const { key, kid } = readSigningKey(await readSecret(auth.privateKey), auth, profile);
  const thumbprints = auth.certificate ? await certificateThumbprints(auth, key, profile) : {};
  const keyId = auth.keyId ?? kid;
  const header = { alg: auth.alg, ...(keyId ? { kid: keyId } : {}), ...thumbprints };
  return async (as, client, body) => {
    const audience = auth.assertionAudience === 'issuer' ? as.issuer : as.token_endpoint;
    if (!audience) throw new Error('the discovery document names no token_endpoint');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader(header)
      .setIssuer(client.client_id)
      .setSubject(client.client_id)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(key);
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', assertion);
  };
}

/** Key types each `alg` signs with (node:crypto's asymmetricKeyType, and the EC curve). */
const KEY_FOR_ALG: Record<PrivateKeyJwtAuth['alg'], { type: string[]; curve?: string; say: string }> = {
  RS256: { type: ['rsa'], say: 'an RSA key' },
  PS256: { type: ['rsa', 'rsa-pss'], say: 'an RSA key' },
  ES256: { type: ['ec'], curve: 'prime256v1', say: 'an EC P-256 key' },
  ES384: { type: ['ec'], curve: 'secp384r1', say: 'an EC P-384 key' },
  EdDSA: { type: ['ed25519', 'ed448'], say: 'an Ed25519 key' },
};

function readSigningKey(
  text: string,
  auth: PrivateKeyJwtAuth,
  profile: string,
): { key: KeyObject; kid: string | undefined } {
  const trimmed = text.trim();
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as { kid?: unknown; d?: unknown };
      if (jwk.d === undefined) throw new Error('the JWK has no private part ("d")');
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    } else {
      // PKCS#8, PKCS#1 (BEGIN RSA PRIVATE KEY) and SEC1 (BEGIN EC PRIVATE KEY): OpenSSL reads them all.
      key = parsePrivateKey(trimmed, undefined, auth.privateKey);
    }
  } catch (err) {
    const why = (err as Error).message;
    throw new SourceError(
      'OIDC_CLIENT_KEY_INVALID',
      `clientAuth.privateKey ${auth.privateKey} is not a usable private key (${why}); give an unencrypted PEM (PKCS#8, PKCS#1 or SEC1) or a private JWK; an encrypted key can be decrypted with: openssl pkcs8 -topk8 -nocrypt -in KEY.pem -out KEY.pkcs8.pem`,
      { profile, cause: err },
    );
  }
  const want = KEY_FOR_ALG[auth.alg];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (!want.type.includes(key.asymmetricKeyType ?? '') || (want.curve && curve !== want.curve)) {
    const have = `${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`;
    throw new SourceError(
      'OIDC_CLIENT_KEY_INVALID',
      `clientAuth.alg ${auth.alg} needs ${want.say}, but ${auth.privateKey} holds an ${have} key; set clientAuth.alg to suit the key (RSA: RS256 or PS256, EC P-256: ES256, P-384: ES384, Ed25519: EdDSA)`,
      { profile },
    );
  }
  return { key, kid };
}

/** `x5t#S256` and `x5t` (SHA-256 and SHA-1 of the DER certificate, base64url), after checking it is the key's. */
async function certificateThumbprints(
  auth: PrivateKeyJwtAuth,
  key: KeyObject,
  profile: string,
): Promise<{ 'x5t#S256': string; x5t: string }> {
  const ref = auth.certificate!;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readSecret(ref));
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    throw new SourceError(
      'OIDC_CLIENT_KEY_INVALID',
      `clientAuth.certificate ${ref} is not a PEM certificate (-----BEGIN CERTIFICATE-----); convert DER with: openssl x509 -inform der -in CERT -out CERT.pem`,
      { profile, cause: err },
    );
  }
  if (!keyMatches(cert, key)) {
    throw new SourceError(
      'OIDC_CLIENT_KEY_INVALID',
      `clientAuth.certificate ${ref} is not the certificate of clientAuth.privateKey ${auth.privateKey}; upload and configure the certificate of this key`,
      { profile },
    );
  }
  const digest = (alg: string) => createHash(alg).update(cert.raw).digest('base64url');
  return { 'x5t#S256': digest('sha256'), x5t: digest('sha1') };
}
