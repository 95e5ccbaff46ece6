// Kerberos from a keytab for HTTP logins (SPNEGO, RFC 4559), shared by the SAML `kerberos` login
// and the OIDC `kerberos` client authentication (ADFS Windows Integrated Authentication at the
// token endpoint). GSSAPI (the `kerberos` addon, MIT krb5) gets and re-gets the tickets itself
// from the client keytab into a credential cache private to the broker, one per profile and
// principal.
//
// MIT krb5 reads the cache, keytab and krb5.conf locations from the environment. They are set for
// the duration of one login under a process-wide lock, so profiles with different principals never
// see each other's settings.
import { createHash } from 'node:crypto';
import { access, chmod, constants, mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ErrorCode, SourceError } from '../errors.ts';
import { type KerberosAddon, type KerberosClient, loadKerberosAddon } from './kerberos-addon.ts';

export interface KerberosAuth {
  principal: string;
  keytab: string;
  spn?: string | undefined;
  krb5Conf?: string | undefined;
  realm?: string | undefined;
}

/** A client principal with its keytab, and the service it logs in to. */
export class KerberosIdentity {
  readonly principal: string;
  /** GSS host-based service name (`HTTP@host`) of the server: all the addon can ask for. */
  readonly service: string;
  /** The SPN as configured (or defaulted), `HTTP/host`, for messages. */
  readonly spn: string;
  /** The realm of `auth.spn: HTTP/host@REALM`: mapped for the host in a krb5.conf layered over the profile's. */
  private readonly spnRealm: string | undefined;

  /** `host`: the server's host name, for the default SPN `HTTP/host`. */
  constructor(
    private readonly profile: string,
    private readonly auth: KerberosAuth,
    host: string,
  ) {
    this.principal =
      auth.principal.includes('@') || !auth.realm ? auth.principal : `${auth.principal}@${auth.realm}`;
    const spn = parseSpn(auth.spn ?? `HTTP/${host}`);
    this.service = `${spn.service}@${spn.host}`;
    this.spn = `${spn.service}/${spn.host}`;
    this.spnRealm = spn.realm;
  }

  /** Runs fn with the addon, and krb5's environment set for this identity (one login at a time). */
  async run<T>(fn: (addon: KerberosAddon) => Promise<T>): Promise<T> {
    const kerberos = await loadKerberosAddon(this.profile);
    await this.checkKeytab();
    const krb5Conf = this.auth.krb5Conf ? path.resolve(this.auth.krb5Conf) : process.env.KRB5_CONFIG;
    const env = {
      KRB5CCNAME: `FILE:${path.join(await cacheDir(), this.cacheName())}`,
      KRB5_CLIENT_KTNAME: `FILE:${path.resolve(this.auth.keytab)}`,
      ...(this.spnRealm
        ? { KRB5_CONFIG: await this.realmMapping(krb5Conf) }
        : krb5Conf
          ? { KRB5_CONFIG: krb5Conf }
          : {}),
    };
    return withEnvironment(env, () => fn(kerberos));
  }

  /**
   * `HTTP/host@REALM`: the addon can only ask for a host-based name, whose realm MIT takes from
   * krb5.conf's [domain_realm]. A small krb5.conf mapping the host to REALM goes first in
   * KRB5_CONFIG (MIT reads every file of the list; the first answer wins), over the profile's own.
   */
  private async realmMapping(base: string | undefined): Promise<string> {
    const file = path.join(await cacheDir(), `${this.cacheName()}-spn.conf`);
    const host = this.service.slice(this.service.indexOf('@') + 1);
    await writeFile(file, `[domain_realm]\n  ${host} = ${this.spnRealm}\n`, { mode: 0o600 });
    return `${file}:${base ?? '/etc/krb5.conf'}`;
  }

  /** One cache per profile and principal: two profiles never share tickets, a renamed principal never reuses old ones. */
  private cacheName(): string {
    const digest = createHash('sha256')
      .update(`${this.principal}\0${path.resolve(this.auth.keytab)}`)
      .digest('hex');
    return `krb5cc-${this.profile}-${digest.slice(0, 12)}`;
  }

