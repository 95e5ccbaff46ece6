// The warm credentials GET without fastify: almost every request an SDK makes asks for credentials
// the broker already holds, and fastify's request and reply objects, hook runs and schema check
// cost that answer about as much again as the answer itself (docs/performance.md). This listener
// runs first on the credentials server and answers such a request at once, synchronously, after
// the same checks fastify's hooks make; every other request (a refusal, an error, credentials not
// held, another route, HEAD, a query string) goes on to fastify untouched, which answers it as
// before. So the fast path only ever answers 200, and only when fastify would have too.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../telemetry/metrics.ts';
import type { BrokerPort } from './broker-port.ts';
import type { ClientTokens } from './client-tokens.ts';
import { CREDENTIALS_ROUTE, PROFILE_ROUTE, profileOfPath } from './credentials-routes.ts';
import type { HostGuard } from './guard.ts';
import type { ServedAudit } from './served-audit.ts';
import { credentialsAnswer } from './wire.ts';

export interface FastPathOptions {
  broker: BrokerPort;
  tokens: () => ClientTokens;
  /** The listener's Host and browser guard (the one its onRequest hook runs). */
  guard: HostGuard;
  audit: ServedAudit;
  metrics: Metrics;
}

/** Puts the fast path in front of `app`'s own request listener. Call before `app.listen()`. */
export function serveCachedFirst(app: FastifyInstance, opts: FastPathOptions): void {
  const { broker, guard, audit, metrics } = opts;
  const { admission } = app;
  // fastify attaches its listener when it creates the server; anything else would be a new
  // fastify version wiring itself differently, which must not go unnoticed.
  const listeners = app.server.listeners('request') as RequestListener[];
  if (listeners.length !== 1)
    throw new Error(`expected fastify's one request listener, found ${listeners.length}`);
  const fastify = listeners[0] as RequestListener;
  // Shutting down: fastify answers 503 (return503OnClosing) and closes connections.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  /** Answers `req` with held credentials and returns true, or returns false and touches nothing. */
  const answer = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (closing || req.method !== 'GET') return false;
    const url = req.url ?? '';
    const profile = profileOfPath(url);
    const remote = req.socket.remoteAddress;
    if (profile === undefined || remote === undefined) return false;
    // The order of fastify's hooks: admission (hardening.ts), guard, then client-token auth.
    if (admission.refusal(remote, url) !== undefined || guard(req) !== undefined) return false;
    if (!opts.tokens().grants(profile, req.headers.authorization) || !broker.has(profile)) return false;
    const c = broker.cached(profile);
    if (c === undefined) return false;
    // Answered within this call, so it never counts as in progress (admission's in-flight cap is
    // for requests that wait on a fetch).
    audit.served({ profile, remote }, c);
    const { json, length } = credentialsAnswer(c);
    res.writeHead(200, {
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': length,
    });
    // A string, not the Buffer: Node sends the headers and a string body in one write(), while a
    // Buffer body goes out as a writev() of two (the largest share of a warm answer's CPU, profiled).
    res.end(json);
    metrics.countRequest(url === CREDENTIALS_ROUTE ? CREDENTIALS_ROUTE : PROFILE_ROUTE, 200);
    return true;
  };

  app.server.removeListener('request', fastify);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!answer(req, res)) fastify(req, res);
  });
}
