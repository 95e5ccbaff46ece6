// `kerberos`: the IdP-initiated sign-on URL with SPNEGO (`Authorization: Negotiate`), as ADFS
// Windows Integrated Authentication and Keycloak's Kerberos login do it, from a keytab: no password
// anywhere. GSSAPI (the `kerberos` addon, MIT krb5) gets and re-gets the tickets itself from the
// client keytab into a credential cache private to the broker, one per profile and principal.
//
// MIT krb5 reads the cache, keytab and krb5.conf locations from the environment. They are set for
// the duration of one login under a process-wide lock, so profiles with different principals never
// see each other's settings.
import { createHash } from 'node:crypto';
import { access, chmod, constants, mkdir, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SourceError } from '../../errors.ts';
import { type KerberosAddon, type KerberosClient, loadKerberosAddon } from '../kerberos-addon.ts';
import { type Authorizer, expectSuccess, type HttpAnswer } from './http.ts';
import { idpSession, type LoginContext, type SamlLogin, samlResponseFrom } from './login.ts';

interface KerberosAuth {
  principal: string;
  keytab: string;
  spn?: string | undefined;
  krb5Conf?: string | undefined;
  realm?: string | undefined;
}

export class KerberosLogin implements SamlLogin {
  private readonly principal: string;
  /** GSS host-based service name (`HTTP@host`) of the IdP. */
  private readonly service: string;

