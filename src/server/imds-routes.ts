// IMDSv2, as much of it as the SDKs' instance-metadata credential providers use
// (docs/sdk-contract.md, IMDSv2 listener): a session token from PUT /latest/api/token,
// then the one role name and its credentials, on the legacy and the "extended" path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImdsConfig } from '../config/schema/index.ts';
import { UnavailableError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import { auditLogger, type Logger } from '../telemetry/logger.ts';
import type { BrokerPort } from './broker-port.ts';
import { ImdsTokenStore, imdsTokensPerAddress } from './imds-tokens.ts';
import { ServedAudit } from './served-audit.ts';
import { imdsCredentialsBody, imdsCredentialsSchema, sendError, sendUnavailable } from './wire.ts';

/** botocore stretches IMDS credentials with <= 15 min + 2..10 min jitter left by 17–25 min, past
 * their real expiry; so while the source is healthy IMDS serves more than 25 min. */
export const IMDS_MIN_REMAINING_MS = 25 * 60_000;

const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
/** EC2's bounds for the requested TTL. */
const MAX_TTL_SECONDS = 21_600;

/** Serialised by the response schema: nothing beyond the IMDS fields can leave the route. */
const IMDS_CREDENTIALS_SCHEMA = {
  params: { type: 'object', properties: { name: { type: 'string', maxLength: 128 } }, required: ['name'] },
  response: { 200: imdsCredentialsSchema },
} as const;

/** The name listed under security-credentials/: the role's name, as on EC2. */
export function imdsRoleName(broker: BrokerPort, imds: ImdsConfig): string {
  // imds.profile names a configured profile: the config schema refuses anything else.
  return broker.roleArn(imds.profile).split('/').pop() as string;
}

export function imdsRoutes(
  app: FastifyInstance,
  opts: { broker: BrokerPort; imds: ImdsConfig; logger: Logger },
): void {
  const { broker, imds } = opts;
  const logger = auditLogger(opts.logger);
  const audit = new ServedAudit(logger);
  const roleName = imdsRoleName(broker, imds);
  // Half the store per client address: a flood from one address leaves room for everyone else's
  // tokens, while 127.0.0.1, where nearly all local apps come from, can still hold many.
  const tokens = new ImdsTokenStore(imds.maxTokens, Date.now, imdsTokensPerAddress(imds.maxTokens));
  const { refusals } = app;
  const maxTtl = Math.min(MAX_TTL_SECONDS, Math.floor(imds.tokenTtlMax / 1000));
  // LastUpdated: when these credentials were first handed out here (no SDK reads it).
  const firstServed = new WeakMap<AwsCredentials, Date>();

  app.addHook('onRequest', async (req, reply) => {
    // As EC2: a token must not be obtainable through a proxy or a forwarding container runtime.
    if (req.headers['x-forwarded-for'] !== undefined) {
      refusals.refused({ remote: req.ip, outcome: 'FORWARDED_REFUSED' }, 'IMDS request refused');
      return sendError(reply, 403, 'FORWARDED_REFUSED', 'IMDS requests must not carry X-Forwarded-For');
    }
  });

  app.put('/latest/api/token', async (req, reply) => {
    const raw = req.headers[TTL_HEADER];
    const requested = typeof raw === 'string' && /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(requested >= 1 && requested <= MAX_TTL_SECONDS)) {
      return sendError(
        reply,
        400,
        'BAD_TTL',
        `send ${TTL_HEADER} with a number of seconds between 1 and ${MAX_TTL_SECONDS}`,
      );
    }
    const ttl = Math.min(requested, maxTtl);
    // Go's SDK refuses a token without this header (it caches the token for this long).
    reply.header(TTL_HEADER, String(ttl));
    return reply.header('cache-control', 'no-store').type('text/plain').send(tokens.issue(ttl, req.ip));
  });

  const authorized = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const token = req.headers[TOKEN_HEADER];
    if (tokens.valid(typeof token === 'string' ? token : undefined)) return true;
    if (token === undefined && imds.allowV1) return true;
    refusals.refused(
      { profile: imds.profile, remote: req.ip, outcome: 'IMDS_TOKEN_INVALID' },
      'IMDS request refused',
    );
    sendError(
      reply,
      401,
      'IMDS_TOKEN_INVALID',
      `get a session token with PUT /latest/api/token and send it as ${TOKEN_HEADER}`,
    );
    return false;
  };

  for (const base of [
    '/latest/meta-data/iam/security-credentials',
    '/latest/meta-data/iam/security-credentials-extended',
  ]) {
    // Exactly the name, no newline: botocore takes the raw body as the role name.
    app.get(`${base}/`, async (req, reply) => {
      if (!authorized(req, reply)) return reply;
      return reply.type('text/plain').send(roleName);
    });
    app.get<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: IMDS_CREDENTIALS_SCHEMA },
      async (req, reply) => {
        if (!authorized(req, reply)) return reply;
        if (req.params.name !== roleName) {
          return sendError(
            reply,
            404,
            'NOT_FOUND',
            `no role "${req.params.name}" here; the role is "${roleName}"`,
          );
        }
        const remote = req.ip;
        try {
          const c =
            broker.cached(imds.profile, IMDS_MIN_REMAINING_MS) ??
            (await broker.credentials(imds.profile, IMDS_MIN_REMAINING_MS));
          if (!firstServed.has(c)) firstServed.set(c, new Date());
          audit.served({ profile: imds.profile, remote, via: 'imds' }, c);
          reply.header('cache-control', 'no-store');
          return imdsCredentialsBody(c, firstServed.get(c) as Date);
        } catch (err) {
          if (!(err instanceof UnavailableError)) throw err;
          refusals.refused(
            { profile: imds.profile, remote, outcome: err.code, via: 'imds' },
            'credential request refused',
          );
          return sendUnavailable(reply, err);
        }
      },
    );
  }
}
