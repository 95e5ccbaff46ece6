// Client tokens: what an app must send as `Authorization` (the SDKs read it from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). One shared token, plus optional per-profile tokens so
// that app A cannot read app B's role.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultTokenFile } from '../config/default-path.ts';
import type { Config } from '../config/schema/index.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';

/** Re-read token files at most this often, so rotation is picked up without a read per request. */
const REREAD_MS = 1000;

/**
 * Creates the token file if it is missing: 256 random bits, base64url, mode 0600, written to a
 * temporary name and renamed (readers never see half a token), and without a trailing newline:
 * every SDK sends the file verbatim and a "\n" breaks the header. An existing file, new or old,
 * must be safe (tokenFileProblem): a planted one is refused, not served.
 */
export async function ensureTokenFile(file: string): Promise<void> {
  let exists = true;
  try {
    await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw tokenFileError(file, err);
    exists = false;
  }
  if (!exists) {
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      const tmp = `${file}.${process.pid}.tmp`;
      // A broker killed between write and rename leaves this behind, and a restart often gets the
      // same pid (PID 1 in a container): remove it, or `wx` would fail every start from then on.
      // rm unlinks a planted symlink itself, and `wx` still refuses one created after it.
      await rm(tmp, { force: true });
      await writeFile(tmp, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
      await rename(tmp, file);
    } catch (err) {
      throw tokenFileError(file, err);
    }
  }
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw tokenFileError(file, err);
  }
  try {
    const problem = await tokenFileProblem(file, handle);
    if (problem) throw new ConfigError(`client token file ${problem}`);
  } finally {
    await handle.close();
  }
}

/**
 * Why the token file open as `handle` could hold someone else's token, or undefined when it
 * cannot: it and its directory are owned by the broker's user or root, nobody else may write
 * either, and the name still leads to the open file. A world-writable directory is accepted only
 * with the sticky bit (/tmp): there only an entry's owner can replace it, so the owner check
 * holds. Only the directory holding the file is checked, not every ancestor: whoever swaps an
 * ancestor makes a directory of their own, which this check then names.
 */
export async function tokenFileProblem(file: string, handle: FileHandle): Promise<string | undefined> {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // no POSIX owners to check (Windows)
  const trusted = (st: Stats) => st.uid === uid || st.uid === 0;
  const user = uid === 0 ? 'root' : `uid ${uid} (the broker's user) or root`;
  const st = await handle.stat();
  if (!st.isFile()) return `${file} is not a regular file; point tokenFile at a file`;
  if (!trusted(st)) {
    return `${file} is owned by uid ${st.uid}, not ${user}: another user may have planted it; remove it and let the broker create it (or chown it to the broker's user)`;
  }
  if (st.mode & 0o022) {
    return `${file} is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${mode(st)}): run chmod 0600 ${file} (group read, 0640, is fine), or remove it and let the broker create it`;
  }
  const link = await lstat(file);
  if (link.dev !== st.dev || link.ino !== st.ino) {
    if (!link.isSymbolicLink() || !trusted(link)) {
      return `${file} changed while it was being checked, or is a symbolic link owned by uid ${link.uid}; point tokenFile at the file itself`;
    }
  }
  const dir = path.dirname(file);
  const d = await stat(dir);
  if (!trusted(d)) {
    return `${file}: its directory ${dir} is owned by uid ${d.uid}, not ${user}, who can replace the file at will; set tokenFile to a path in a directory of the broker's user (such as $RUNTIME_DIRECTORY/token) or chown the directory`;
  }
  if (d.mode & 0o022 && !(d.mode & 0o1000)) {
    return `${file}: its directory ${dir} is writable by ${d.mode & 0o002 ? 'every user' : 'its group'} (mode ${mode(d)}), so anyone there can replace the file; run chmod go-w ${dir}, or put the file in a subdirectory the broker creates (set tokenFile to ${path.join(dir, 'broker', path.basename(file))})`;
  }
  return undefined;
}

