// GET /v1/credentials[/{profile}]: the ECS container-credentials contract every AWS SDK reads
// (docs/sdk-contract.md, Container endpoint).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../broker.ts';
import { UnavailableError } from '../errors.ts';
import { type AwsCredentials, formatExpiration } from '../model/credentials.ts';
import { auditLogger, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { sendError } from './errors.ts';
import { FailedTokenLimiter } from './failed-tokens.ts';
import { ServedAudit } from './served-audit.ts';

const PROFILE_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export interface CredentialsRouteOptions {
  broker: Broker;
  metrics: Metrics;
  logger: Logger;
}

/** SDKs that predate AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE send no header at all when only it is set. */
const OLDER_SDKS =
  "; SDKs older than that variable (e.g. Debian 12's AWS CLI 2.9, botocore < 1.31) read only AWS_CONTAINER_AUTHORIZATION_TOKEN: set it to the file's contents";

/** The ECS container-credentials JSON (also the core of the IMDS answer). */
export function credentialsBody(c: AwsCredentials) {
  return {
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: formatExpiration(c.expiration),
    AccountId: c.accountId,
    RoleArn: c.roleArn,
  };
}

// Credentials change only on refresh, so each set is serialized once, not on every request.
const serialized = new WeakMap<AwsCredentials, string>();
function credentialsJson(c: AwsCredentials): string {
  let json = serialized.get(c);
  if (json === undefined) {
    json = JSON.stringify(credentialsBody(c));
    serialized.set(c, json);
  }
  return json;
}

export function credentialsRoutes(app: FastifyInstance, opts: CredentialsRouteOptions): void {
  const { broker, metrics } = opts;
  const logger = auditLogger(opts.logger);
  const { failedTokenMistakes, failedTokenWindow } = broker.config.server.limits;
  const failures = new FailedTokenLimiter(failedTokenMistakes, failedTokenWindow);
  const audit = new ServedAudit(logger);

  // Audit: a line per refused request, and per credential set and client when served (never a secret).
  const handler = async (req: FastifyRequest<{ Params: { profile?: string } }>, reply: FastifyReply) => {
    const profile = req.params.profile ?? 'default';
    const remote = req.ip;
    const verdict = await broker.tokens.check(profile, req.headers.authorization);
    // The token first: whether a profile exists is told only to a caller holding a valid token
    // (any profile's), so that profile names cannot be listed without one.
    if (!broker.has(profile) && (verdict === 'ok' || verdict === 'other-profile')) {
      logger.warn({ profile, remote, outcome: 'PROFILE_NOT_FOUND' }, 'credential request refused');
      return sendError(reply, 404, 'PROFILE_NOT_FOUND', `no profile "${profile}" is configured`);
    }
    if (verdict !== 'ok') {
      metrics.authFailures.inc({ reason: verdict });
      const { mistakes, limited, retryAfterSeconds } = failures.fail(remote);
      // The token file's path goes to the log only: the caller is not authenticated.
      logger.warn(
        {
          profile,
          remote,
          reason: verdict,
          mistakes,
          outcome: limited ? 'RATE_LIMITED' : verdict,
          tokenFile: broker.tokens.fileFor(profile),
        },
        'credential request refused',
      );
      if (limited) {
        reply.header('Retry-After', String(retryAfterSeconds));
        return sendError(
          reply,
          429,
          'TOO_MANY_FAILED_TOKENS',
          `too many requests with a wrong token from ${remote}; fix the app's AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (the broker's log names the file)`,
        );
      }
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
        `send the broker's client token as the Authorization header (set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the token file the broker's log names)${verdict === 'missing' ? OLDER_SDKS : ''}`,
      );
    }
    try {
      const c = await broker.credentials(profile);
      audit.served({ profile, remote }, c);
      return reply
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(credentialsJson(c));
    } catch (err) {
      if (err instanceof UnavailableError) {
        logger.warn({ profile, remote, outcome: err.code }, 'credential request refused');
        reply.header('Retry-After', String(err.retryAfterSeconds ?? 1));
        return sendError(reply, 503, err.code, err.message);
      }
      throw err;
    }
  };

  const schema = {
    // 200 is the credentials JSON, serialized once per credential set (credentialsJson), not here.
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
