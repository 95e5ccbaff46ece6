// STS's answer (or Roles Anywhere's, in the same shape) as the AwsCredentials the broker serves:
// complete or refused, with the expiration moved onto this host's clock.
import type { Credentials as StsCredentials } from '@aws-sdk/client-sts';
import { StsError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import { serverDateOf } from './clients.ts';
import { mapStsError, type StsCallContext } from './errors.ts';
import type { ExchangeRequest } from './request.ts';
import { sendOptions } from './settings.ts';

export interface ResultOptions {
  profile: string;
  /** The role asked for; its account is the credentials' AccountId. */
  roleArn: string;
  /** The session length asked for: an expiration later than this from `startedAt` is not believed. */
  durationSeconds: number;
  /** The assumed-role ARN STS answered with. */
  assumedRoleArn: string | undefined;
  /** When the call was made (ms, this host's clock). */
  startedAt: number;
  /** The answer's Date header (ms, STS's clock), when it had one. */
  serverDate: number | undefined;
  /** When the answer arrived (ms, this host's clock). */
  receivedAt: number;
  /** Who answered, for the message of an incomplete answer. */
  service?: string;
}

export function toCredentials(c: StsCredentials | undefined, opts: ResultOptions): AwsCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw new StsError('STS_BAD_RESPONSE', `${opts.service ?? 'STS'} answered without complete credentials`, {
      profile: opts.profile,
      retryable: true,
    });
  }
  // STS's Expiration is on STS's clock; apps on this host compare it with ours. Shift it by the
  // skew measured from the response's Date header (1 s resolution, so ignore less than 2 s), and
  // never believe more than the duration we asked for, counted from when we asked.
  const skew = opts.serverDate === undefined ? 0 : opts.serverDate - opts.receivedAt;
  const local = c.Expiration.getTime() - (Math.abs(skew) >= 2000 ? skew : 0);
  const expiration = new Date(Math.min(local, opts.startedAt + opts.durationSeconds * 1000));
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration,
    accountId: opts.roleArn.split(':')[4],
    roleArn: opts.roleArn,
    assumedRoleArn: opts.assumedRoleArn,
    clockSkewMs: skew,
  };
}

/** What an AssumeRole* call answers that the broker keeps. */
interface AssumeOutput {
  Credentials?: StsCredentials | undefined;
  AssumedRoleUser?: { Arn?: string | undefined } | undefined;
}

/**
 * One AssumeRole* call, timed on this host's clock and bounded by sts.timeout: its answer as
 * AwsCredentials, or any failure as an StsError worded by `call.errors` (src/sts/errors.ts).
 * Each exchange builds its command; the timing, conversion and error mapping are the same for all.
 */
export async function assumeCall(
  req: ExchangeRequest,
  call: { roleArn: string; durationSeconds: number; errors: StsCallContext },
  send: (options: { abortSignal: AbortSignal }) => Promise<AssumeOutput>,
): Promise<AwsCredentials> {
  const now = req.now ?? Date.now;
  const startedAt = now();
  try {
    const out = await send(sendOptions(req.sts));
    return toCredentials(out.Credentials, {
      profile: req.profile,
      roleArn: call.roleArn,
      durationSeconds: call.durationSeconds,
      assumedRoleArn: out.AssumedRoleUser?.Arn,
      startedAt,
      serverDate: serverDateOf(out),
      receivedAt: now(),
    });
  } catch (err) {
    throw err instanceof StsError ? err : mapStsError(err, call.errors);
  }
}