  constructor(
    private readonly ctx: LoginContext,
    private readonly auth: KerberosAuth,
  ) {
    this.principal =
      auth.principal.includes('@') || !auth.realm ? auth.principal : `${auth.principal}@${auth.realm}`;
    // HTTP/host, HTTP/host@REALM or HTTP@host → GSS's HTTP@host (the realm follows from krb5.conf).
    const spn = auth.spn ?? `HTTP/${ctx.idpUrl.hostname}`;
    const cut = spn.search(/[/@]/);
    this.service = `${spn.slice(0, cut)}@${spn.slice(cut + 1).split('@')[0]}`;
  }

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    const kerberos = await loadKerberosAddon(profile);
    await this.checkKeytab();
    const env = {
      KRB5CCNAME: `FILE:${path.join(await cacheDir(), this.cacheName())}`,
      KRB5_CLIENT_KTNAME: `FILE:${path.resolve(this.auth.keytab)}`,
      ...(this.auth.krb5Conf ? { KRB5_CONFIG: path.resolve(this.auth.krb5Conf) } : {}),
    };
    return withEnvironment(env, async () => {
      const negotiate = new NegotiateAuthorizer(kerberos, this.service, this.principal, profile, (err) =>
        this.mapError(err),
      );
      const session = idpSession(this.ctx, negotiate);
      const answer = await session.request(idpUrl);
      if (answer.status === 401) throw this.refused(answer, negotiate.sent);
      expectSuccess(answer, profile, 'Kerberos sign-on');
      return samlResponseFrom(
        answer,
        profile,
        'check that source.idpUrl is the IdP-initiated sign-on URL for AWS',
      );
    });
  }

  /** One cache per profile and principal: two profiles never share tickets, a renamed principal never reuses old ones. */
  private cacheName(): string {
    const digest = createHash('sha256')
      .update(`${this.principal}\0${path.resolve(this.auth.keytab)}`)
      .digest('hex');
    return `krb5cc-${this.ctx.profile}-${digest.slice(0, 12)}`;
  }

  private async checkKeytab(): Promise<void> {
    try {
      await access(this.auth.keytab, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SourceError(
        'KERBEROS_KEYTAB',
        `cannot read the keytab ${this.auth.keytab} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied for the broker user' : code}); set auth.keytab to the file made with ktpass/ktutil/kadmin for ${this.principal}`,
        { profile: this.ctx.profile, cause: err },
      );
    }
  }

  private refused(answer: HttpAnswer, sent: boolean): SourceError {
    const offered = answer.headers.get('www-authenticate') ?? '';
    if (!/\bnegotiate\b/i.test(offered)) {
      return new SourceError(
        'KERBEROS_NOT_OFFERED',
        `the IdP at ${answer.url.origin} does not offer Negotiate (it offers: ${offered.slice(0, 80) || 'nothing'}); enable Windows Integrated Authentication (ADFS: intranet authentication policy) or Kerberos (Keycloak: user federation with Kerberos) for this URL, or reach the IdP by the name its SPN has`,
        { profile: this.ctx.profile },
      );
    }
    return new SourceError(
      'KERBEROS_REJECTED',
      `the IdP at ${answer.url.origin} did not accept the Kerberos ticket of ${this.principal}${sent ? '' : ' (none was sent)'}; check that ${this.service.replace('@', '/')} is the SPN registered for the IdP's service account, that the IdP's keytab is current, that this host's clock agrees with the IdP's (NTP), and that the IdP maps ${this.principal} to a user`,
      { profile: this.ctx.profile },
    );
  }

  /** GSSAPI's messages → a code, what failed and the fix. */
  mapError(err: unknown): SourceError {
    const message = ((err as Error)?.message ?? String(err)).replace(/\s+/g, ' ');
    const opts = { profile: this.ctx.profile, cause: err };
    const spn = this.service.replace('@', '/');
    const rules: Array<[RegExp, string, string, boolean]> = [
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
        `the KDC knows no service principal ${spn}; register the SPN on the IdP's service account (setspn -S ${spn} ACCOUNT), or set auth.spn to the registered one`,
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
}

/** SPNEGO over HTTP (RFC 4559): token on 401 challenges, the server's last token checked for mutual auth. */
class NegotiateAuthorizer implements Authorizer {
  sent = false;
  private client: KerberosClient | undefined;
  /** The URL the current context was started for: a bare challenge from another URL starts a new one. */
  private clientUrl: string | undefined;

  constructor(
    private readonly kerberos: KerberosAddon,
    private readonly service: string,
    private readonly principal: string,
    private readonly profile: string,
    private readonly mapError: (err: unknown) => SourceError,
  ) {}

  async challenge(answer: HttpAnswer): Promise<string | undefined> {
    const offer = negotiateToken(answer);
    if (offer === undefined) return undefined;
    try {
      if (!this.client || (offer === '' && this.clientUrl !== answer.url.href)) {
        this.clientUrl = answer.url.href;
        this.client = await this.kerberos.initializeClient(this.service, {
          principal: this.principal,
          mechOID: this.kerberos.GSS_MECH_OID_SPNEGO,
        });
        this.sent = true;
        return `Negotiate ${await this.client.step('')}`;
      }
      // A 401 with a token continues the exchange; a bare one means our token was refused.
      if (!offer || this.client.contextComplete) return undefined;
      return `Negotiate ${await this.client.step(offer)}`;
    } catch (err) {
      throw this.mapError(err);
    }
  }

  async answered(answer: HttpAnswer): Promise<void> {
    const token = negotiateToken(answer);
    if (!this.client || !token || this.client.contextComplete) return;
    try {
      await this.client.step(token);
    } catch (err) {
      // A ticket that expired during the exchange is not an impostor.
      const known = this.mapError(err);
      if (known.code !== 'KERBEROS_FAILED') throw known;
      // Its answer (and the assertion in it) cannot be trusted to come from the IdP.
      throw new SourceError(
        'KERBEROS_MUTUAL_AUTH_FAILED',
        `the IdP's mutual-authentication token did not verify as ${this.service.replace('@', '/')} (${(err as Error).message.replace(/\s+/g, ' ').slice(0, 160)}); something other than the IdP answered, or its keytab is not the SPN's`,
        { profile: this.profile, cause: err },
      );
    }
  }
}

/** undefined: no Negotiate offered; '': offered without a token; else the server's token. */
function negotiateToken(answer: HttpAnswer): string | undefined {
  const header = answer.headers.get('www-authenticate');
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
