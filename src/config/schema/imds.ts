// Config section `imds`: the IMDSv2 emulation listener.
import * as z from 'zod';
import { isLoopbackHost, parseListen } from '../../net.ts';
import { AllowListSchema, DurationSchema, HostPortSchema, ProfileNameSchema } from './common.ts';

/**
 * IMDSv2 emulation for apps that only know instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT).
 * IMDS has no client secret (anyone who reaches it gets a session token), so it listens on
 * loopback only and serves exactly one profile.
 */
export const ImdsSchema = z.strictObject({
  listen: HostPortSchema.refine((l) => isLoopbackHost(parseListen(l).host), {
    error:
      'IMDS has no client token, so it listens on loopback only: use 127.0.0.1:PORT and set AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/',
  }).meta({
    description:
      'Address of the IMDS listener, loopback only: IMDS has no client secret, so anyone who reaches it gets credentials. Apps set `AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/`.',
    examples: ['127.0.0.1:9912'],
  }),
  profile: ProfileNameSchema.meta({
    description:
      'The one profile served; its role name is the one name listed under `security-credentials/`. Give it no more power than any local user may have.',
  }),
  tokenTtlMax: DurationSchema.default(6 * 3_600_000)
    .refine((ms) => ms >= 1000 && ms <= 6 * 3_600_000, {
      error: 'tokenTtlMax must be between 1s and 6h (the EC2 bounds)',
    })
    .meta({
      description:
        'Longest session-token TTL granted (EC2 bounds: 1s..6h); a longer request is granted this, and the granted value echoed.',
    }),
  maxTokens: z.number().int().min(1).max(100_000).default(1000).meta({
    description:
      'Session tokens held at once; beyond it the soonest-expiring is dropped (its client gets 401 and fetches a new one).',
  }),
  allowV1: z.boolean().default(false).meta({
    description:
      'Also answer GETs without a session token (IMDSv1). Off, as on EC2 with "IMDSv2 required": v1 is what SSRF attacks on metadata use.',
  }),
  allow: AllowListSchema.optional().meta({
    description: 'Client addresses allowed to connect, as IPs or CIDRs; others get 403.',
    defaultText: 'any address',
  }),
});
