// Config section `profiles.NAME.refresh`: when to refresh and how to back off; its defaults are
// the only ones (src/cache/refresher.ts takes them from the parsed config).
import * as z from 'zod';
import { DurationSchema } from './common.ts';

/**
 * When to refresh. Defaults come from how the SDKs consume the endpoint
 * (docs/sdk-contract.md, Container endpoint, "refreshes when left"): botocore re-fetches on every call once less than
 * 15 min remain, so what we serve keeps more than `minRemaining` (20 min) while the source is
 * healthy, and we start refreshing `before` (30 min, plus up to `jitter` of it) ahead of expiry,
 * which leaves ~10 min of retries before the floor is reached.
 */
export const RefreshSchema = z
  .strictObject({
    before: DurationSchema.default(30 * 60_000).meta({
      description:
        'Start refreshing this long before the credentials expire (plus up to `jitter` of it), leaving time for retries before `minRemaining` is reached.',
    }),
    minRemaining: DurationSchema.default(20 * 60_000).meta({
      description:
        "While the source is healthy, never serve credentials with less than this left (a request waits for the refresh). Above botocore's 15 min, below which it re-fetches on every call; must be shorter than `before`.",
    }),
    jitter: z.number().min(0).max(1).default(0.1).meta({
      description:
        'Up to this share of `before` is added at random (0..1), so that many brokers and profiles do not call STS in lockstep.',
    }),
    backoff: z
      .strictObject({
        initial: DurationSchema.default(1000).meta({
          description:
            'A failed fetch is retried after a random wait of up to this long, the cap doubling per failure ("full jitter").',
        }),
        max: DurationSchema.default(5 * 60_000).meta({
          description:
            'Cap on the retry wait; permanent errors (rejected client, AccessDenied) wait 50–100% of it, so a fix at the IdP or in IAM needs no restart.',
        }),
      })
      .prefault({})
      .meta({ description: 'Retry timing after a failed fetch; a `Retry-After` from upstream is honoured.' }),
  })
  .refine((r) => r.minRemaining < r.before, {
    error:
      'refresh.minRemaining must be shorter than refresh.before (the refresh must start before the floor)',
  });
