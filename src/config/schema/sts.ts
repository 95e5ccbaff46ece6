// Config section `sts` (top level and per profile): how STS is called.
import * as z from 'zod';
import { DurationSchema, HttpUrlSchema, RegionSchema } from './common.ts';

/** STS client settings; on the top level they are the default for every profile. The run-time
 * defaults (`defaultText`) are applied by resolveStsSettings in src/sts/request.ts (the region and
 * endpoint may come from the environment, so they cannot be the schema's); the reference test
 * checks that they agree. */
export const StsSettingsSchema = z.strictObject({
  region: RegionSchema.optional().meta({
    description:
      'AWS region whose regional STS endpoint (sts.REGION.amazonaws.com) is called; us-east-1 is also what the global endpoint means.',
    defaultText: '`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`',
    examples: ['eu-west-1'],
  }),
  endpoint: HttpUrlSchema.optional().meta({
    description:
      'STS endpoint URL to call instead of the regional one: an STS VPC endpoint, or a test emulator. https only (plain http only to a loopback address).',
    defaultText:
      '`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL` (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional endpoint',
    examples: ['https://vpce-0abc-123.sts.eu-west-1.vpce.amazonaws.com'],
  }),
  timeout: DurationSchema.optional().meta({
    description:
      'Bound on one STS call, so that a hung connection cannot stall a refresh (the refresh is then retried with backoff).',
    defaultText: '`10s`',
  }),
  useFipsEndpoint: z.boolean().optional().meta({
    description: "Call the region's FIPS 140 endpoint, sts-fips.REGION.amazonaws.com.",
    defaultText: '`false`',
  }),
  clockSkewTolerance: DurationSchema.optional().meta({
    description:
      "Log a warning when STS's clock and this host's differ by more than this (the skew is a metric either way). Served expirations are corrected for the skew; beyond 15 min SigV4 signing itself fails.",
    defaultText: '`5m`',
  }),
});