  private async checkKeytab(): Promise<void> {
    try {
      await access(this.auth.keytab, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SourceError(
        'KERBEROS_KEYTAB',
        `cannot read the keytab ${this.auth.keytab} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied for the broker user' : code}); set auth.keytab to the file made with ktpass/ktutil/kadmin for ${this.principal}`,
        { profile: this.profile, cause: err },
      );
    }
  }

  /** GSSAPI's messages → a code, what failed and the fix. */
  mapError(err: unknown): SourceError {
    const message = ((err as Error)?.message ?? String(err)).replace(/\s+/g, ' ');
    const opts = { profile: this.profile, cause: err };
    const rules: Array<[RegExp, ErrorCode, string, boolean]> = [
      [
        /Cannot contact any KDC|Cannot find KDC|Connection refused|Resource temporarily unavailable/i,
        'KERBEROS_KDC_UNREACHABLE',
        `cannot reach a KDC for ${this.principal}; check the KDC addresses in krb5.conf (auth.krb5Conf) and the network`,
        true,
      ],
      [
        /Ticket expired|context has expired/i,
        'KERBEROS_TICKET_EXPIRED',
        `the cached tickets of ${this.principal} expired and no new ones could be had with the keytab; check that a KDC is reachable`,
        true,
      ],
      [
        /Clock skew too great/i,
        'KERBEROS_CLOCK_SKEW',
        'this host and the KDC disagree about the time by more than the allowed skew (5 min by default); synchronise the clock (NTP)',
        true,
      ],
      [
        /Key version number for principal in key table is incorrect|Key table entry not found|Preauthentication failed|Password incorrect|Decrypt integrity check failed|bad key version/i,
        'KERBEROS_KVNO',
        `the keys in ${this.auth.keytab} for ${this.principal} are not the KDC's current ones (wrong key version, kvno: the account's password was changed or the keytab re-exported); export a new keytab`,
        false,
      ],
      [
        /No key table entry found|Keytab contains no suitable keys|not found in keytab|No principal in keytab|Can't find client principal .* in cache collection/i,
        'KERBEROS_KEYTAB',
        `the keytab ${this.auth.keytab} holds no key for ${this.principal}; check auth.principal (and auth.realm) against \`klist -k\` of the keytab`,
        false,
      ],
      [
        /Server .*not found in Kerberos database|Server not found/i,
        'KERBEROS_SPN_UNKNOWN',
        this.unknownServer(message),
        false,
      ],
      [
        /Client .*not found in Kerberos database/i,
        'KERBEROS_PRINCIPAL_UNKNOWN',
        `the KDC knows no principal ${this.principal}; check auth.principal and auth.realm`,
        false,
      ],
    ];
    for (const [pattern, code, fix, retryable] of rules) {
      if (pattern.test(message))
        return new SourceError(code, `Kerberos: ${fix} (${message.slice(0, 200)})`, { ...opts, retryable });
    }
    return new SourceError(
      'KERBEROS_FAILED',
      `Kerberos login of ${this.principal} failed: ${message.slice(0, 240)}`,
      opts,
    );
  }

  /**
   * MIT names the principal it asked the KDC for ("Server HTTP/localhost@REALM not found"): with
   * its default hostname canonicalization (dns_canonicalize_hostname, rdns) that is not always
   * the configured SPN, and the fix differs.
   */
  private unknownServer(message: string): string {
    const requested = /Server (\S+) not found in Kerberos database/.exec(message)?.[1];
    const requestedSpn = requested?.split('@')[0];
    if (requestedSpn?.startsWith('krbtgt/') && requestedSpn.slice(7) === this.spnRealm) {
      return `the KDC has no cross-realm key for realm ${this.spnRealm}, the realm auth.spn names for ${this.spn}; check the realm in auth.spn (the IdP's SPN is usually in the realm of the IdP's service account), or set up the cross-realm trust`;
    }
    if (requestedSpn?.startsWith('krbtgt/')) {
      return `the KDC has no cross-realm key for realm ${requestedSpn.slice(7)}, which krb5 guessed as the realm of ${this.spn} from its domain name; map the IdP's host to your realm in krb5.conf [domain_realm] (or write auth.spn as ${this.spn}@REALM)`;
    }
    const hint = `register the SPN on the IdP's service account (setspn -S ${requestedSpn ?? this.spn} ACCOUNT), or set auth.spn to the registered one`;
    if (!requested || requestedSpn?.toLowerCase() === this.spn.toLowerCase()) {
      return `the KDC knows no service principal ${requested ?? this.spn}; ${hint}`;
    }
    return `the KDC knows no service principal ${requested}, which is what krb5 asked for: it canonicalized the configured ${this.spn} through DNS (krb5.conf [libdefaults] dns_canonicalize_hostname and rdns, both on by default); ${hint}, or set dns_canonicalize_hostname = false and rdns = false in krb5.conf (auth.krb5Conf) so that ${this.spn} is asked for as written`;
  }
}

/** `service/host`, `service/host@REALM` or GSS's `service@host`. */
function parseSpn(spn: string): { service: string; host: string; realm: string | undefined } {
  const slash = spn.indexOf('/');
  if (slash < 0) {
    const at = spn.indexOf('@');
    return { service: spn.slice(0, at), host: spn.slice(at + 1), realm: undefined };
  }
  const [host = '', realm] = spn.slice(slash + 1).split('@');
  return { service: spn.slice(0, slash), host, realm };
}

/** One SPNEGO context: the client's tokens, and the server's last token checked for mutual authentication. */
export class SpnegoContext {
  private client: KerberosClient | undefined;

