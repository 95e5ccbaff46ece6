// Source `web-identity-file`: a JWT kept fresh in a file by something else.
import * as z from 'zod';
import { PathSchema } from '../path.ts';

export const WebIdentityFileSourceSchema = z.strictObject({
  type: z.literal('web-identity-file').meta({
    description:
      'A JWT that something else keeps fresh in a file, exchanged at STS AssumeRoleWithWebIdentity.',
  }),
  tokenFile: PathSchema.meta({
    description:
      'The JWT file (a Kubernetes projected service-account token, a SPIFFE JWT-SVID, a CI OIDC token); read again on every exchange, so a rotated token is simply picked up.',
    examples: ['/var/run/secrets/tokens/token'],
  }),
  expectedAudience: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        'Refuse a token whose `aud` lacks this value before asking STS (`WEB_IDENTITY_AUDIENCE_MISMATCH`), so a wrongly projected token fails clearly.',
      examples: ['sts.amazonaws.com'],
    }),
});
