// GET /v1/credentials[/{profile}]: the ECS container-credentials contract every AWS SDK reads
// (shared/reference/sdk-credential-contract.md §3–4).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../broker.ts';
import { UnavailableError } from '../errors.ts';
import { formatExpiration } from '../sts/credentials.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { sendError } from './errors.ts';

const PROFILE_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

const credentialsSchema = {
  type: 'object',
  required: ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'],
  properties: {
    AccessKeyId: { type: 'string' },
    SecretAccessKey: { type: 'string' },
    Token: { type: 'string' },
    Expiration: { type: 'string' },
    AccountId: { type: 'string' },
    RoleArn: { type: 'string' },
  },
} as const;

const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export interface CredentialsRouteOptions {
  broker: Broker;
  metrics: Metrics;
  logger: Logger;
}

export function credentialsRoutes(app: FastifyInstance, opts: CredentialsRouteOptions): void {
  const { broker, metrics, logger } = opts;

  const handler = async (req: FastifyRequest<{ Params: { profile?: string } }>, reply: FastifyReply) => {
    const profile = req.params.profile ?? 'default';
    if (!broker.has(profile)) {
      return sendError(reply, 404, 'PROFILE_NOT_FOUND', `no profile "${profile}" is configured`);
    }
    const verdict = await broker.tokens.check(profile, req.headers.authorization);
    if (verdict !== 'ok') {
      metrics.authFailures.inc({ reason: verdict });
      logger.warn({ profile, reason: verdict, remote: req.ip }, 'credential request refused');
      if (verdict === 'other-profile') {
        return sendError(
          reply,
          403,
          'TOKEN_NOT_FOR_PROFILE',
          `this token does not grant profile "${profile}"`,
        );
      }
      return sendError(
        reply,
        401,
        verdict === 'missing' ? 'TOKEN_MISSING' : 'TOKEN_INVALID',
        `send the broker's client token as the Authorization header (set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${broker.tokens.fileFor(profile)})`,
      );
    }
    try {
      const c = await broker.credentials(profile);
      return {
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: formatExpiration(c.expiration),
        AccountId: c.accountId,
        RoleArn: c.roleArn,
      };
    } catch (err) {
      if (err instanceof UnavailableError) {
        reply.header('Retry-After', String(err.retryAfterSeconds ?? 1));
        return sendError(reply, 503, err.code, err.message);
      }
      throw err;
    }
  };

  const schema = {
    response: { 200: credentialsSchema, '4xx': errorSchema, '5xx': errorSchema },
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
