// The one error hierarchy of the broker. Every failure that reaches a user (CLI line, HTTP body,
// log line, metric label) is a BrokerError with a stable `code`, so operators can alert and
// search on codes while messages stay free to improve. Messages never contain secret values.
// The codes are one typed list (src/error-codes/), from which docs/errors.md is generated.
import { CODES, type CodeInfo, type ErrorCode } from './error-codes/index.ts';

export type { ErrorCode } from './error-codes/index.ts';

export interface BrokerErrorOptions {
  /** Profile the failure belongs to, when known where it is made; else the refresher of the
   * profile sets it (withProfile). The message never repeats it: describeError renders it. */
  profile?: string;
  /** True when trying again later may succeed (network, 5xx, throttling). */
  retryable?: boolean;
  /** Seconds the upstream asked us to wait (Retry-After / throttling), when known. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  /** The profile the failure belongs to, when known; set once, by the constructor or withProfile.
   * An own property (not a getter), so that log serializers carry it. */
  profile: string | undefined;

  constructor(code: ErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.profile = options.profile;
    this.retryable = options.retryable ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Files the error under `profile` unless it already names one (a failure deep in a source or
   * secret lookup does not know whose it is; the profile's refresher does). */
  withProfile(profile: string): this {
    this.profile ??= profile;
    return this;
  }
}

/** Invalid or unreadable configuration. The process exits 78 (EX_CONFIG) on it. */
export class ConfigError extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

/** A secret reference (file:, env:, credential:) that cannot be resolved. */
export class SecretError extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super('SECRET_UNAVAILABLE', message, options);
  }
}

/** The identity source (OIDC provider, SAML IdP, token file, ...) failed to give a proof. */
export class SourceError extends BrokerError {}

/** AWS STS (or Roles Anywhere) refused or failed the exchange. */
export class StsError extends BrokerError {
  /** The AWS error code as STS sent it (e.g. InvalidIdentityToken), for logs and metrics. */
  readonly awsCode: string | undefined;
  constructor(code: ErrorCode, message: string, options: BrokerErrorOptions & { awsCode?: string } = {}) {
    super(code, message, options);
    this.awsCode = options.awsCode;
  }
}

/** No valid credentials can be served right now (first fetch pending or failing, or all expired). */
export class UnavailableError extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super('CREDENTIALS_UNAVAILABLE', message, { retryable: true, ...options });
  }
}

export function isBrokerError(err: unknown): err is BrokerError {
  return err instanceof BrokerError;
}

/** For `.catch()`: rethrows a failure filed under `profile` (see BrokerError.withProfile). */
export function rethrowFor(profile: string): (err: unknown) => never {
  return (err) => {
    throw isBrokerError(err) ? err.withProfile(profile) : err;
  };
}

/** A one-line description of any thrown value for the edges (CLI lines, HTTP bodies, logs without
 * a profile field): a BrokerError's profile, when it has one, leads its message. */
export function describeError(err: unknown): string {
  if (err instanceof BrokerError && err.profile !== undefined)
    return `profile "${err.profile}": ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** 70 (EX_SOFTWARE): an unhandled error in the daemon; the supervisor (systemd, kubelet) restarts it.
 * 69 (EX_UNAVAILABLE): a command that asks a running broker found none (`status`). */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 64, UNAVAILABLE: 69, SOFTWARE: 70, CONFIG: 78 } as const;

/** The exit code of a command that failed with `err`: the code list's, else 1. */
export function exitCodeOf(err: unknown): number {
  if (!isBrokerError(err)) return EXIT.FAILURE;
  return (CODES[err.code] as CodeInfo).exit ?? EXIT.FAILURE;
}
