// GET /v1/credentials[/{profile}]: the ECS container-credentials contract every AWS SDK reads
// (docs/sdk-contract.md, Container endpoint). Client-token auth runs before the handler, as a
// preHandler hook (client-auth.ts); the answer's format is wire.ts's.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnavailableError } from '../errors.ts';
import { auditLogger, type Logger } from '../telemetry/logger.ts';
import type { BrokerPort } from './broker-port.ts';
import { type ClientAuthOptions, clientAuthHook, requestedProfile } from './client-auth.ts';
import { ServedAudit } from './served-audit.ts';
import { errorSchema, sendCredentials, sendUnavailable } from './wire.ts';

const PROFILE_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

export interface CredentialsRouteOptions {
  broker: BrokerPort;
  auth: Omit<ClientAuthOptions, 'has' | 'refusals'>;
  logger: Logger;
}

export function credentialsRoutes(app: FastifyInstance, opts: CredentialsRouteOptions): void {
  const { broker } = opts;
  // Audit: refusals (summarised per client address: refusal-log.ts), and a line per credential set
  // and client when served (never a secret).
  const audit = new ServedAudit(auditLogger(opts.logger));
  const { refusals } = app;
  app.addHook('preHandler', clientAuthHook({ ...opts.auth, has: (p) => broker.has(p), refusals }));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const profile = requestedProfile(req);
    const remote = req.ip;
    try {
      const c = broker.cached(profile) ?? (await broker.credentials(profile));
      audit.served({ profile, remote }, c);
      return sendCredentials(reply, c);
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
      refusals.refused({ profile, remote, outcome: err.code }, 'credential request refused');
      return sendUnavailable(reply, err);
    }
  };

  const schema = {
    // 200 is the credentials JSON, serialized once per credential set (wire.ts), not here.
    response: { '4xx': errorSchema, '5xx': errorSchema },
  };
  app.get('/v1/credentials', { schema }, handler);
  app.get(
    '/v1/credentials/:profile',
    {
      schema: {
        ...schema,
        params: {
          type: 'object',
          properties: { profile: { type: 'string', pattern: PROFILE_PATTERN } },
          required: ['profile'],
        },
      },
    },
    handler,
  );
}
