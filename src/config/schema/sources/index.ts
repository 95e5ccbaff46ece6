// Config section `profiles.NAME.source`: one schema per source type, chosen by `type`.
import * as z from 'zod';
import { AwsSourceSchema } from './aws.ts';
import { OidcSourceSchema } from './oidc.ts';
import { SamlSourceSchema } from './saml.ts';
import { WebIdentityFileSourceSchema } from './web-identity-file.ts';
import { X509SourceSchema } from './x509.ts';

/** Adding a source type = one more member here, its file in this folder and in src/sources/. */
export const SourceSchema = z.discriminatedUnion(
  'type',
  [OidcSourceSchema, WebIdentityFileSourceSchema, X509SourceSchema, AwsSourceSchema, SamlSourceSchema],
  {
    error: 'source.type must be one of: oidc, web-identity-file, x509, aws, saml',
  },
);

export type SourceConfig = z.infer<typeof SourceSchema>;
