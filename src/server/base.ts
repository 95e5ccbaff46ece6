// What every listener of the broker shares (credentials, IMDS): Node server limits, JSON errors
// instead of fastify's defaults, the request metric, and the hardening hooks.

import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { LimitsConfig } from '../config/schema/index.ts';
import { isLoopbackHost } from '../net.ts';
import { auditLogger, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { type Admission, hardeningPlugin } from './hardening.ts';
import { RefusalLog } from './refusal-log.ts';
import type { TlsMaterial } from './tls.ts';
import { sendError } from './wire.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This listener's refusal lines, summarised per client address (refusal-log.ts). */
    refusals: RefusalLog;
    /** This listener's admission rules (hardening.ts), for a path that answers outside fastify. */
    admission: Admission;
  }
}

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

/**
 * Closes a connection from a non-loopback address that already has `max` open. Loopback is left
 * to the total cap (server.maxConnections): every local app shares 127.0.0.1, so a cap by address
 * there would let one app's sockets starve all the others.
 */
export function perAddressLimit(max: number): (socket: Socket) => void {
  const open = new Map<string, number>();
  return (socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || isLoopbackHost(address.replace(/^::ffff:/, ''))) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  };
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
    // fastify's default is 72 s: idle sockets piled up until descriptors ran out.
    keepAliveTimeout: limits.keepAliveTimeout,
    connectionTimeout: limits.requestTimeout,
    routerOptions: { maxParamLength: 100 },
    bodyLimit: 1024,
    // The route schemas are the broker's own, fixed in code: checking them against JSON Schema's
    // meta-schema made ajv compile that meta-schema at every start (~25 ms, a tenth of the server's
    // start-up; docs/performance.md). Requests are still validated against them.
    ajv: { customOptions: { validateSchema: false } },
    return503OnClosing: true,
    ...(tls ? { https: { ...serverOptions, ...tls.options } } : { http: serverOptions }),
  });
  // Not a fastify option: the time a client has to send its headers (slowloris).
  app.server.headersTimeout = limits.headersTimeout;
  // Beyond it Node closes a new connection at once; the ones already open are still served.
  app.server.maxConnections = limits.maxConnections;
  app.server.on('connection', perAddressLimit(limits.maxConnectionsPerAddress));

  app.addHook('onResponse', (req, reply, done) => {
    metrics.countRequest(req.routeOptions.url ?? 'unmatched', reply.statusCode);
    done();
  });
  const refusals = new RefusalLog(auditLogger(logger));
  app.decorate('refusals', refusals);
  // Pending summaries are written at shutdown, not dropped.
  app.addHook('onClose', (_app, done) => {
    refusals.flush();
    done();
  });
  app.decorate('admission', hardeningPlugin(app, { limits, allow: opts.allow, refusals }));

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
