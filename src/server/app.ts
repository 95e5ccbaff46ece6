// The HTTP face of the broker: small encapsulated plugins, JSON schemas on routes, testable
// through app.inject() without opening a port. It sees the broker only through BrokerPort.
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config/schema/index.ts';
import { auditLogger, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { baseApp } from './base.ts';
import type { BrokerPort } from './broker-port.ts';
import type { ClientTokens } from './client-tokens.ts';
import { credentialsRoutes } from './credentials-routes.ts';
import { serveCachedFirst } from './fast-path.ts';
import { guardPlugin } from './guard.ts';
import { healthRoutes, metricsRoute } from './health-routes.ts';
import { ServedAudit } from './served-audit.ts';
import type { TlsMaterial } from './tls.ts';

export interface AppOptions {
  broker: BrokerPort;
  /** server: limits, allow-list (its listen, tls and token files are applied by the caller). */
  server: Pick<ServerConfig, 'limits' | 'allow'>;
  /** The client tokens in force; `serve` swaps them on reload. */
  tokens: () => ClientTokens;
  logger: Logger;
  metrics: Metrics;
  /** Host part of the listen address, accepted in the Host header besides loopback names. */
  listenHost: string;
  /** Serve https with this material (server.tls); its certificate's names are accepted as Host. */
  tls?: TlsMaterial;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const { broker, logger, metrics, tls } = opts;
  const { limits, allow } = opts.server;
  const app = baseApp({
    logger,
    metrics,
    limits,
    allow,
    tls,
    routesHint: 'credentials are at /v1/credentials/{profile}',
  });

  // Every route: health and metrics name profiles, expiry and error codes, which a rebinding page
  // must not read either.
  const guard = guardPlugin(app, { listenHost: opts.listenHost, hosts: tls?.names });
  // One audit for both ways a credential set is served, so each client gets one line per set.
  const audit = new ServedAudit(auditLogger(logger));
  app.register(async (scope) => {
    credentialsRoutes(scope, { broker, audit, auth: { tokens: opts.tokens, limits, metrics } });
  });
  serveCachedFirst(app, { broker, tokens: opts.tokens, guard, audit, metrics });
  app.register(async (scope) => {
    healthRoutes(scope, { broker });
    metricsRoute(scope, { broker, metrics });
  });
  return app;
}
