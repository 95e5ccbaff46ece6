// Source `x509`: IAM Roles Anywhere with a client certificate.
import * as z from 'zod';
import { DurationSchema, HttpUrlSchema, RegionSchema, ThresholdDurationSchema } from '../common.ts';
import { CertificateMaterialShape } from './certificate.ts';

const rolesAnywhereArn = (kind: 'trust-anchor' | 'profile') =>
  z
    .string()
    .regex(new RegExp(`^arn:aws[a-z-]*:rolesanywhere:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:${kind}/[\\w-]{1,64}$`), {
      error: `expected an IAM Roles Anywhere ${kind} ARN, like arn:aws:rolesanywhere:eu-west-1:123456789012:${kind}/UUID`,
    });

export const X509SourceSchema = z.strictObject({
  type: z.literal('x509').meta({
    description:
      'A client certificate and its private key sign IAM Roles Anywhere CreateSession (AWS4-X509-RSA-SHA256 / AWS4-X509-ECDSA-SHA256).',
  }),
  ...CertificateMaterialShape,
  trustAnchorArn: rolesAnywhereArn('trust-anchor').meta({
    description: "ARN of the Roles Anywhere trust anchor that holds the certificate's issuing CA.",
    examples: [
      'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0b5e1d9c-1b7a-4b8e-9f0e-2d1c3b4a5e6f',
    ],
  }),
  profileArn: rolesAnywhereArn('profile').meta({
    description:
      "ARN of the Roles Anywhere profile that lists `role.arn`; session policies belong on this profile, not in the broker's config.",
    examples: ['arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f5e4d3c-2b1a-4c9d-8e7f-0a1b2c3d4e5f'],
  }),
  region: RegionSchema.optional().meta({
    description: 'Region of the Roles Anywhere endpoint to call.',
    defaultText: "the trust anchor ARN's region",
  }),
  endpoint: HttpUrlSchema.optional().meta({
    description:
      'Roles Anywhere endpoint URL instead of the regional one (a VPC endpoint, an emulator). https only (plain http only to a loopback address).',
    defaultText: 'the regional endpoint',
  }),
  useFipsEndpoint: z.boolean().default(false).meta({
    description: "Call the region's FIPS endpoint, rolesanywhere-fips.REGION.amazonaws.com.",
  }),
  sendSessionName: z.boolean().default(false).meta({
    description:
      "Send `role.sessionName` (the Roles Anywhere profile must accept role session names); otherwise Roles Anywhere names the session after the certificate's serial number.",
  }),
  certExpiryWarning: ThresholdDurationSchema.default(14 * 86_400_000).meta({
    description:
      'Every exchange logs a warning while the certificate expires within this long; the metric `credential_broker_certificate_expiry_seconds` shows the time left either way.',
  }),
  timeout: DurationSchema.default(10_000).meta({ description: 'Bound on the CreateSession request.' }),
});
