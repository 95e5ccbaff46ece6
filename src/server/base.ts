// What every listener of the broker shares (credentials, IMDS): Node server limits, JSON errors
// instead of fastify's defaults, the request metric, and the hardening hooks.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { LimitsConfig } from '../config/schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { sendError } from './errors.ts';
import { hardeningPlugin } from './hardening.ts';
import type { TlsMaterial } from './tls.ts';

export interface BaseAppOptions {
  logger: Logger;
  metrics: Metrics;
  limits: LimitsConfig;
  /** Source addresses/CIDRs allowed to connect; undefined = any. */
  allow?: readonly string[];
  tls?: TlsMaterial;
  /** Appended to the 404 message: where the real routes are. */
  routesHint: string;
}

export function baseApp(opts: BaseAppOptions): FastifyInstance {
  const { logger, metrics, limits, tls } = opts;
  // maxHeaderSize covers the request line too; Node answers 431 past it (fastify's clientError).
  // connectionsCheckingInterval: Node enforces headers/request timeouts only this often (30 s by
  // default), which would let a slow client hold a connection for far longer than the limit; a
  // quarter of headersTimeout answers the 408 well before the socket's own connection timeout.
  const serverOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeout / 4),
  };
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One audit line per credential response is written by the routes; a line per request is noise.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (a reqId binding): building one runs the redaction paths over
    // its bindings on every request, which cost ~40% of the listener's throughput (measured).
    childLoggerFactory: (logger) => logger,
    requestTimeout: limits.requestTimeout,
    connectionTimeout: limits.requestTimeout,
    routerOptions: { maxParamLength: 100 },
    bodyLimit: 1024,
    return503OnClosing: true,
    ...(tls ? { https: { ...serverOptions, ...tls.options } } : { http: serverOptions }),
  });
  // Not a fastify option: the time a client has to send its headers (slowloris).
  app.server.headersTimeout = limits.headersTimeout;

  app.addHook('onResponse', (req, reply, done) => {
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    done();
  });
  hardeningPlugin(app, { limits, allow: opts.allow, logger });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}; ${opts.routesHint}`),
  );
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, req, reply) => {
    if (err.validation) return sendError(reply, 400, 'BAD_REQUEST', err.message);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'BAD_REQUEST', err.message);
    }
    req.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'INTERNAL', 'internal error; see the broker log');
  });
  return app;
}
