// Config section `profiles.NAME.credentialsFile`: the profile also kept in a shared credentials file
// (`~/.aws/credentials` format) for tools that read nothing else (src/cache/credentials-file.ts).
import * as z from 'zod';
import { PathSchema } from './path.ts';

export const CredentialsFileSchema = z
  .strictObject({
    path: PathSchema.meta({
      description:
        "The shared credentials file to keep the section in (created if missing, its folder too, mode 0700). Its folder must be the broker's user's or root's and not writable by others (sticky /tmp-like folders excepted), and the path must not be a symbolic link: the broker replaces the file, and refuses to start otherwise (`CREDENTIALS_FILE_UNSAFE`). Other sections, comments and blank lines are kept as they are.",
      examples: ['/var/lib/credential-broker/legacy/credentials'],
    }),
    section: z
      .string()
      .regex(/^[^[\]\r\n#;]+$/, {
        error: 'credentialsFile.section is a profile name: no [ ] # ; or line break',
      })
      .refine((s) => s.trim() === s, {
        error: 'credentialsFile.section has spaces around it: SDKs would not find it under the trimmed name',
      })
      .optional()
      .meta({
        description: 'The section: the profile name the tool is given (`AWS_PROFILE`, `--profile`).',
        defaultText: "this profile's name",
      }),
    mode: z.enum(['0600', '0640']).default('0600').meta({
      description:
        "The file's mode, set on every rewrite: `0640` lets the broker's group read it (under systemd, apps in the `credential-broker` group).",
    }),
    onStop: z.enum(['remove', 'keep']).default('remove').meta({
      description:
        '`remove`: the section is removed when the broker stops (and when the profile leaves the config on reload), the file too when nothing else is left in it; `keep`: left as it is, valid until its `x_security_token_expires`.',
    }),
  })
  .meta({
    description:
      "Also keep this profile's credentials in a shared credentials file, for tools that read only that file (boto2, Java SDK v1, s3cmd, rclone): its section is rewritten atomically (temp file and rename) at every refresh, so it is as fresh as the endpoint. Written by `serve` only. A tool reads the file when it starts: long-running ones should use the endpoint.",
  });

export type CredentialsFileConfig = z.infer<typeof CredentialsFileSchema>;
