// GET /v1/credentials[/{profile}]: the ECS container-credentials contract every AWS SDK reads
// (docs/sdk-contract.md, Container endpoint). Client-token auth runs before the handler, as a
// preHandler hook (client-auth.ts); the answer's format is wire.ts's.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnavailableError } from '../errors.ts';
import type { BrokerPort } from './broker-port.ts';
import { type ClientAuthOptions, clientAuthHook, requestedProfile } from './client-auth.ts';
import type { ServedAudit } from './served-audit.ts';
import { errorSchema, sendCredentials, sendUnavailable } from './wire.ts';

const PROFILE_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
/** The credentials routes' paths, as the request metric names them. */
export const CREDENTIALS_ROUTE = '/v1/credentials';
export const PROFILE_ROUTE = '/v1/credentials/:profile';
const PROFILE_NAME = new RegExp(PROFILE_PATTERN);

/** The profile a credentials path names, when it is one exactly as the routes below match it
 * (no query, no encoding, no trailing slash); undefined for anything else. */
export function profileOfPath(url: string): string | undefined {
  if (url === CREDENTIALS_ROUTE) return 'default';
  if (!url.startsWith('/v1/credentials/')) return undefined;
  const name = url.slice('/v1/credentials/'.length);
  return PROFILE_NAME.test(name) ? name : undefined;
}

export interface CredentialsRouteOptions {
  broker: BrokerPort;
  auth: Omit<ClientAuthOptions, 'has' | 'refusals'>;
  /** The line per credential set and client when served (shared with fast-path.ts). */
  audit: ServedAudit;
}

export function credentialsRoutes(app: FastifyInstance, opts: CredentialsRouteOptions): void {
  const { broker, audit } = opts;
  // Refusals are summarised per client address (refusal-log.ts); serves are audited once per
  // credential set and client (served-audit.ts); never a secret.
  const { refusals } = app;
  app.addHook('preHandler', clientAuthHook({ ...opts.auth, has: (p) => broker.has(p), refusals }));

  const fetchAndSend = async (reply: FastifyReply, profile: string, remote: string) => {
    try {
      const c = await broker.credentials(profile);
      audit.served({ profile, remote }, c);
      return sendCredentials(reply, c);
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
      refusals.refused({ profile, remote, outcome: err.code }, 'credential request refused');
      return sendUnavailable(reply, err);
    }
  };
  // Held credentials are sent without a promise; only a fetch (or a wait for one) is awaited.
  const handler = (req: FastifyRequest, reply: FastifyReply) => {
    const profile = requestedProfile(req);
    const c = broker.cached(profile);
    if (c === undefined) return fetchAndSend(reply, profile, req.ip);
    audit.served({ profile, remote: req.ip }, c);
    return sendCredentials(reply, c);
  };

  const schema = {
    // 200 is the credentials JSON, serialized once per credential set (wire.ts), not here.
    response: { '4xx': errorSchema, '5xx': errorSchema },
  };
  app.get(CREDENTIALS_ROUTE, { schema }, handler);
  app.get(
    PROFILE_ROUTE,
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
