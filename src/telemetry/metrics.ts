import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** All broker metrics, on a registry of their own so several brokers (tests) do not collide. */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'credential_broker_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
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

  readonly authFailures = new Counter({
    name: 'credential_broker_auth_failures_total',
    help: 'Credential requests refused for a missing, wrong or other-profile token.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
