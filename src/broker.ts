// The broker owns the validated config and one Refresher per profile; it is all the server asks.
import path from 'node:path';
import { type Clock, type RefreshEvent, Refresher, type RefresherStatus } from './cache/refresher.ts';
import type { Config, Profile } from './config/schema.ts';
import { ClientTokens } from './server/client-tokens.ts';
import { createSource } from './sources/index.ts';
import type { Source } from './sources/types.ts';
import type { AwsCredentials } from './sts/credentials.ts';
import { exchange, type ResolvedStsSettings, resolveStsSettings } from './sts/exchange.ts';
import type { Logger } from './telemetry/logger.ts';
import type { Metrics } from './telemetry/metrics.ts';

export interface BrokerDeps {
  logger: Logger;
  metrics: Metrics;
  clock?: Clock;
}

interface ProfileRuntime {
  name: string;
  config: Profile;
  source: Source;
  sts: ResolvedStsSettings;
  refresher: Refresher;
}

export interface Readiness {
  ready: boolean;
  profiles: Record<string, RefresherStatus & { lazy: boolean }>;
}

/** Where the shared client token lives unless server.tokenFile says otherwise. */
export function defaultTokenFile(): string {
  return path.join(process.env.RUNTIME_DIRECTORY ?? '/run/credential-broker', 'token');
}

export class Broker {
  readonly tokens: ClientTokens;
  private readonly runtimes = new Map<string, ProfileRuntime>();

  constructor(
    readonly config: Config,
    private readonly deps: BrokerDeps,
  ) {
    const profileTokens = new Map<string, string>();
    for (const [name, profile] of Object.entries(config.profiles)) {
      this.runtimes.set(name, this.createRuntime(name, profile));
      if (profile.tokenFile) profileTokens.set(name, profile.tokenFile);
    }
    this.tokens = new ClientTokens(config.server.tokenFile ?? defaultTokenFile(), profileTokens);
  }

  /** First fetch for every non-lazy profile, in parallel; failures are logged and retried, not thrown. */
  async start(): Promise<void> {
    await this.tokens.ensureAll();
    await Promise.all(
      [...this.runtimes.values()].filter((r) => !r.config.lazy).map((r) => r.refresher.start()),
    );
  }

  stop(): void {
    for (const r of this.runtimes.values()) r.refresher.stop();
  }

  has(profile: string): boolean {
    return this.runtimes.has(profile);
  }

  profileNames(): string[] {
    return [...this.runtimes.keys()];
  }

  /** Credentials to serve for a profile (throws UnavailableError when none are valid). */
  credentials(profile: string): Promise<AwsCredentials> {
    return this.runtime(profile).refresher.get();
  }

  /** Refresh a profile now (shared with any refresh in flight), e.g. after an operator fixed its IdP. */
  async refreshNow(profile: string): Promise<void> {
    await this.runtime(profile).refresher.refresh();
  }

  /** One fetch straight from the source and STS, bypassing the cache: what `check` does. */
  fetchOnce(profile: string): Promise<AwsCredentials> {
    return this.fetch(this.runtime(profile));
  }

  describe(profile: string): {
    source: string;
    sourceType: string;
    roleArn: string;
    sts: ResolvedStsSettings;
  } {
    const r = this.runtime(profile);
    return { source: r.source.describe, sourceType: r.source.type, roleArn: r.config.role.arn, sts: r.sts };
  }

  /** Ready when every non-lazy profile (and every lazy one already fetched) holds valid credentials. */
  readiness(): Readiness {
    const profiles: Readiness['profiles'] = {};
    let ready = true;
    for (const r of this.runtimes.values()) {
      const status = r.refresher.status();
      profiles[r.name] = { ...status, lazy: r.config.lazy };
      const counts = !r.config.lazy || status.failures > 0 || status.expiration !== undefined;
      if (counts && status.state === 'empty') ready = false;
    }
    return { ready, profiles };
  }

  /** Refreshes seconds-until-expiry gauges; called when /metrics is scraped. */
  updateExpiryGauges(now = Date.now()): void {
    for (const r of this.runtimes.values()) {
      const exp = r.refresher.status().expiration;
      if (exp)
        this.deps.metrics.expirySeconds.set({ profile: r.name }, Math.round((exp.getTime() - now) / 1000));
      else this.deps.metrics.expirySeconds.remove({ profile: r.name });
    }
  }

  private runtime(profile: string): ProfileRuntime {
    const r = this.runtimes.get(profile);
    if (!r) throw new Error(`unknown profile ${profile}`);
    return r;
  }

  private createRuntime(name: string, profile: Profile): ProfileRuntime {
    const runtime = {
      name,
      config: profile,
      source: createSource(name, profile.source),
      sts: resolveStsSettings(this.config.sts, profile.sts),
    } as ProfileRuntime;
    runtime.refresher = new Refresher({
      profile: name,
      fetch: () => this.fetch(runtime),
      timings: profile.refresh,
      clock: this.deps.clock,
      onEvent: (event) => this.record(runtime, event),
    });
    return runtime;
  }

  private async fetch(r: ProfileRuntime): Promise<AwsCredentials> {
    const proof = await r.source.getProof();
    return exchange({ profile: r.name, proof, role: r.config.role, sts: r.sts });
  }

  /** One log line and the metrics for every exchange, whatever its outcome. */
  private record(r: ProfileRuntime, event: RefreshEvent): void {
    const { logger, metrics } = this.deps;
    const labels = { profile: r.name, source: r.source.type };
    metrics.exchangeSeconds.observe(labels, event.durationMs / 1000);
    const base = {
      profile: r.name,
      source: r.source.type,
      role: r.config.role.arn,
      durationMs: event.durationMs,
    };
    if (event.type === 'refreshed') {
      metrics.exchanges.inc({ ...labels, outcome: 'success' });
      metrics.consecutiveFailures.set({ profile: r.name }, 0);
      logger.info(
        {
          ...base,
          outcome: 'success',
          expiration: event.credentials.expiration.toISOString(),
          nextRefreshAt: new Date(event.nextRefreshAt).toISOString(),
        },
        'credentials refreshed',
      );
    } else {
      metrics.exchanges.inc({ ...labels, outcome: event.error.code });
      metrics.consecutiveFailures.set({ profile: r.name }, event.failures);
      logger.warn(
        {
          ...base,
          outcome: event.error.code,
          retryable: event.error.retryable,
          failures: event.failures,
          retryAt: new Date(event.retryAt).toISOString(),
          servingStale: event.servingStale,
        },
        event.error.message,
      );
    }
  }
}
