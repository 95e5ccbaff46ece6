// The TLS listener's key material: read from the configured files (the key through a secret
// reference), re-read every few seconds and swapped in with setSecureContext() when it changed,
// so a renewed certificate (cert-manager, certbot, an operator's `mv`) needs no restart.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { TlsConfig } from '../config/schema/index.ts';
import { readSecret } from '../config/secrets.ts';
import { ConfigError, describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface TlsMaterial {
  /** https.createServer options (key, cert, and client-certificate settings). */
  options: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean };
  /** DNS names and IPs of the certificate: what clients may put in Host on this listener. */
  names: string[];
  /** Watches the files of `app`'s (https) server; returns the function that stops watching. */
  watch(app: FastifyInstance, logger: Logger, intervalMs?: number): () => void;
}

interface Pem {
  cert: string;
  key: string;
  ca: string | undefined;
}

async function readPem(config: TlsConfig): Promise<Pem> {
  const file = async (p: string, what: string) => {
    try {
      return await readFile(p, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `server.tls.${what}: cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? err})`,
        {
          cause: err,
        },
      );
    }
  };
  const [cert, ca] = await Promise.all([
    file(config.certificate, 'certificate'),
    config.clientCa ? file(config.clientCa, 'clientCa') : undefined,
  ]);
  let key: string;
  try {
    key = await readSecret(config.privateKey);
  } catch (err) {
    throw new ConfigError(`server.tls.privateKey: ${describeError(err)}`, { cause: err });
  }
  return { cert, key, ca };
}

/**
 * Forward secrecy only: TLS 1.3 (all of whose suites have it), or TLS 1.2 with an ECDHE key
 * exchange and an AEAD cipher. Node's default list also offers static-RSA suites (AES128-GCM-SHA256
 * and the like: a stolen key decrypts every recorded session) and DHE ones. Every SDK's TLS stack
 * offers ECDHE-GCM. Part of every secure context, so a reloaded certificate keeps the policy.
 */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const satisfies SecureContextOptions;

/**
 * Throws unless the key is the certificate's. createSecureContext() alone does not: it takes an
 * empty key or certificate, and a key of another type (an EC key for an RSA certificate), and the
 * listener then fails every handshake. A renewal caught mid-write (cert-manager, certbot and
 * `openssl req -keyout` write the key first, then the certificate) looks exactly like that.
 */
function checkPair(pem: Pem): void {
  const cert = new X509Certificate(pem.cert);
  if (!cert.checkPrivateKey(createPrivateKey(pem.key)))
    throw new Error(
      `the private key is not the key of the certificate (${cert.subject.replaceAll('\n', ', ')})`,
    );
}

function contextOptions(pem: Pem): SecureContextOptions {
  return { ...TLS_POLICY, cert: pem.cert, key: pem.key, ...(pem.ca ? { ca: pem.ca } : {}) };
}

/** DNS names and IP addresses in the certificate's subjectAltName, lower-cased. */
function certificateNames(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1]?.toLowerCase())
    .filter((name): name is string => name !== undefined);
}

/** Reads and checks the material once (a bad file fails startup as a config error). */
export async function loadTls(config: TlsConfig): Promise<TlsMaterial> {
  let pem = await readPem(config);
  let names: string[];
  try {
    names = certificateNames(pem.cert);
    checkPair(pem);
    createSecureContext(contextOptions(pem));
  } catch (err) {
    throw new ConfigError(`server.tls: the certificate or private key is unusable: ${describeError(err)}`, {
      cause: err,
    });
  }
  const digest = (p: Pem) =>
    createHash('sha256')
      .update(p.cert)
      .update(p.key)
      .update(p.ca ?? '')
      .digest('hex');
  let current = digest(pem);
  return {
    options: {
      ...contextOptions(pem),
      ...(config.clientCa ? { requestCert: true, rejectUnauthorized: true } : {}),
    },
    names,
    watch(app, logger, intervalMs = 5000) {
      const server = app.server as unknown as TlsServer;
      let reading = false; // a slow read (loaded host) must not overlap the next tick: one reload per renewal
      const timer = setInterval(async () => {
        if (reading) return;
        reading = true;
        try {
          const next = await readPem(config);
          const d = digest(next);
          if (d === current) return;
          checkPair(next); // throws on a half-written renewal: the next tick reads it again
          server.setSecureContext(contextOptions(next));
          pem = next;
          current = d;
          logger.info({ certificate: config.certificate }, 'TLS certificate reloaded');
        } catch (err) {
          // Keep serving the old certificate: a half-written renewal must not take the listener down.
          logger.warn({ err: describeError(err) }, 'TLS certificate reload failed; keeping the previous one');
        } finally {
          reading = false;
        }
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
