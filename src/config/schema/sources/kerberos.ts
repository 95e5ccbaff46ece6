// A Kerberos client principal and keytab, shared by SAML and OIDC `kerberos` authentication.
import * as z from 'zod';
import { PathSchema } from '../path.ts';

/** A client principal and its keytab: SAML `kerberos` login and OIDC `kerberos` client authentication. */
export const KerberosKeytabShape = {
  principal: z
    .string()
    .regex(/^[^\s@]+(@[^\s@]+)?$/, { error: 'expected a principal like svc-app@EXAMPLE.COM' })
    .meta({
      description: 'Client principal; without `@REALM` the realm comes from `realm` or krb5.conf.',
      examples: ['svc-billing@EXAMPLE.COM'],
    }),
  keytab: PathSchema.meta({
    description:
      "Keytab file with the principal's keys: a path, not a secret reference (there is no password to read). It is as good as the account's password: mode 0600, owned by the broker user.",
    examples: ['/etc/credential-broker/svc-billing.keytab'],
  }),
  spn: z
    .string()
    .regex(/^[^\s/@]+(\/[^\s/@]+(@[^\s/@]+)?|@[^\s/@]+)$/, {
      error: 'expected a service principal like HTTP/adfs.example.com or HTTP/adfs.example.com@EXAMPLE.COM',
    })
    .optional()
    .meta({
      description:
        "The IdP's service principal name, as registered in the directory (setspn). With `@REALM`, the host is mapped to that realm for this profile (as krb5.conf [domain_realm] would). MIT krb5 canonicalizes the host through DNS unless krb5.conf sets `dns_canonicalize_hostname = false` and `rdns = false`: errors name the SPN it actually asked for.",
      defaultText: '`HTTP/<host of idpUrl>`',
      examples: ['HTTP/adfs.example.com', 'HTTP/adfs.example.com@EXAMPLE.COM'],
    }),
  krb5Conf: PathSchema.optional().meta({
    description: 'krb5.conf for this profile (KDCs, realms).',
    defaultText: "the system's (or `$KRB5_CONFIG`)",
  }),
  realm: z
    .string()
    .regex(/^[^\s@]+$/, { error: 'expected a realm like EXAMPLE.COM' })
    .optional()
    .meta({
      description: 'Kerberos realm, for a `principal` written without `@REALM`.',
      defaultText: "krb5.conf's `default_realm`",
      examples: ['EXAMPLE.COM'],
    }),
};
