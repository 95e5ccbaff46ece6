// Building blocks the sections share: durations, secret references, paths, URLs, names and
// listener addresses. They carry no description (`.meta`), so that each use has to say what it is for.
import { isIP } from 'node:net';
import * as z from 'zod';
import { REGION_PATTERN } from '../../model/region.ts';
import { isHttpsOrLoopback, parseListen } from '../../net.ts';
import { parseDuration } from '../duration.ts';
import { resolveFileRef } from './path.ts';

const DURATION_HELP = 'a duration such as 90s, 15m or 1h (or a number of seconds)';

/** The longest a Node timer waits (2^31-1 ms, 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function durationSchema(max: { ms: number; text: string }) {
  return z.union([z.number(), z.string()], { error: `expected ${DURATION_HELP}` }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not ${DURATION_HELP}` });
      return z.NEVER;
    }
    if (ms > max.ms) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is too long: this duration is at most ${max.text}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * A duration in config, normalised to milliseconds. Most become timers, and Node fires a longer
 * timer than 2^31-1 ms after 1 ms (with only a warning): `sts.timeout: 30d` would abort every STS
 * call at once, `backoff.max: 30d` retry in a loop.
 */
export const DurationSchema = durationSchema({ ms: MAX_TIMER_MS, text: '24d' });

/** A duration only compared with a certificate's remaining lifetime, never a timer: months are
 * normal there. */
export const ThresholdDurationSchema = durationSchema({ ms: 400 * 86_400_000, text: '400d' });

const REGION_ERROR = 'expected an AWS region, like us-east-1 or eu-west-1';
export const RegionSchema = z.string().regex(REGION_PATTERN, { error: REGION_ERROR });

/**
 * Where a secret lives. Secrets are never inline in the config file, so that the file can be
 * world-readable, versioned and shown in bug reports; each use re-reads the reference, so rotating
 * a secret needs no restart.
 */
export const SecretRefSchema = z
  .string({ error: 'expected a secret reference: file:/path, env:NAME or credential:NAME' })
  .regex(/^(file|env|credential):.+$/, {
    error:
      'secrets are never written inline: use file:/path/to/secret, env:VARIABLE or credential:NAME (a systemd LoadCredential= name)',
  })
  .transform(resolveFileRef);

/** Text that may be a secret reference (a SAML login form field): a `file:` path in it resolves
 * like any other. */
export const TextOrSecretRefSchema = z.string().transform(resolveFileRef);

export const PROFILE_NAME_HELP = 'profile names use letters, digits, "_", "." and "-" (at most 64)';
export const ProfileNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: PROFILE_NAME_HELP });

/** Credentials and client secrets cross these URLs, so plain http is only allowed to loopback (tests, emulators). */
export const HttpUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .refine(httpOnlyToLoopback, {
    error: 'use https: plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost)',
  });

/** zod runs this refinement even when the URL check failed: it must not throw on a non-URL
 * (that escaped as an exit-1 "Invalid URL" naming neither file nor setting), and it leaves
 * non-http values to the URL check's one message. */
function httpOnlyToLoopback(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return true;
  }
  return url.protocol !== 'http:' || isHttpsOrLoopback(url);
}

/** A listener address. */
export const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: 'expected HOST:PORT, like 127.0.0.1:9911',
  })
  .refine((l) => parseListen(l).port <= 65_535, { error: 'the port must be 0..65535 (0 picks a free one)' });

/** Source addresses allowed to connect, as IPs or CIDRs (`10.0.0.0/8`, `::1/128`); absent = any. */
export const AllowListSchema = z
  .array(z.string().refine(isCidr, { error: 'expected an IP address or CIDR, like 10.0.0.0/8 or ::1/128' }))
  .min(1, { error: 'an empty allow-list would refuse everyone: remove it to allow any address' });

/** "10.0.0.0/8", "::1/128" or a bare address. */
function isCidr(text: string): boolean {
  const [ip, prefix, ...rest] = text.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
