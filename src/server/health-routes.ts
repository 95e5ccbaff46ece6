import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../telemetry/metrics.ts';
import type { BrokerPort } from './broker-port.ts';

/** /healthz: the process answers. /readyz: every profile that must be ready holds valid credentials. */
export function healthRoutes(app: FastifyInstance, opts: { broker: Pick<BrokerPort, 'readiness'> }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready, profiles } = opts.broker.readiness();
    const body: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(profiles)) {
      body[name] = {
        state: s.state,
        lazy: s.lazy,
        expiration: s.expiration?.toISOString(),
        failures: s.failures,
        lastError: s.lastError?.code,
      };
    }
    return reply.code(ready ? 200 : 503).send({ ready, profiles: body });
  });
}

export function metricsRoute(
  app: FastifyInstance,
  opts: { broker: Pick<BrokerPort, 'readiness'>; metrics: Metrics },
): void {
  app.get('/metrics', async (_req, reply) => {
    opts.metrics.updateProfileGauges(opts.broker.readiness().profiles);
    return reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
  });
}
