// Config section `server`: the credentials listener, its TLS and its limits.
import * as z from 'zod';
import { isLoopbackHost, parseListen } from '../../net.ts';
import { AllowListSchema, DurationSchema, HostPortSchema, SecretRefSchema } from './common.ts';
import { PathSchema } from './path.ts';

export const TlsSchema = z.strictObject({
  certificate: PathSchema.meta({
    description:
      'PEM certificate chain file; re-read every 5 s and swapped in when it changes, so renewal needs no restart (a pair that fails to load is logged and the old one kept).',
    examples: ['/etc/credential-broker/tls/tls.crt'],
  }),
  privateKey: SecretRefSchema.meta({
    description: "The certificate's PEM private key, as a secret reference; re-read like the certificate.",
    examples: ['file:/etc/credential-broker/tls/tls.key'],
  }),
  clientCa: PathSchema.optional().meta({
    description: 'PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS).',
  }),
});

/** Bounds on what one client can make a listener do (like the ECS agent and IMDS). */
export const LimitsSchema = z.strictObject({
  maxHeaderBytes: z.number().int().min(1024).max(65_536).default(8192).meta({
    description:
      'Largest request line plus headers, in bytes (431 beyond); SDK requests are well under 1 KiB.',
  }),
  maxUrlLength: z.number().int().min(64).max(8192).default(1024).meta({
    description: 'Longest request URL, in characters (414 beyond).',
  }),
  headersTimeout: DurationSchema.default(5000).meta({
    description:
      'A client must have sent its headers within this long, so a client that trickles its request is cut off; SDKs send the whole request at once and give up after 1–5 s themselves.',
  }),
  requestTimeout: DurationSchema.default(10_000).meta({
    description: 'A client must have sent its whole request within this long.',
  }),
  maxConcurrent: z.number().int().min(1).default(4096).meta({
    description:
      'Requests in progress at once on this listener; beyond it, 503 `TOO_BUSY` with `Retry-After`. Waiting on a single-flight refresh is cheap, and 1,000 simultaneous cold requests must all be served.',
  }),
  failedTokenMistakes: z.number().int().min(1).default(10).meta({
    description:
      "Wrong-token mistakes allowed per client address per `failedTokenWindow` (an SDK's retries of one request count once); beyond it wrong tokens get 429, while a valid token is still served.",
  }),
  failedTokenWindow: DurationSchema.default(10 * 60_000).meta({
    description: 'The window `failedTokenMistakes` is counted over.',
  }),
  keepAliveTimeout: DurationSchema.default(5000).meta({
    description:
      'An idle keep-alive connection is closed after this long. SDKs reuse a connection within a burst of calls and fetch credentials every few minutes at most, so a long idle time only lets idle sockets pile up.',
  }),
  maxConnections: z.number().int().min(1).max(1_000_000).default(1024).meta({
    description:
      'Open connections on this listener at once; beyond it a new connection is closed at once (no answer), while the open ones are served. Idle ones close after `keepAliveTimeout`, so this bounds file descriptors, not traffic.',
  }),
  maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(256).meta({
    description:
      'Open connections from one non-loopback client address at once (a remote host on a TLS listener); beyond it its new connections are closed. Loopback clients count only against `maxConnections`: every local app shares 127.0.0.1.',
  }),
});

export const ServerSchema = z
  .strictObject({
    listen: HostPortSchema.default('127.0.0.1:9911').meta({
      description:
        'Address of the credentials listener, `HOST:PORT` (port 0 picks a free one). Plain http is allowed only on loopback; any other address needs `server.tls`, because credentials cross it.',
      examples: ['127.0.0.1:9911', '10.0.0.5:9911'],
    }),
    tokenFile: PathSchema.optional().meta({
      description:
        "Client token shared by every profile without its own `tokenFile`; created (mode 0600, 256 random bits, no trailing newline) if missing. Whoever can read it can get those profiles' credentials: grant read access to the apps' users only.",
      defaultText: '`$RUNTIME_DIRECTORY/token`, else `/run/credential-broker/token`',
    }),
    shutdownTimeout: DurationSchema.default(10_000).meta({
      description:
        'On SIGTERM/SIGINT, in-flight requests get this long to finish before their connections are cut.',
    }),
    allow: AllowListSchema.optional().meta({
      description:
        'Client addresses allowed to connect at all, as IPs or CIDRs; others get 403 `ADDRESS_REFUSED`, health endpoints included.',
      defaultText: 'any address',
      examples: [['10.0.0.0/24', '127.0.0.1']],
    }),
    tls: TlsSchema.optional().meta({
      description: 'Serve https; required when `listen` is not a loopback address.',
      defaultText: 'plain http',
    }),
    limits: LimitsSchema.prefault({}).meta({
      description:
        'Bounds on what one client can make the listener do; they also apply to the IMDS listener.',
    }),
  })
  .superRefine((s, ctx) => {
    if (!s.tls && !isLoopbackHost(parseListen(s.listen).host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message:
          'credentials are served over plain http only on loopback: add server.tls (certificate, privateKey) to listen on another address, or listen on 127.0.0.1:PORT (a Kubernetes sidecar shares the pod loopback)',
      });
    }
  });
