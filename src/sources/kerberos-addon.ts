// The `kerberos` addon (GSSAPI over MIT krb5) is an optional native dependency: npm skips it where
// libkrb5-dev or a compiler is missing, and `npm ci --omit=optional` leaves it out on purpose. So
// nothing imports it statically, and its types are written here rather than taken from the package:
// the build and the type-check never need it. Only a profile that logs in with Kerberos loads it,
// through this module, and without it that profile fails with KERBEROS_UNAVAILABLE and the fix.
import { SourceError } from '../errors.ts';

/** The part of the addon's API the broker (and its tests) use; mirrors the package's index.d.ts. */
export interface KerberosAddon {
  readonly GSS_MECH_OID_KRB5: number;
  readonly GSS_MECH_OID_SPNEGO: number;
  readonly version: string;
  initializeClient(service: string, options?: KerberosClientOptions): Promise<KerberosClient>;
  initializeServer(service: string): Promise<KerberosServer>;
}

export interface KerberosClientOptions {
  /** `user@REALM`; the keytab in KRB5_CLIENT_KTNAME must hold its key. */
  principal?: string;
  gssFlag?: number;
  mechOID?: number;
}

export interface KerberosClient {
  readonly contextComplete: boolean;
  readonly response: string;
  /** One GSS step: base64 token in (empty for the first), base64 token out. */
  step(challenge: string): Promise<string>;
}

export interface KerberosServer {
  readonly contextComplete: boolean;
  readonly response: string;
  /** The authenticated client principal once the context is complete. */
  readonly username: string;
  step(challenge: string): Promise<string>;
}

/** What to do when the addon cannot be loaded; the same words go in docs/kerberos.md. */
export const KERBEROS_INSTALL_HINT =
  'install the Kerberos headers and a compiler (Debian/Ubuntu: apt-get install libkrb5-dev build-essential python3; RHEL: dnf install krb5-devel gcc-c++ make python3), then run `npm rebuild kerberos` in the broker directory (`npm install kerberos` if npm left it out, e.g. after --omit=optional)';

// A specifier in a variable: TypeScript does not resolve it, so the build never looks for the package.
const ADDON = 'kerberos';

let loading: Promise<KerberosAddon> | undefined;

/** The addon, loaded once; a failed load is retried next time (the operator may have built it meanwhile). */
export function importKerberosAddon(): Promise<KerberosAddon> {
  loading ??= import(ADDON).then((m: { default?: KerberosAddon } & KerberosAddon) => m.default ?? m);
  const attempt = loading;
  attempt.catch(() => {
    if (loading === attempt) loading = undefined;
  });
  return attempt;
}

/** The addon for a profile that needs it, or KERBEROS_UNAVAILABLE naming why and the fix. */
export async function loadKerberosAddon(profile: string): Promise<KerberosAddon> {
  try {
    return await importKerberosAddon();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ERR_MODULE_NOT_FOUND: the package is absent; otherwise it is there but its kerberos.node is
    // not built (or built against another Node or without libkrb5).
    const why =
      code === 'ERR_MODULE_NOT_FOUND'
        ? 'the optional `kerberos` addon is not installed'
        : `the \`kerberos\` addon is installed but cannot be loaded (${String((err as Error)?.message ?? err)
            .split('\n')[0]
            ?.slice(0, 160)})`;
    throw new SourceError(
      'KERBEROS_UNAVAILABLE',
      `${why}; a Kerberos login needs it: ${KERBEROS_INSTALL_HINT}`,
      { profile, cause: err },
    );
  }
}
