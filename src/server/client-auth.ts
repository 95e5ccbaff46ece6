// Client-token auth of the credentials routes, as a fastify preHandler hook (after the route's
// params are validated, before its handler). `serve` builds the ClientTokens from the config and
// swaps them on reload; the hook reads the current ones on every request.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify';
import type { LimitsConfig } from '../config/schema/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { ClientTokens, TokenCheck } from './client-tokens.ts';
import { FailedTokenLimiter } from './failed-tokens.ts';
import type { RefusalLog } from './refusal-log.ts';
import { sendError } from './wire.ts';

export interface ClientAuthOptions {
  /** The client tokens in force (replaced, not mutated, by a reload). */
  tokens: () => ClientTokens;
  /** Is the profile configured? Told only to a caller holding a valid token. */
  has: (profile: string) => boolean;
  limits: Pick<LimitsConfig, 'failedTokenMistakes' | 'failedTokenWindow'>;
  metrics: Metrics;
  /** Where refusals are logged (summarised per client address). */
  refusals: RefusalLog;
}

/** SDKs that predate AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE send no header at all when only it is set. */
const OLDER_SDKS =
  "; SDKs older than that variable (e.g. Debian 12's AWS CLI 2.9, botocore < 1.31) read only AWS_CONTAINER_AUTHORIZATION_TOKEN: set it to the file's contents";

/** The profile a credentials request asks for (`/v1/credentials` is "default"). */
export function requestedProfile(req: FastifyRequest): string {
  return (req.params as { profile?: string }).profile ?? 'default';
}

/**
 * Lets a request through only with a token that grants its profile. The token is checked before
 * the profile: whether a profile exists is told only to a caller holding a valid token (any
 * profile's), so that profile names cannot be listed without one. Wrong tokens count against the
 * caller's address (failed-tokens.ts): beyond the budget they get 429 instead of 401/403.
 */
export function clientAuthHook(opts: ClientAuthOptions): preHandlerHookHandler {
  const { metrics, refusals } = opts;
  const failures = new FailedTokenLimiter(opts.limits.failedTokenMistakes, opts.limits.failedTokenWindow);

  /** The answer to a verdict: done() lets the request through; a refusal is sent instead. */
  const decide = (
    req: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    tokens: ClientTokens,
    profile: string,
    verdict: TokenCheck,
  ): void => {
    const remote = req.ip;
    if (!opts.has(profile) && (verdict === 'ok' || verdict === 'other-profile')) {
      refusals.refused({ profile, remote, outcome: 'PROFILE_NOT_FOUND' }, 'credential request refused');
      sendError(reply, 404, 'PROFILE_NOT_FOUND', `no profile "${profile}" is configured`);
      return;
    }
    if (verdict === 'ok') {
      done();
      return;
    }
    metrics.authFailures.inc({ reason: verdict });
    const { mistakes, limited, retryAfterSeconds } = failures.fail(remote);
    // The token file's path goes to the log only: the caller is not authenticated.
    refusals.refused(
      {
        profile,
        remote,
        reason: verdict,
        mistakes,
        outcome: limited ? 'RATE_LIMITED' : verdict,
        tokenFile: tokens.fileFor(profile),
      },
      'credential request refused',
    );
    if (limited) {
      reply.header('Retry-After', String(retryAfterSeconds));
      sendError(
        reply,
        429,
        'TOO_MANY_FAILED_TOKENS',
        `too many requests with a wrong token from ${remote}; fix the app's AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (the broker's log names the file)`,
      );
      return;
    }
    if (verdict === 'other-profile') {
      sendError(reply, 403, 'TOKEN_NOT_FOR_PROFILE', `this token does not grant profile "${profile}"`);
      return;
    }
    sendError(
      reply,
      401,
      verdict === 'missing' ? 'TOKEN_MISSING' : 'TOKEN_INVALID',
      `send the broker's client token as the Authorization header (set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the token file the broker's log names)${verdict === 'missing' ? OLDER_SDKS : ''}`,
    );
  };

  // A callback hook, not an async one: a valid token is let through without a promise.
  return (req, reply, done) => {
    const profile = requestedProfile(req);
    const tokens = opts.tokens();
    const verdict = tokens.check(profile, req.headers.authorization);
    if (typeof verdict === 'string') return decide(req, reply, done, tokens, profile, verdict);
    verdict.then((v) => decide(req, reply, done, tokens, profile, v), done);
  };
}
