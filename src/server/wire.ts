// What the broker's listeners put on the wire, in one place: the error body, the ECS
// container-credentials JSON, the IMDS credentials JSON, and the 503 a client gets when no valid
// credentials are held (docs/sdk-contract.md).
import type { FastifyReply } from 'fastify';
import type { ErrorCode, UnavailableError } from '../errors.ts';
import { type AwsCredentials, formatExpiration } from '../model/credentials.ts';

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

/** No valid credentials (source failing, nothing left to serve): 503 and when to come back. */
export function sendUnavailable(reply: FastifyReply, err: UnavailableError): FastifyReply {
  reply.header('Retry-After', String(err.retryAfterSeconds ?? 1));
  return sendError(reply, 503, err.code, err.message);
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

// Credentials change only on refresh, so each set is serialized once, not on every request.
const serialized = new WeakMap<AwsCredentials, string>();

/** credentialsBody as JSON text, serialized once per credential set. */
export function credentialsJson(c: AwsCredentials): string {
  let json = serialized.get(c);
  if (json === undefined) {
    json = JSON.stringify(credentialsBody(c));
    serialized.set(c, json);
  }
  return json;
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
