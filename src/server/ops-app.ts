// The optional second listener (`metrics.listen`): /metrics, /healthz and /readyz only, so it can
// face Prometheus and kubelet probes on a non-loopback address. No credential route is registered
// here, and nothing on it needs the client token. The browser guard runs in its scraper form
// (guard.ts): any IP as Host, so Prometheus and probes that dial the pod or node IP pass.
import type { FastifyInstance } from 'fastify';
import type { Config, LimitsConfig } from '../config/schema/index.ts';
import { parseListen } from '../net.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { baseApp } from './base.ts';
import type { BrokerPort } from './broker-port.ts';
import { guardPlugin } from './guard.ts';
import { healthRoutes, metricsRoute } from './health-routes.ts';

export function buildOpsApp(opts: {
  broker: BrokerPort;
  /** metrics: its listen address and the extra Host names it answers to. */
  listener: Pick<Config['metrics'], 'listen' | 'hosts'>;
  /** server.limits: the same bounds as the credentials listener. */
  limits: LimitsConfig;
  logger: Logger;
  metrics: Metrics;
}): FastifyInstance {
  const { broker, logger, metrics } = opts;
  const { listen, hosts } = opts.listener;
  const app = baseApp({
    logger,
    metrics,
    limits: opts.limits,
    routesHint: 'this listener serves /metrics, /healthz and /readyz only',
  });
  guardPlugin(app, { listenHost: listen ? parseListen(listen).host : '127.0.0.1', hosts, scraper: true });
  app.register(async (scope) => {
    healthRoutes(scope, { broker });
    metricsRoute(scope, { broker, metrics });
  });
  return app;
}
