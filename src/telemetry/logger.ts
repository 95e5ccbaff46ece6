import { type DestinationStream, type Logger, pino } from 'pino';
import { ConfigError } from '../errors.ts';
import { isJournalStream, journalDestination } from './journald.ts';
import { prettyDestination, prettyLine, wantsColor } from './pretty.ts';

export type { Logger };

/**
 * Every field name that may carry a secret, redacted at the logger so no call site can leak one
 * by logging an object: client tokens, client secrets and assertions, passwords, private keys,
 * identity tokens (JWT, SAML), the issued AWS keys, and HTTP headers that carry any of them.
 */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'x-amz-security-token',
  'X-Amz-Security-Token',
  'x-aws-ec2-metadata-token',
  'token',
  'Token',
  'sessionToken',
  'SessionToken',
  'secretAccessKey',
  'SecretAccessKey',
  'clientSecret',
  'client_secret',
  'client_assertion',
  'clientAssertion',
  'password',
  'passphrase',
  'privateKey',
  'passphrase',
  'privateKeyPem',
  'keytab',
  'assertion',
  'SAMLAssertion',
  'SAMLResponse',
  'samlResponse',
  'accessToken',
  'access_token',
  'id_token',
  'refresh_token',
  'WebIdentityToken',
];

/**
 * pino (fast-redact) paths: a `*` stands for exactly one level, so each key is listed at the top
 * level and under one to three parents, which covers what the broker logs (`err` with its own
 * properties, `req.headers.*`, `{ response: { headers } }`). pino's error serializer folds an
 * `err.cause` chain into `message` and `stack` text and drops the causes' own properties, so a
 * secret field on a cause is never written at all; cause *messages* are ours and name no secret.
 */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith('[') ? '' : '.';
  return [key, `*${dot}${key}`, `*.*${dot}${key}`, `*.*.*${dot}${key}`];
});

/** Top-level keys only: complete for the flat audit lines below. */
const TOP_LEVEL_REDACT_PATHS = REDACT_PATHS.filter((p) => !p.startsWith('*'));

/**
 * The logger for per-request audit lines (served, refused), written on every request. Audit
 * lines are flat objects of known scalar fields (profile, remote, outcome, accessKeyId, ...), so
 * redacting the secret keys at the top level covers them; the deep wildcard paths of the main
 * logger would cost more than half of a credential request's CPU time (measured: 10.9k req/s
 * without a line, 7.7k with top-level paths, 4.9k with paths one level deep).
 */
export function auditLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: TOP_LEVEL_REDACT_PATHS, censor: '[REDACTED]' } });
}

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  /** json (default) for journald, container runtimes and shippers; pretty for a human at a terminal. */
  format?: LogFormat;
  /** Where lines go; stdout by default (journald and container runtimes collect it). */
  destination?: DestinationStream;
  /** Prefix each line with its syslog priority for journald; default: stdout is the journal. */
  journal?: boolean;
}

/** LOG_LEVEL / LOG_FORMAT in the environment win over the config file (one-off debugging). */
export function loggingFromEnv(
  config: { level: string; format: LogFormat },
  env: NodeJS.ProcessEnv = process.env,
): {
  level: string;
  format: LogFormat;
} {
  const level = env.LOG_LEVEL || config.level;
  if (!LEVELS.includes(level)) {
    throw new ConfigError(`LOG_LEVEL=${level} is not a log level; use one of ${LEVELS.join(', ')}`);
  }
  const format = env.LOG_FORMAT || config.format;
  if (format !== 'json' && format !== 'pretty') {
    throw new ConfigError(`LOG_FORMAT=${format} is not a log format; use json or pretty`);
  }
  return { level, format };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Longest a log line waits in the buffer before it is written. */
const FLUSH_INTERVAL_MS = 100;

/**
 * stdout, written in batches of up to 4 KiB: one write(2) per audit line cost about a fifth of a
 * credential request's CPU time (measured). A line waits at most FLUSH_INTERVAL_MS; every exit
 * path flushes (serve's shutdown and the fatal-error handler call logger.flush(), and 'exit'
 * flushes whatever is left).
 */
function batchedStdout(): DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  let flushScheduled = false;
  const flushSoon = () => {
    flushScheduled = false;
    dest.flush();
  };
  const write = dest.write.bind(dest);
  dest.write = (line: string) => {
    if (!flushScheduled) {
      flushScheduled = true;
      setTimeout(flushSoon, FLUSH_INTERVAL_MS).unref();
    }
    return write(line);
  };
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // A write still in flight (or a closed stdout): nothing more can be done at exit.
    }
  });
  return dest;
}

/** How deep binary values are looked for: as deep as the redaction paths reach. */
const BINARY_DEPTH = 4;

function isBinary(value: unknown): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/**
 * `record` with every binary value (Buffer, typed array) down to BINARY_DEPTH replaced by its size,
 * or `record` itself when it holds none (the common case costs no copy). The redaction walks a
 * copy of each logged object and throws on a Buffer, and a Buffer's bytes are no log text anyway:
 * fastify logs the parser's `rawPacket` at trace, the raw request with its Authorization header.
 */
export function withoutBinary<T extends object>(record: T, depth = 0): T {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const value = (record as Record<string, unknown>)[key];
    let replaced: unknown = value;
    if (isBinary(value)) replaced = `[${value.constructor.name} of ${value.byteLength} bytes]`;
    else if (depth < BINARY_DEPTH && isPlainRecord(value)) replaced = withoutBinary(value, depth + 1);
    if (replaced !== value) {
      copy ??= (Array.isArray(record) ? [...record] : { ...record }) as Record<string, unknown>;
      copy[key] = replaced;
    }
  }
  return (copy ?? record) as T;
}

function isPlainRecord(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Array.isArray(value);
}

/**
 * Logging never throws, at any level: a line whose fields cannot be written (a getter that throws,
 * a Proxy, anything the redaction cannot copy) is written with its message and the reason instead,
 * without the fields, since they cannot be redacted. A throw here would reach whatever was logging:
 * fastify's client-error handler, for one, where it ended the process.
 */
function neverThrow(this: Logger, args: unknown[], method: (...a: unknown[]) => void): void {
  try {
    method.apply(this, args);
  } catch (err) {
    const msg = typeof args[0] === 'string' ? args[0] : typeof args[1] === 'string' ? args[1] : '';
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : typeof err;
    try {
      method.call(
        this,
        { logError: `the fields of this line could not be logged (${reason.slice(0, 200)})` },
        msg,
      );
    } catch {
      // the destination itself failed: nothing is left to tell
    }
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stdout = opts.destination ?? batchedStdout();
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'credential-broker' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Binary values go before the redaction sees them: in the logged object (formatters.log)
      // and in an error's own properties (the serializer's output).
      formatters: { level: (label) => ({ level: label }), log: (obj) => withoutBinary(obj) },
      serializers: {
        err: (err) => {
          const serialized = pino.stdSerializers.err(err);
          return typeof serialized === 'object' && serialized !== null
            ? withoutBinary(serialized)
            : serialized;
        },
      },
      hooks: { logMethod: neverThrow as never },
    },
    // Redaction happens before serialisation, so pretty output is redacted too.
    (opts.journal ?? (!opts.destination && isJournalStream()))
      ? journalDestination(stdout, opts.format === 'pretty' ? (l) => prettyLine(l, wantsColor()) : undefined)
      : opts.format === 'pretty'
        ? prettyDestination(stdout)
        : stdout,
  );
}
