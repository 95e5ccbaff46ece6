// credential_process runs once per SDK credential fetch, and reading the broker's config was most of
// its cost: yaml and zod loaded on every call for three settings (docs/performance.md). What it
// needs of the config (endpoint.ts's EndpointConfig: the listen address, whether TLS is on, token
// FILE paths, never a token) is kept per user under $XDG_CACHE_HOME (else ~/.cache)/credential-broker,
// keyed by the config file's identity and the broker's build, and read back only from a folder and
// file that only this user can write: whoever could write the entry could send this user's client
// token to a URL of their choosing. Anything wrong with an entry means the config is loaded in full.
//
// Synchronous fs, and no node:crypto or node:os: this runs once per process, before anything else
// could use the time, and each built-in module loaded costs a call to this command milliseconds.
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
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
  const st = entry ? statOrUndefined(file) : undefined;
  const key = st && keyOf(build, file, st);
  const cached = key && entry ? read(entry, key) : undefined;
  if (cached) return { config: cached, file };
  const loaded = await load();
  if (key && entry && !loaded.fromEnvironment && BigInt(Date.now()) * 1_000_000n - st!.mtimeNs > RACY_NS) {
    write(entry, key, endpointPart(loaded.config));
  }
  return loaded;
}

/** No file, or one this user cannot stat: `load` says why, with the config loader's wording. */
function statOrUndefined(file: string): BigIntStats | undefined {
  try {
    return statSync(file, { bigint: true });
  } catch {
    return undefined;
  }
}

/** Where the entry for one config path is kept; undefined where there is no user id to check files
 * against (Windows). */
export function entryPath(file: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.getuid === undefined) return undefined;
  // XDG: a relative XDG_CACHE_HOME is invalid and is ignored.
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  const home = env.HOME;
  if (!xdg && !home) return undefined;
  const base = xdg ?? path.join(home!, '.cache');
  return path.join(base, 'credential-broker', `endpoint-${fnv1a64(file)}.json`);
}

/** A short name for a path. Not a secure hash, and it need not be: two paths with one name only
 * replace each other's entry, since the entry's key holds the whole path. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
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

function read(entry: string, key: string): EndpointConfig | undefined {
  try {
    const dir = lstatSync(path.dirname(entry));
    if (!dir.isDirectory() || !private_(dir)) return undefined;
    // O_NOFOLLOW: a symlink is refused here; the ownership checks are on what was opened (fstat),
    // so a file swapped in after the folder check is checked too.
    const fd = openSync(entry, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || !private_(st) || st.size > 1 << 20) return undefined;
      const kept = JSON.parse(readFileSync(fd, 'utf8')) as { key?: unknown; config?: unknown };
      return kept.key === key && isEndpointConfig(kept.config) ? kept.config : undefined;
    } finally {
      closeSync(fd);
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
function write(entry: string, key: string, config: EndpointConfig): void {
  const dir = path.dirname(entry);
  // 'wx' below: a name another process (or a crashed one) holds fails this write, nothing else.
  const temporary = `${entry}.${process.pid}-${process.hrtime.bigint()}.tmp`;
  try {
    // Created only inside a cache folder this user owns: run as root with another user's HOME
    // (sudo -E), it would otherwise leave root-owned folders in their home that their own calls
    // could never use.
    if (!ownedFolder(path.dirname(dir)) || !ownedFolder(dir, true)) return;
    writeFileSync(temporary, JSON.stringify({ key, config }), { flag: 'wx', mode: 0o600 });
    renameSync(temporary, entry);
  } catch {
    rmSync(temporary, { force: true });
  }
}

/** `folder` is (or is now made, mode 0700, if its parent is this user's) a folder of this user's; and
 * writable by no one else if `private`. */
function ownedFolder(folder: string, privately = false): boolean {
  const uid = process.getuid?.();
  let st = lstatSync(folder, { throwIfNoEntry: false });
  if (!st) {
    const parent = lstatSync(path.dirname(folder), { throwIfNoEntry: false });
    if (!parent?.isDirectory() || parent.uid !== uid) return false;
    mkdirSync(folder, { mode: 0o700 });
    st = lstatSync(folder);
  }
  return st.isDirectory() && (privately ? private_(st) : st.uid === uid);
}
