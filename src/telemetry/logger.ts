import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * Every field name that may carry a secret, redacted at the logger so no call site can leak one
 * by logging an object. (pino paths: `*.x` covers one level of nesting; deeper objects are not
 * logged by the broker.)
 */
const SECRET_KEYS = [
  'authorization',
  'token',
  'sessionToken',
  'SessionToken',
  'secretAccessKey',
  'SecretAccessKey',
  'clientSecret',
  'client_secret',
  'password',
  'privateKey',
  'assertion',
  'SAMLResponse',
  'accessToken',
  'access_token',
  'id_token',
  'WebIdentityToken',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'req.headers["x-aws-ec2-metadata-token"]',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout by default (journald and container runtimes collect it). */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'credential-broker' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
