// A small broker for the server's own tests: it implements BrokerPort (src/server/broker-port.ts),
// the only thing the server sees of the broker, and serves what the test sets. It exists for what
// the server alone decides (auth, guard, limits, wire format, IMDS tokens, the 503); anything about
// where credentials come from is tested end to end with the real broker (test/harness/world.ts).
import { UnavailableError } from '../../src/errors.ts';
import type { AwsCredentials } from '../../src/model/credentials.ts';
import type { ProfileStatus, Readiness } from '../../src/model/status.ts';
import type { BrokerPort } from '../../src/server/broker-port.ts';

export const FAKE_ACCOUNT = '210987654321';

/** One profile of the fake: its role and either credentials to serve or the error to refuse with. */
export interface FakeProfile {
  roleArn: string;
  /** Served while set (and `error` is not). */
  credentials?: AwsCredentials;
  /** credentials() rejects with it; cached() holds nothing. */
  error?: UnavailableError;
  lazy?: boolean;
}

/** One question the server asked: which method, which profile, and the refresh floor it raised. */
export interface FakeCall {
  method: 'cached' | 'credentials';
  profile: string;
  minRemainingMs: number | undefined;
}

let serial = 0;

/** Distinct, well-formed temporary credentials (never issued by anyone) for `roleArn`. */
export function fakeCredentials(roleArn: string, lifetimeMs = 3_600_000): AwsCredentials {
  serial += 1;
  const id = String(serial).padStart(4, '0');
  return {
    accessKeyId: `ASIAFAKE${id}EXAMPLE0`,
    secretAccessKey: `fake-secret-${id}-${'s'.repeat(24)}`,
    sessionToken: `fake-session-token-${id}-${'t'.repeat(40)}`,
    // whole seconds, as STS issues them
    expiration: new Date(Math.floor((Date.now() + lifetimeMs) / 1000) * 1000),
    accountId: FAKE_ACCOUNT,
    roleArn,
    assumedRoleArn: `arn:aws:sts::${FAKE_ACCOUNT}:assumed-role/${roleArn.split('/').pop()}/fake`,
  };
}

export class FakeBroker implements BrokerPort {
  readonly profiles = new Map<string, FakeProfile>();
  /** Every credentials question the server asked, in order. */
  readonly calls: FakeCall[] = [];
  /** false: cached() holds nothing (below the refresh floor), so the server must await credentials(). */
  cacheHolds = true;

  /** Profiles by name; each gets a role `arn:aws:iam::FAKE_ACCOUNT:role/NAME` and fresh credentials unless given. */
  constructor(profiles: Record<string, Partial<FakeProfile>> = { default: {} }) {
    for (const [name, p] of Object.entries(profiles)) {
      const roleArn = p.roleArn ?? `arn:aws:iam::${FAKE_ACCOUNT}:role/${name}`;
      this.profiles.set(name, {
        roleArn,
        credentials: p.error ? p.credentials : (p.credentials ?? fakeCredentials(roleArn)),
        ...p,
      });
    }
  }

  has(profile: string): boolean {
    return this.profiles.has(profile);
  }

  /** Like the real cache: what is held with more than `minRemainingMs` left, else undefined. */
  cached(profile: string, minRemainingMs?: number): AwsCredentials | undefined {
    this.calls.push({ method: 'cached', profile, minRemainingMs });
    const p = this.profile(profile);
    if (!this.cacheHolds || p.error || !p.credentials) return undefined;
    const left = p.credentials.expiration.getTime() - Date.now();
    return left > (minRemainingMs ?? 0) ? p.credentials : undefined;
  }

  async credentials(profile: string, minRemainingMs?: number): Promise<AwsCredentials> {
    this.calls.push({ method: 'credentials', profile, minRemainingMs });
    const p = this.profile(profile);
    if (p.error) throw p.error;
    if (!p.credentials) throw new UnavailableError('the fake holds no credentials', { profile });
    return p.credentials;
  }

  readiness(): Readiness {
    const profiles: Readiness['profiles'] = {};
    let ready = true;
    for (const [name, p] of this.profiles) {
      const state: ProfileStatus['state'] = p.error || !p.credentials ? 'empty' : 'ready';
      if (state === 'empty' && !p.lazy) ready = false;
      profiles[name] = {
        profile: name,
        state,
        lazy: p.lazy ?? false,
        expiration: state === 'ready' ? p.credentials?.expiration : undefined,
        nextAttemptAt: undefined,
        failures: p.error ? 1 : 0,
        lastError: p.error ? { code: p.error.code, message: p.error.message } : undefined,
      };
    }
    return { ready, profiles };
  }

  roleArn(profile: string): string {
    return this.profile(profile).roleArn;
  }

  private profile(name: string): FakeProfile {
    const p = this.profiles.get(name);
    // The real broker throws too: the server must ask has() first.
    if (!p) throw new Error(`the server asked the fake broker for unconfigured profile "${name}"`);
    return p;
  }
}
