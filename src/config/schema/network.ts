// Config section `network` (top level and per profile): proxy, proxy credentials, extra CAs.
import * as z from 'zod';
import { SecretRefSchema } from './common.ts';
import { PathSchema } from './path.ts';

/** The proxy URL's own user:pass@ (http://user:pass@host) is refused: secrets are never written
 * inline. zod runs this even when the URL check failed, so it must not throw on a non-URL. */
function proxyHasNoCredentials(text: string): boolean {
  try {
    const url = new URL(text);
    return url.username === '' && url.password === '';
  } catch {
    return true;
  }
}

/** How outbound requests (STS, Roles Anywhere, the IdP) leave this host. */
export const NetworkSchema = z
  .strictObject({
    proxy: z
      .string()
      .refine((v) => v === 'none' || /^https?:\/\/[^/\s]+(\/.*)?$/.test(v), {
        error: 'proxy must be an http(s)://host:port URL or "none"',
      })
      .refine(proxyHasNoCredentials, {
        error:
          'the proxy URL carries credentials (user:password@): secrets are never written inline; remove them from the URL and set network.proxyAuth: { username: NAME, password: file:/path } (or env:NAME, credential:NAME)',
      })
      .optional()
      .meta({
        description:
          'HTTP CONNECT proxy for STS, Roles Anywhere, OIDC issuer and SAML IdP requests, `http(s)://host:port`, or `none` to ignore the proxy environment variables. A proxy that is down fails the request (retried), never a silent direct connection. Credentials go in `proxyAuth`, never in the URL.',
        defaultText: '`$HTTPS_PROXY` or `$https_proxy` (which may carry `user:password@`)',
        examples: ['http://proxy.corp.example:3128'],
      }),
    proxyAuth: z
      .strictObject({
        username: z
          .string()
          .min(1)
          .regex(/^[^:]+$/, { error: 'a proxy user name cannot contain ":"' })
          .meta({
            description: 'User name the broker gives the proxy (HTTP Basic `Proxy-Authorization`).',
            examples: ['svc-broker'],
          }),
        password: SecretRefSchema.meta({
          description:
            'The proxy password, as a secret reference; read again for every connection, so rotating it needs no restart.',
          examples: ['file:/etc/credential-broker/secrets/proxy-password'],
        }),
      })
      .optional()
      .meta({
        description:
          'Credentials for `proxy` (same `network` section): sent only to that proxy, never to a proxy named elsewhere or taken from the environment.',
      }),
    noProxy: z
      .array(z.string().min(1))
      .optional()
      .meta({
        description:
          'Hosts reached without the proxy: exact names, `.domain` suffixes, IP addresses, each with an optional `:port`, or `*` for every host.',
        defaultText: '`$NO_PROXY` or `$no_proxy` (comma-separated)',
        examples: [['.corp.example', '192.0.2.10', 'sts.eu-west-1.amazonaws.com:443']],
      }),
    caFile: PathSchema.optional().meta({
      description:
        "PEM file of extra CA certificates to trust on outbound TLS, e.g. a TLS-inspecting proxy's; the system roots stay trusted.",
    }),
  })
  .refine((n) => !n.proxyAuth || (n.proxy !== undefined && n.proxy !== 'none'), {
    error:
      'proxyAuth needs a proxy in the same network section: set network.proxy to the proxy these credentials are for',
    path: ['proxyAuth'],
  });