  constructor(
    private readonly kerberos: KerberosAddon,
    private readonly identity: KerberosIdentity,
    private readonly profile: string,
  ) {}

  get complete(): boolean {
    return this.client?.contextComplete ?? false;
  }

  /** A new context and its first token (base64), for `Authorization: Negotiate <token>`. */
  async start(): Promise<string> {
    try {
      this.client = await this.kerberos.initializeClient(this.identity.service, {
        principal: this.identity.principal,
        mechOID: this.kerberos.GSS_MECH_OID_SPNEGO,
      });
      return await this.client.step('');
    } catch (err) {
      throw this.identity.mapError(err);
    }
  }

  /** The next token for a server token that continues the exchange. */
  async continue(token: string): Promise<string> {
    try {
      return await this.client!.step(token);
    } catch (err) {
      throw this.identity.mapError(err);
    }
  }

  /** Checks the server's final token: its answer is trusted only if it verifies as the SPN. */
  async verify(token: string | undefined): Promise<void> {
    if (!this.client || !token || this.client.contextComplete) return;
    try {
      await this.client.step(token);
    } catch (err) {
      // A ticket that expired during the exchange is not an impostor.
      const known = this.identity.mapError(err);
      if (known.code !== 'KERBEROS_FAILED') throw known;
      throw new SourceError(
        'KERBEROS_MUTUAL_AUTH_FAILED',
        `the server's mutual-authentication token did not verify as ${this.identity.spn} (${(err as Error).message.replace(/\s+/g, ' ').slice(0, 160)}); something other than the server answered, or its keytab is not the SPN's`,
        { profile: this.profile, cause: err },
      );
    }
  }
}

/** undefined: no Negotiate offered; '': offered without a token; else the server's token. */
export function negotiateToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /(?:^|,)\s*Negotiate(?:\s+([A-Za-z0-9+/]+={0,2}))?\s*(?:,|$)/i.exec(header);
  return m ? (m[1] ?? '') : undefined;
}

let cacheDirectory: Promise<string> | undefined;

/**
 * A 0700 directory for credential caches: $RUNTIME_DIRECTORY/krb5 under systemd, else a fresh
 * private temp directory. Tickets are credentials; no other user may read them.
 */
function cacheDir(): Promise<string> {
  cacheDirectory ??= (async () => {
    const runtime = process.env.RUNTIME_DIRECTORY;
    if (!runtime) return mkdtemp(path.join(tmpdir(), 'credential-broker-krb5-'));
    const dir = path.join(runtime.split(':')[0]!, 'krb5');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    if ((await stat(dir)).uid !== process.getuid?.())
      throw new Error(`${dir} is not owned by the broker user`);
    return dir;
  })();
  return cacheDirectory;
}

let lock: Promise<unknown> = Promise.resolve();

/** Runs fn with these environment variables set, one login at a time across the process. */
function withEnvironment<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const run = lock.then(async () => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
  lock = run.catch(() => undefined);
  return run;
}
