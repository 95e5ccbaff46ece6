// credential_process runs once per SDK credential fetch, and reading the broker's config was most of
// its cost: yaml and zod loaded on every call for three settings (docs/performance.md). What it
// needs of the config (endpoint.ts's EndpointConfig: the listen address, whether TLS is on, token
// FILE paths, never a token) is kept per user under $XDG_CACHE_HOME (else ~/.cache)/credential-broker,
// keyed by the config file's identity and the broker's build, and read back only from a folder and
// file that only this user can write: whoever could write the entry could send this user's client
// token to a URL of their choosing. Anything wrong with an entry means the config is loaded in full.
import { createHash, randomBytes } from 'node:crypto';
import { type BigIntStats, constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { buildInfo } from '../telemetry/build-info.ts';
import { type EndpointConfig, endpointPart } from './endpoint.ts';

/** A file modified this recently may be modified again within the same timestamp, unseen by the
 * key: it is not kept (git's index calls such entries "racily clean"). */
const RACY_NS = 2_000_000_000n;
/** The shape of an entry; part of the key, so an entry written in another shape is never read. */
const FORMAT = 'endpoint-cache/1';

export interface LoadedEndpointConfig {
  config: EndpointConfig;
  /** The absolute config path, or what the config came from (for messages). */
  file: string;
  /** From the IRSA variables, not a file: nothing to key an entry by. */
  fromEnvironment?: boolean;
}

export interface EndpointCacheOptions {
  env?: NodeJS.ProcessEnv;
  /** Which build reads the config (default: version and commit of this one). */
  build?: string;
}

/**
 * The endpoint part of the config at `configPath`: from the cache while the file is unchanged,
 * else from `load` (which parses and validates it; its errors are thrown as they are) and then kept.
 */
export async function endpointConfig(
  configPath: string,
  load: () => Promise<LoadedEndpointConfig>,
  { env = process.env, build = thisBuild() }: EndpointCacheOptions = {},
): Promise<LoadedEndpointConfig> {
  const file = path.resolve(configPath);
  const entry = entryPath(file, env);
  // Taken before the file is read: a change after this makes the kept key stale, never the content.
  const st = entry ? await stat(file, { bigint: true }).catch(() => undefined) : undefined;
  const key = st && keyOf(build, file, st);
  const cached = key && entry ? await read(entry, key) : undefined;
  if (cached) return { config: cached, file };
  const loaded = await load();
  if (key && entry && !loaded.fromEnvironment && BigInt(Date.now()) * 1_000_000n - st!.mtimeNs > RACY_NS) {
    await write(entry, key, endpointPart(loaded.config));
  }
  return loaded;
}

/** Where the entry for one config path is kept; undefined where there is no user id to check files
 * against (Windows). */
export function entryPath(file: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.getuid === undefined) return undefined;
  // XDG: a relative XDG_CACHE_HOME is invalid and is ignored.
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  const base = xdg ?? path.join(env.HOME || homedir(), '.cache');
  const name = createHash('sha256').update(file).digest('hex').slice(0, 32);
  return path.join(base, 'credential-broker', `endpoint-${name}.json`);
}

function thisBuild(): string {
  const { version, commit } = buildInfo();
  return `${version} ${commit}`;
}

/** Which file, which content (size and both times in ns; ctime also moves on chmod, chown, and a
 * write that restores mtime), and which build read it (a newer one may read the same file otherwise). */
function keyOf(build: string, file: string, st: BigIntStats): string {
  return [FORMAT, build, file, st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(' ');
}

/** Owned by this user and writable by no one else. */
function private_(st: Stats): boolean {
  return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

async function read(entry: string, key: string): Promise<EndpointConfig | undefined> {
  try {
    const dir = await lstat(path.dirname(entry));
    if (!dir.isDirectory() || !private_(dir)) return undefined;
    // O_NOFOLLOW: a symlink is refused here; the ownership checks are on what was opened (fstat),
    // so a file swapped in after the folder check is checked too.
    const handle = await open(entry, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (!st.isFile() || !private_(st) || st.size > 1 << 20) return undefined;
      const kept = JSON.parse(await handle.readFile('utf8')) as { key?: unknown; config?: unknown };
      return kept.key === key && isEndpointConfig(kept.config) ? kept.config : undefined;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined; // no entry yet, one this user cannot read, or not JSON: load the config
  }
}

/** What endpointFor reads, with the types it reads them as (an entry edited by hand is not trusted to). */
function isEndpointConfig(c: unknown): c is EndpointConfig {
  const optionalString = (v: unknown) => v === undefined || typeof v === 'string';
  if (typeof c !== 'object' || c === null) return false;
  const { server, profiles } = c as { server?: unknown; profiles?: unknown };
  if (typeof server !== 'object' || server === null || typeof profiles !== 'object' || profiles === null) {
    return false;
  }
  const s = server as { listen?: unknown; tls?: unknown; tokenFile?: unknown };
  return (
    typeof s.listen === 'string' &&
    (s.tls === undefined || s.tls === true) &&
    optionalString(s.tokenFile) &&
    Object.values(profiles).every(
      (p) => typeof p === 'object' && p !== null && optionalString((p as { tokenFile?: unknown }).tokenFile),
    )
  );
}

/** Written to a temporary name and renamed, so a concurrent call reads the old entry or the new. A
 * failure (a read-only or foreign home) only means the next call loads the config again. */
async function write(entry: string, key: string, config: EndpointConfig): Promise<void> {
  const dir = path.dirname(entry);
  const temporary = `${entry}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // Created only inside a cache folder this user owns: run as root with another user's HOME
    // (sudo -E), it would otherwise leave root-owned folders in their home that their own calls
    // could never use.
    if (!(await ownedFolder(path.dirname(dir))) || !(await ownedFolder(dir, true))) return;
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ key, config }));
    } finally {
      await handle.close();
    }
    await rename(temporary, entry);
  } catch {
    await rm(temporary, { force: true }).catch(() => {});
  }
}

/** `folder` is (or is now made, mode 0700, if its parent is this user's) a folder of this user's; and
 * writable by no one else if `private`. */
async function ownedFolder(folder: string, privately = false): Promise<boolean> {
  const uid = process.getuid?.();
  let st = await lstat(folder).catch(() => undefined);
  if (!st) {
    const parent = await lstat(path.dirname(folder)).catch(() => undefined);
    if (!parent?.isDirectory() || parent.uid !== uid) return false;
    await mkdir(folder, { mode: 0o700 });
    st = await lstat(folder);
  }
  return st.isDirectory() && (privately ? private_(st) : st.uid === uid);
}
