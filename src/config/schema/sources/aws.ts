// Source `aws`: the AWS SDK's credential chain, then AssumeRole.
import * as z from 'zod';
import { PathSchema } from '../path.ts';

export const AwsSourceSchema = z.strictObject({
  type: z.literal('aws').meta({
    description:
      "The AWS SDK's standard credential chain (environment, shared files, SSO, credential_process, container or instance metadata), then STS AssumeRole into `role.arn`.",
  }),
  profile: z.string().min(1).optional().meta({
    description: 'Profile in the shared config and credentials files.',
    defaultText: "the SDK's default chain order",
  }),
  credentialsFile: PathSchema.optional().meta({
    description:
      'Shared credentials file (static keys); read again on every exchange, so rotating the keys needs no restart. Keep it mode 0600.',
    defaultText: '`~/.aws/credentials` (or `$AWS_SHARED_CREDENTIALS_FILE`)',
  }),
  configFile: PathSchema.optional().meta({
    description: 'Shared config file.',
    defaultText: '`~/.aws/config` (or `$AWS_CONFIG_FILE`)',
  }),
});