function mode(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

function tokenFileError(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  return new ConfigError(
    `cannot create or read the client token file ${file} (${code ?? String(err)}); set server.tokenFile (or the profile's tokenFile) to a path the broker may write, such as $RUNTIME_DIRECTORY/token under systemd`,
    { cause: err },
  );
}

/** The token file that grants `profile`: its own tokenFile, else the shared one. */
export function tokenFileFor(config: Config, profile: string): string {
  return config.profiles[profile]?.tokenFile ?? config.server.tokenFile ?? defaultTokenFile();
}

/** The client tokens a config asks for (files are created and checked by ensureAll()). */
export function clientTokensFor(config: Config, logger?: Logger): ClientTokens {
  const profileFiles = new Map<string, string>();
  for (const [name, profile] of Object.entries(config.profiles)) {
    if (profile.tokenFile) profileFiles.set(name, profile.tokenFile);
  }
  return new ClientTokens(config.server.tokenFile ?? defaultTokenFile(), profileFiles, logger);
}

/**
 * The client tokens in force for the credentials routes' auth hook (client-auth.ts). `serve`
 * creates them before listening; a reload readies the new config's token files first and swaps
 * the whole set only once the rest of the config is in force too (cli/service.ts).
 */
export class ReloadableClientTokens {
  private constructor(
    private tokens: ClientTokens,
    private readonly logger?: Logger,
  ) {}

  /** Creates missing token files and checks existing ones: throws ConfigError when one is unsafe. */
  static async load(config: Config, logger?: Logger): Promise<ReloadableClientTokens> {
    const tokens = clientTokensFor(config, logger);
    await tokens.ensureAll();
    return new ReloadableClientTokens(tokens, logger);
  }

  get current(): ClientTokens {
    return this.tokens;
  }

  /** Readies `next`'s token files (throws, changing nothing, when one cannot be); the returned
   * function puts them in force. */
  async prepare(next: Config): Promise<() => void> {
    const prepared = clientTokensFor(next, this.logger);
    await prepared.ensureAll();
    return () => {
      this.tokens = prepared;
    };
  }
}

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'other-profile';

export class ClientTokens {
  private readonly cache = new Map<string, { digest: Buffer | undefined; readAt: number }>();
  /** Files found unsafe on a re-read, so the error is logged when that starts, not every second. */
  private readonly unsafe = new Set<string>();

  /**
   * @param sharedFile token for profiles without their own
   * @param profileFiles profile → its own token file
   * @param logger where a token file that became unsafe is reported
   */
  constructor(
    private readonly sharedFile: string,
    private readonly profileFiles: ReadonlyMap<string, string>,
    private readonly logger?: Logger,
  ) {}

  /** Creates every missing token file and checks every existing one; run before serving. */
  async ensureAll(): Promise<void> {
    for (const file of new Set([this.sharedFile, ...this.profileFiles.values()])) await ensureTokenFile(file);
  }

  fileFor(profile: string): string {
    return this.profileFiles.get(profile) ?? this.sharedFile;
  }

  /** Does `presented` (the raw Authorization header) grant `profile`? Constant-time comparisons only. */
  check(profile: string, presented: string | undefined): TokenCheck | Promise<TokenCheck> {
    if (!presented) return 'missing';
    const digest = sha256(presented);
    return this.grantsNow(profile, digest) ? 'ok' : this.checkFiles(profile, digest);
  }

  /**
   * True when `presented` grants `profile` by the token file as read within REREAD_MS, which is
   * almost every request: the answer comes at once, without a promise. False says nothing
   * (a wrong token, or a file due to be re-read): check() decides then.
   */
  grants(profile: string, presented: string | undefined): boolean {
    return presented !== undefined && presented.length > 0 && this.grantsNow(profile, sha256(presented));
  }

  private grantsNow(profile: string, digest: Buffer): boolean {
    const hit = this.cache.get(this.fileFor(profile));
    return (
      hit?.digest !== undefined && Date.now() - hit.readAt < REREAD_MS && timingSafeEqual(hit.digest, digest)
    );
  }

  private async checkFiles(profile: string, digest: Buffer): Promise<TokenCheck> {
    if (await this.matches(this.fileFor(profile), digest)) return 'ok';
    for (const file of new Set([this.sharedFile, ...this.profileFiles.values()])) {
      if (await this.matches(file, digest)) return 'other-profile';
    }
    return 'invalid';
  }

  private async matches(file: string, digest: Buffer): Promise<boolean> {
    const expected = await this.digestOf(file);
    return expected !== undefined && timingSafeEqual(expected, digest);
  }

  private async digestOf(file: string): Promise<Buffer | undefined> {
    const now = Date.now();
    const hit = this.cache.get(file);
    if (hit && now - hit.readAt < REREAD_MS) return hit.digest;
    const digest = await this.read(file);
    this.cache.set(file, { digest, readAt: now });
    return digest;
  }

  /** The token's digest, or undefined: a missing or unreadable file grants nothing, and neither
   * does one that has become unsafe since startup (checked and read through one open handle). */
  private async read(file: string): Promise<Buffer | undefined> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'r');
      const problem = await tokenFileProblem(file, handle);
      if (problem) {
        if (!this.unsafe.has(file)) {
          this.unsafe.add(file);
          this.logger?.error(
            { code: 'TOKEN_FILE_UNSAFE', tokenFile: file },
            `client token file ${problem}; its token is refused until that is fixed`,
          );
        }
        return undefined;
      }
      if (this.unsafe.delete(file)) this.logger?.info({ tokenFile: file }, 'client token file is safe again');
      const token = await handle.readFile('utf8');
      return token.length > 0 ? sha256(token) : undefined;
    } catch {
      return undefined;
    } finally {
      await handle?.close();
    }
  }
}

// Hashing first gives equal-length buffers for timingSafeEqual and hides the token's length.
function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
