// Client tokens: what an app must send as `Authorization` (the SDKs read it from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). One shared token, plus optional per-profile tokens so
// that app A cannot read app B's role.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/** Re-read token files at most this often, so rotation is picked up without a read per request. */
const REREAD_MS = 1000;

/**
 * Creates the token file if it is missing: 256 random bits, base64url, mode 0600, written to a
 * temporary name and renamed (readers never see half a token), and without a trailing newline:
 * every SDK sends the file verbatim and a "\n" breaks the header.
 */
export async function ensureTokenFile(file: string): Promise<void> {
  try {
    await stat(file);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw tokenFileError(file, err);
  }
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

function tokenFileError(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  return new ConfigError(
    `cannot create or read the client token file ${file} (${code ?? String(err)}); set server.tokenFile (or the profile's tokenFile) to a path the broker may write, such as $RUNTIME_DIRECTORY/token under systemd`,
    { cause: err },
  );
}

/** Where the shared client token lives unless server.tokenFile says otherwise. */
export function defaultTokenFile(): string {
  return path.join(process.env.RUNTIME_DIRECTORY ?? '/run/credential-broker', 'token');
}

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'other-profile';

export class ClientTokens {
  private readonly cache = new Map<string, { digest: Buffer | undefined; readAt: number }>();

  /**
   * @param sharedFile token for profiles without their own
   * @param profileFiles profile → its own token file
   */
  constructor(
    private readonly sharedFile: string,
    private readonly profileFiles: ReadonlyMap<string, string>,
  ) {}

  /** Creates every missing token file; run before serving. */
  async ensureAll(): Promise<void> {
    for (const file of new Set([this.sharedFile, ...this.profileFiles.values()])) await ensureTokenFile(file);
  }

  fileFor(profile: string): string {
    return this.profileFiles.get(profile) ?? this.sharedFile;
  }

  /** Does `presented` (the raw Authorization header) grant `profile`? Constant-time comparisons only. */
  async check(profile: string, presented: string | undefined): Promise<TokenCheck> {
    if (!presented) return 'missing';
    const digest = sha256(presented);
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
    let digest: Buffer | undefined;
    try {
      const token = await readFile(file, 'utf8');
      digest = token.length > 0 ? sha256(token) : undefined;
    } catch {
      digest = undefined; // a missing or unreadable token file grants nothing
    }
    this.cache.set(file, { digest, readAt: now });
    return digest;
  }
}

// Hashing first gives equal-length buffers for timingSafeEqual and hides the token's length.
function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
