// What the server needs from the broker, and all it may ask: the server never imports broker.ts
// (test/unit/dependencies.test.ts). src/broker.ts satisfies this interface; server tests use a
// small fake (test/harness/fake-broker.ts) instead of booting an OpenID Provider and STS.
import type { AwsCredentials } from '../model/credentials.ts';
import type { Readiness } from '../model/status.ts';

export interface BrokerPort {
  /** Is `profile` configured (now: a reload may add or remove profiles)? */
  has(profile: string): boolean;
  /**
   * The credentials credentials() would serve at once, synchronously, or undefined when the
   * caller must await credentials() (nothing held, or below the refresh floor). For the hot path:
   * almost every request is answered from here without a promise.
   */
  cached(profile: string, minRemainingMs?: number): AwsCredentials | undefined;
  /** Credentials to serve for a configured profile; rejects with UnavailableError (errors.ts)
   * when none are valid. `minRemainingMs` raises the refresh floor for one consumer (IMDS). */
  credentials(profile: string, minRemainingMs?: number): Promise<AwsCredentials>;
  /** What /readyz and the profile gauges report. */
  readiness(): Readiness;
  /** The role ARN a configured profile serves (IMDS lists the role's name). */
  roleArn(profile: string): string;
}
