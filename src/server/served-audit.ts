// The audit trail of served credentials: which client address got which credential set (by its
// access key id, the identifier CloudTrail shows), for which profile.
import type { AwsCredentials } from '../model/credentials.ts';
import type { Logger } from '../telemetry/logger.ts';

/** Beyond this many client addresses for one credential set, every further serve is logged. */
const MAX_CLIENTS_PER_SET = 1024;

/**
 * One `credentials served` line the first time each client address gets each credential set,
 * not one per response: repeats add nothing an auditor can use (every local app shares
 * 127.0.0.1), yet an app that builds a new SDK client per request would write one line per
 * request, flood the journal and spend a fifth of each request's CPU time on it (measured).
 * credential_broker_http_requests_total still counts every response.
 */
export class ServedAudit {
  // Weak: a credential set replaced by a refresh takes its clients with it.
  private readonly clients = new WeakMap<AwsCredentials, Set<string>>();

  constructor(private readonly logger: Logger) {}

  served(fields: { profile: string; remote: string; via?: string }, c: AwsCredentials): void {
    let seen = this.clients.get(c);
    if (seen === undefined) {
      seen = new Set();
      this.clients.set(c, seen);
    }
    if (seen.has(fields.remote)) return;
    if (seen.size < MAX_CLIENTS_PER_SET) seen.add(fields.remote);
    this.logger.info(
      {
        ...fields,
        outcome: 'served',
        accessKeyId: c.accessKeyId,
        expiration: c.expiration.toISOString(),
      },
      'credentials served',
    );
  }
}
