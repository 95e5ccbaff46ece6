// Config section `profiles.NAME.role` and each `chain:` entry: the role assumed and its session options.
import * as z from 'zod';

const RoleArnSchema = z
  .string({ error: 'expected an IAM role ARN, like arn:aws:iam::123456789012:role/NAME' })
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
    error: 'expected an IAM role ARN, like arn:aws:iam::123456789012:role/NAME',
  });

const PolicyArnSchema = z.string().regex(/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]+$/, {
  error: 'expected a managed policy ARN, like arn:aws:iam::aws:policy/ReadOnlyAccess',
});
const SessionTagSchema = z.strictObject({
  key: z
    .string()
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, {
      error: 'tag keys are 1..128 letters, digits, spaces or _.:/=+-@',
    })
    .meta({ description: 'Tag key: 1..128 letters, digits, spaces or `_.:/=+-@`.', examples: ['team'] }),
  value: z
    .string()
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u, {
      error: 'tag values are 0..256 letters, digits, spaces or _.:/=+-@',
    })
    .meta({ description: 'Tag value: 0..256 letters, digits, spaces or `_.:/=+-@`.', examples: ['data'] }),
});

export const RoleSchema = z.strictObject({
  arn: RoleArnSchema.meta({
    description: 'The IAM role to assume; its trust policy must allow this exchange.',
    examples: ['arn:aws:iam::123456789012:role/billing-batch'],
  }),
  sessionName: z
    .string()
    .min(1)
    .default('credential-broker-{profile}')
    .meta({
      description:
        "Role session name, shown in CloudTrail. `{profile}`, `{hostname}` (short host name; the pod name in Kubernetes) and `{sub}` (the JWT's `sub`, the certificate's CN) are replaced. SAML takes the assertion's RoleSessionName instead; x509 sends it only with `sendSessionName`.",
      examples: ['{hostname}-{profile}'],
    }),
  durationSeconds: z
    .number()
    .int()
    .min(900, { error: 'durationSeconds must be at least 900 (STS minimum)' })
    .max(43_200, { error: 'durationSeconds must be at most 43200 (12 h, the STS maximum)' })
    .default(3600)
    .meta({
      description:
        "Session lifetime in seconds, 900..43200; STS also caps it at the role's MaxSessionDuration. Chained sessions are capped at 3600 by AWS (with a warning at startup); SAML caps it at the assertion's SessionDuration.",
    }),
  policy: z
    .string()
    .max(2048)
    .refine(isJsonObject, { error: 'policy must be a JSON policy document (text)' })
    .optional()
    .meta({
      description:
        'Inline session policy, a JSON policy document as text (at most 2048 characters): the session gets only what both it and the role allow. Not on an `x509` role (set it on the Roles Anywhere profile).',
    }),
  policyArns: z
    .array(PolicyArnSchema)
    .max(10)
    .optional()
    .meta({
      description:
        'Managed policies (at most 10) used as session policies, to narrow the role further. Not on an `x509` role.',
      examples: [['arn:aws:iam::aws:policy/ReadOnlyAccess']],
    }),
  // AssumeRole only (chain entries, and the role of an `aws` source):
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'externalId is 2..1224 of letters, digits and +=,.@:/-' })
    .optional()
    .meta({
      description:
        "The `sts:ExternalId` the role's trust policy requires (third-party roles): an identifier agreed with the role's owner, not a secret. AssumeRole only: a chain entry, or the role of an `aws` source.",
      examples: ['acme-7f3a91'],
    }),
  tags: z.array(SessionTagSchema).max(50).optional().meta({
    description:
      "Session tags (attribute-based access control), at most 50; the role's trust policy must allow `sts:TagSession`. AssumeRole only.",
  }),
  transitiveTagKeys: z
    .array(z.string().min(1))
    .max(50)
    .optional()
    .meta({
      description:
        "Keys of `tags` that pass on to further chained sessions; each must be one of this role's `tags`. AssumeRole only.",
      examples: [['team']],
    }),
  sourceIdentity: z
    .string()
    .regex(/^[\w+=,.@{}-]{2,64}$/, {
      error: 'sourceIdentity is 2..64 of letters, digits and +=,.@- (templates allowed)',
    })
    .optional()
    .meta({
      description:
        'Source identity, set once and kept across the rest of the chain, shown in CloudTrail; the same templates as `sessionName`. The trust policy must allow `sts:SetSourceIdentity`. AssumeRole only.',
      examples: ['{hostname}'],
    }),
});

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

export type RoleConfig = z.infer<typeof RoleSchema>;
