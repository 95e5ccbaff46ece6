// The HTTP face of the broker: small encapsulated plugins, JSON schemas on routes, testable
// through app.inject() without opening a port.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Broker } from '../broker.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { credentialsRoutes } from './credentials-routes.ts';
import { sendError } from './errors.ts';
import { guardPlugin } from './guard.ts';
import { healthRoutes, metricsRoute } from './health-routes.ts';

export interface AppOptions {
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  /** Host part of the listen address, accepted in the Host header besides loopback names. */
  listenHost: string;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const { broker, logger, metrics } = opts;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Exchanges and refusals are logged by the broker itself; a line per served request is noise.
    logController: new LogController({ disableRequestLogging: true }),
    // SDKs time out after 1–2 s; a client that takes longer to send headers is not an SDK.
    requestTimeout: 10_000,
    connectionTimeout: 10_000,
    routerOptions: { maxParamLength: 100 },
    bodyLimit: 1024,
    return503OnClosing: true,
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      404,
      'NOT_FOUND',
      `no route ${req.method} ${req.url.split('?')[0]}; credentials are at /v1/credentials/{profile}`,
    ),
  );
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, req, reply) => {
    if (err.validation) return sendError(reply, 400, 'BAD_REQUEST', err.message);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'BAD_REQUEST', err.message);
    }
    req.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'INTERNAL', 'internal error; see the broker log');
  });

  app.register(async (scope) => {
    guardPlugin(scope, { listenHost: opts.listenHost });
    credentialsRoutes(scope, { broker, metrics, logger });
  });
  app.register(async (scope) => {
    healthRoutes(scope, { broker });
    metricsRoute(scope, { broker, metrics });
  });
  return app;
}
