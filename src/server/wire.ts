// What the broker's listeners put on the wire, in one place: the error body, the ECS
// container-credentials JSON, the IMDS credentials JSON, and the 503 a client gets when no valid
// credentials are held (docs/sdk-contract.md).
import type { FastifyReply } from 'fastify';
import { describeError, type ErrorCode, type UnavailableError } from '../errors.ts';
import { type AwsCredentials, formatExpiration } from '../model/credentials.ts';
import type { RefusalLog } from './refusal-log.ts';

/** A request refused before any route runs (hardening.ts, guard.ts): what to answer and log. */
export interface Refusal {
  status: number;
  /** The error code, also the refusal line's outcome. */
  code: ErrorCode;
  message: string;
  /** More fields for the refusal line. */
  fields?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** Logs a refusal (summarised per address: refusal-log.ts) and answers it. */
export function sendRefusal(reply: FastifyReply, refusals: RefusalLog, remote: string, r: Refusal): void {
  refusals.refused({ remote, outcome: r.code, ...r.fields }, 'request refused');
  if (r.retryAfterSeconds !== undefined) reply.header('Retry-After', String(r.retryAfterSeconds));
  sendError(reply, r.status, r.code, r.message);
}

/** Every error body is `{"code","message"}`: Go's SDK parses exactly that when Content-Type is application/json. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
): FastifyReply {
  return reply.code(status).type('application/json').send({ code, message });
}

/** Response schema of an error body (4xx/5xx of a route with a schema). */
export const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

/** No valid credentials (source failing, nothing left to serve): 503 and when to come back; the
 * message names the profile, as every error rendered for a client or an operator does. */
export function sendUnavailable(reply: FastifyReply, err: UnavailableError): FastifyReply {
  reply.header('Retry-After', String(err.retryAfterSeconds ?? 1));
  return sendError(reply, 503, err.code, describeError(err));
}

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

/** A credentials body ready to send: the JSON text, and its bytes for a raw response. */
interface CredentialsAnswer {
  json: string;
  body: Buffer;
  length: number;
}

// Credentials change only on refresh, so each set is serialized once, not on every request.
const serialized = new WeakMap<AwsCredentials, CredentialsAnswer>();

/** credentialsBody serialized, once per credential set. */
export function credentialsAnswer(c: AwsCredentials): CredentialsAnswer {
  let answer = serialized.get(c);
  if (answer === undefined) {
    const json = JSON.stringify(credentialsBody(c));
    const body = Buffer.from(json);
    answer = { json, body, length: body.length };
    serialized.set(c, answer);
  }
  return answer;
}

/** credentialsBody as JSON text, serialized once per credential set. */
export function credentialsJson(c: AwsCredentials): string {
  return credentialsAnswer(c).json;
}

/** A credentials answer: never cached by anything between the broker and the SDK. */
export function sendCredentials(reply: FastifyReply, c: AwsCredentials): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(credentialsJson(c));
}

/** The IMDS credentials JSON: the container body plus EC2's Code, LastUpdated and Type. */
export function imdsCredentialsBody(c: AwsCredentials, lastUpdated: Date) {
  return {
    Code: 'Success',
    LastUpdated: formatExpiration(lastUpdated),
    Type: 'AWS-HMAC',
    ...credentialsBody(c),
  };
}

const str = { type: 'string' } as const;

/** Serialised by this schema: nothing beyond these fields can leave the IMDS credentials route. */
export const imdsCredentialsSchema = {
  type: 'object',
  required: ['Code', 'LastUpdated', 'Type', 'AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'],
  properties: {
    Code: str,
    LastUpdated: str,
    Type: str,
    AccessKeyId: str,
    SecretAccessKey: str,
    Token: str,
    Expiration: str,
    AccountId: str,
    RoleArn: str,
  },
} as const;
