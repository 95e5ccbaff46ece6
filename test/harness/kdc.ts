// A throwaway MIT Kerberos realm on 127.0.0.1 for tests: its own krb5.conf and kdc.conf in a temp
// folder, a database made by kdb5_util, principals and keytabs made by kadmin.local, and krb5kdc
// on a free port (optionally under faketime, for clock-skew tests). Debian: krb5-kdc,
// krb5-admin-server, krb5-user (scripts/test.sh installs them).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './listen.ts';

const run = promisify(execFile);
const BINARIES = ['/usr/sbin/krb5kdc', '/usr/sbin/kdb5_util', '/usr/sbin/kadmin.local'];

export interface KdcOptions {
  realm?: string;
  /** Run the KDC's clock this far off (faketime syntax, e.g. "+1h"). */
  clockOffset?: string;
  /** MIT clients adopt the KDC's clock by default (kdc_timesync = 1); false makes skew an error at the KDC. */
  kdcTimesync?: boolean;
}

export interface PrincipalOptions {
  /** Export its keys to this keytab (appending). */
  keytab?: string;
  /** Ticket lifetime cap, kadmin syntax ("10 seconds", "1 hour"). */
  maxLife?: string;
  /** AD requires pre-authentication by default; so does this realm unless told otherwise. */
  requiresPreauth?: boolean;
}

export class Kdc {
  readonly realm: string;
  readonly dir: string;
  readonly port: number;
  /** krb5.conf for clients and services of this realm. */
  readonly krb5Conf: string;
  private process: ChildProcess | undefined;

  /** Why the realm cannot be made here, or undefined when the krb5 binaries are installed. */
  static unavailable(): string | undefined {
    const missing = BINARIES.filter((b) => !existsSync(b));
    return missing.length > 0
      ? `MIT Kerberos binaries missing (${missing.join(', ')}): apt-get install krb5-kdc krb5-admin-server krb5-user libkrb5-dev (scripts/test.sh does)`
      : undefined;
  }

  static async start(opts: KdcOptions = {}): Promise<Kdc> {
    if (opts.clockOffset && !existsSync('/usr/bin/faketime')) {
      throw new Error(
        'faketime is not installed (needed for a KDC with a skewed clock): apt-get install faketime (scripts/test.sh does)',
      );
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-kdc-'));
    const kdc = new Kdc(dir, opts.realm ?? 'BROKER.TEST', await freePort());
    await kdc.writeConfig(opts.kdcTimesync ?? true);
    await run(
      '/usr/sbin/kdb5_util',
      ['create', '-s', '-P', 'master-key-for-tests', '-r', kdc.realm, '-d', path.join(dir, 'principal')],
      {
        env: kdc.env(),
      },
    );
    await kdc.startKdc(opts.clockOffset);
    return kdc;
  }

  private constructor(dir: string, realm: string, port: number) {
    this.dir = dir;
    this.realm = realm;
    this.port = port;
    this.krb5Conf = path.join(dir, 'krb5.conf');
  }

  /** Environment for the krb5 tools of this realm. */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, KRB5_CONFIG: this.krb5Conf, KRB5_KDC_PROFILE: path.join(this.dir, 'kdc.conf') };
  }

  async kadmin(query: string): Promise<string> {
    const { stdout } = await run('/usr/sbin/kadmin.local', ['-r', this.realm, '-q', query], {
      env: this.env(),
    });
    return stdout;
  }

  /** Creates a principal with a random key (like an AD account with a generated password); returns its full name. */
  async addPrincipal(name: string, opts: PrincipalOptions = {}): Promise<string> {
    const full = name.includes('@') ? name : `${name}@${this.realm}`;
    const flags = [
      opts.requiresPreauth === false ? '' : '+requires_preauth',
      opts.maxLife ? `-maxlife "${opts.maxLife}"` : '',
    ]
      .filter(Boolean)
      .join(' ');
    await this.kadmin(`addprinc -randkey ${flags} ${full}`);
    if (opts.keytab) await this.exportKeytab(full, opts.keytab);
    return full;
  }

  /** Writes the principal's current keys to a keytab (without changing them, unlike plain ktadd). */
  async exportKeytab(principal: string, keytab: string): Promise<void> {
    await this.kadmin(`ktadd -norandkey -k ${keytab} ${principal}`);
  }

  /** New random keys (kvno + 1): keytabs exported before are now stale, as after an AD password change. */
  async rekey(principal: string): Promise<void> {
    await this.kadmin(`cpw -randkey ${principal}`);
  }

  /** Lines of the KDC log, e.g. to count AS-REQs of a principal. */
  async log(): Promise<string[]> {
    return (await readFile(path.join(this.dir, 'kdc.log'), 'utf8').catch(() => '')).split('\n');
  }

  /** Stops krb5kdc (the realm's files stay, so it can start again). */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // The whole process group: faketime runs krb5kdc as its child.
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }

  /** Starts krb5kdc again after stop(), on the same port with the same database. */
  async restart(): Promise<void> {
    if (!this.process) await this.startKdc();
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async startKdc(clockOffset?: string): Promise<void> {
    const args = ['-n', '-r', this.realm];
    const [command, argv] = clockOffset
      ? ['faketime', ['-f', clockOffset, '/usr/sbin/krb5kdc', ...args]]
      : ['/usr/sbin/krb5kdc', args];
    const child = spawn(command, argv as string[], {
      env: this.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    this.process = child;
    const deadline = Date.now() + 5000;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `krb5kdc did not start on 127.0.0.1:${this.port}: ${stderr.trim() || `exit ${child.exitCode}`}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async writeConfig(kdcTimesync: boolean): Promise<void> {
    const r = this.realm;
    await writeFile(
      this.krb5Conf,
      `[libdefaults]
  default_realm = ${r}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
  forwardable = false
  kdc_timesync = ${kdcTimesync ? 1 : 0}
  default_ccache_name = FILE:${path.join(this.dir, 'ccache-default')}

[realms]
  ${r} = {
    kdc = 127.0.0.1:${this.port}
  }

[domain_realm]
  localhost = ${r}
  127.0.0.1 = ${r}
`,
    );
    await writeFile(
      path.join(this.dir, 'kdc.conf'),
      `[kdcdefaults]
  kdc_listen = 127.0.0.1:${this.port}
  kdc_tcp_listen = 127.0.0.1:${this.port}

[realms]
  ${r} = {
    database_name = ${path.join(this.dir, 'principal')}
    key_stash_file = ${path.join(this.dir, 'stash')}
    acl_file = ${path.join(this.dir, 'kadm5.acl')}
    max_life = 10h
    max_renewable_life = 1d
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }

[logging]
  kdc = FILE:${path.join(this.dir, 'kdc.log')}
`,
    );
    await writeFile(path.join(this.dir, 'kadm5.acl'), '');
  }
}

/** A krb5.conf for the realm that points at a port where no KDC listens. */
export async function deadKdcConf(kdc: Kdc): Promise<string> {
  const file = path.join(kdc.dir, 'krb5-dead.conf');
  const text = (await readFile(kdc.krb5Conf, 'utf8')).replace(
    `127.0.0.1:${kdc.port}`,
    `127.0.0.1:${await freePort()}`,
  );
  await writeFile(file, text);
  return file;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
