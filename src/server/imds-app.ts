// The IMDSv2 listener: its own fastify app and port (off unless `imds:` is configured), with the
// same limits and browser/rebinding guard as the credentials listener.
import type { FastifyInstance } from 'fastify';
import type { ImdsConfig, LimitsConfig } from '../config/schema/index.ts';
import { parseListen } from '../net.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { baseApp } from './base.ts';
import type { BrokerPort } from './broker-port.ts';
import { guardPlugin } from './guard.ts';
import { imdsRoutes } from './imds-routes.ts';

export function buildImdsApp(opts: {
  broker: BrokerPort;
  imds: ImdsConfig;
  /** server.limits: the same bounds as the credentials listener. */
  limits: LimitsConfig;
  logger: Logger;
  metrics: Metrics;
}): FastifyInstance {
  const { broker, imds, logger, metrics } = opts;
  const app = baseApp({
    logger,
    metrics,
    limits: opts.limits,
    allow: imds.allow,
    routesHint: 'credentials are at /latest/meta-data/iam/security-credentials/',
  });
  // EC2 ignores a request's body and its Content-Type, and SDKs send either (Python's urllib
  // sends application/x-www-form-urlencoded with any PUT body); no IMDS route reads a body, so
  // every type is accepted and the body (still within bodyLimit) dropped, instead of a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
  guardPlugin(app, { listenHost: parseListen(imds.listen).host });
  imdsRoutes(app, { broker, imds, logger });
  return app;
}
