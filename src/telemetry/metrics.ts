import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type BrokerError, StsError } from '../errors.ts';
import type { Readiness } from '../model/status.ts';
import { buildInfo } from './build-info.ts';

/** All broker metrics, on a registry of their own so several brokers (tests) do not collide. */
export class Metrics {
  readonly registry = new Registry();

  /** Answers counted by countRequest() since the last read of `requests`: route → status → n. */
  private readonly answered = new Map<string, Map<number, number>>();

  /** Read it through the registry (a scrape): countRequest()'s counts are folded in then. */
  readonly requests = new Counter({
    name: 'credential_broker_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
    collect: () => this.foldAnswered(),
  });

  readonly exchanges = new Counter({
    name: 'credential_broker_exchanges_total',
    help: 'Credential fetches (source + STS), by profile, source type and outcome (success or an error code).',
    labelNames: ['profile', 'source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly exchangeSeconds = new Histogram({
    name: 'credential_broker_exchange_duration_seconds',
    help: 'Time to get credentials from the source and STS.',
    labelNames: ['profile', 'source'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly expirySeconds = new Gauge({
    name: 'credential_broker_credentials_expiry_seconds',
    help: 'Seconds until the credentials held for a profile expire (absent when none are held).',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly consecutiveFailures = new Gauge({
    name: 'credential_broker_refresh_failures',
    help: 'Consecutive failed refreshes per profile (0 when healthy).',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly clockSkew = new Gauge({
    name: 'credential_broker_sts_clock_skew_seconds',
    help: "STS's clock minus this host's, measured at the last exchange per profile.",
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly certificateExpirySeconds = new Gauge({
    name: 'credential_broker_certificate_expiry_seconds',
    help: 'Seconds until the client certificate of an x509 profile expires (as last read from disk).',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'credential_broker_auth_failures_total',
    help: 'Credential requests refused for a missing, wrong or other-profile token.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly fetchErrors = new Counter({
    name: 'credential_broker_fetch_errors_total',
    help: 'Failed credential fetches by profile, stage (source: the IdP or secret; sts: the exchange) and reason (the error code).',
    labelNames: ['profile', 'source', 'stage', 'reason'] as const,
    registers: [this.registry],
  });

  readonly credentialsFileWrites = new Counter({
    name: 'credential_broker_credentials_file_writes_total',
    help: "Writes of a profile's credentialsFile section, by outcome (success, or the error code): a failed write leaves the file's previous credentials to expire.",
    labelNames: ['profile', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly nextAttemptSeconds = new Gauge({
    name: 'credential_broker_refresh_next_attempt_seconds',
    help: 'Seconds until the next scheduled refresh or retry per profile (negative: overdue).',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly profileState = new Gauge({
    name: 'credential_broker_profile_state',
    help: '1 for the current state of each profile: ready (healthy), stale (valid, refresh failing, in backoff), empty (nothing valid to serve).',
    labelNames: ['profile', 'state'] as const,
    registers: [this.registry],
  });

  readonly reloads = new Counter({
    name: 'credential_broker_config_reloads_total',
    help: 'Config reloads (SIGHUP or file watch) by outcome: success or error.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly expiryTimestamp = new Gauge({
    name: 'credential_broker_credentials_expiry_timestamp_seconds',
    help: 'When the credentials held for a profile expire, in Unix seconds (absent when none are held): alert on time() - this without scrape-time arithmetic.',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiryTimestamp = new Gauge({
    name: 'credential_broker_certificate_expiry_timestamp_seconds',
    help: 'When the client certificate of an x509 profile expires, in Unix seconds (as last read from disk).',
    labelNames: ['profile'] as const,
    registers: [this.registry],
  });

  readonly buildInfo = new Gauge({
    name: 'credential_broker_build_info',
    help: 'Always 1; the labels say which build runs: package version, git commit, Node.js version.',
    labelNames: ['version', 'commit', 'node'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.buildInfo.set({ ...buildInfo() }, 1);
  }

  /**
   * Counts one HTTP answer. Every request calls this, so it is a Map bump: prom-client's inc()
   * builds and hashes a label string on each call (a measurable share of a cached answer's CPU);
   * the counts reach `requests` when it is read.
   */
  countRequest(route: string, status: number): void {
    let byStatus = this.answered.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.answered.set(route, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  private foldAnswered(): void {
    for (const [route, byStatus] of this.answered) {
      for (const [status, n] of byStatus) this.requests.inc({ route, status: String(status) }, n);
      byStatus.clear();
    }
  }

  /** Counts a failed fetch under the stage that failed: STS refusals apart from IdP/secret trouble. */
  countFailure(labels: { profile: string; source: string }, error: BrokerError): void {
    this.fetchErrors.inc({
      ...labels,
      stage: error instanceof StsError ? 'sts' : 'source',
      reason: error.code,
    });
  }

  /** Scrape-time gauges from the profiles' refresh state (reset first: removed profiles vanish). */
  updateProfileGauges(profiles: Readiness['profiles'], now = Date.now()): void {
    this.nextAttemptSeconds.reset();
    this.profileState.reset();
    for (const [profile, s] of Object.entries(profiles)) {
      if (s.nextAttemptAt !== undefined)
        this.nextAttemptSeconds.set({ profile }, Math.round((s.nextAttemptAt - now) / 1000));
      for (const state of ['ready', 'stale', 'empty'] as const)
        this.profileState.set({ profile, state }, s.state === state ? 1 : 0);
      if (s.expiration) {
        this.expirySeconds.set({ profile }, Math.round((s.expiration.getTime() - now) / 1000));
        this.expiryTimestamp.set({ profile }, s.expiration.getTime() / 1000);
      } else {
        this.expirySeconds.remove({ profile });
        this.expiryTimestamp.remove({ profile });
      }
    }
  }

  /** A profile removed by a reload: drop every per-profile gauge series it had. */
  forgetProfile(profile: string): void {
    for (const metric of this.registry.getMetricsAsArray()) {
      const labelNames = (metric as { labelNames?: string[] }).labelNames ?? [];
      if (metric instanceof Gauge && labelNames.length === 1 && labelNames[0] === 'profile')
        metric.remove({ profile });
    }
  }
}
