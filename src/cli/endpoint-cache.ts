// credential_process runs once per SDK credential fetch, and reading the broker's config was most of
// its cost: yaml and zod loaded on every call for three settings (docs/performance.md). What it
// needs of the config (endpoint.ts's EndpointConfig) is kept per user under $XDG_CACHE_HOME (else
// ~/.cache)/credential-broker, keyed by the config file's identity and the broker's build, and read
// back only from a folder and file that only this user can write: whoever could write the entry
// could send this user's client token to a URL of their choosing.
import { createHash } from 'node:crypto';
import { type BigIntStats, constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { buildInfo } from '../telemetry/build-info.ts';
import { type EndpointConfig, endpointPart } from './endpoint.ts';

/** A file modified this recently may be modified again within the same timestamp, unseen by the
 * key: it is not kept (git's index calls such entries "racily clean"). */
const RACY_NS = 2_000_000_000n;

export interface LoadedEndpointConfig {
  config: EndpointConfig;
  /** The absolute config path, or what the config came from (for messages). */
  file: string;
  /** From the IRSA variables, not a file: nothing to key an entry by. */
  fromEnvironment?: boolean;
}

/**
 * The endpoint part of the config at `configPath`: from the cache while the file is unchanged,
 * else from `load` (which parses and validates it; its errors are thrown as they are) and then kept.
 */
export async function endpointConfig(
  configPath: string,
  load: () => Promise<LoadedEndpointConfig>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedEndpointConfig> {
  const file = path.resolve(configPath);
  const entry = entryPath(file, env);
  // Taken before the file is read: a change after this makes the kept key stale, never the content.
  const st = entry ? await stat(file, { bigint: true }).catch(() => undefined) : undefined;
  const key = st && keyOf(file, st);
  const cached = key && entry ? await read(entry, key) : undefined;
  if (cached) return { config: cached, file };
  const loaded = await load();
  if (key && entry && !loaded.fromEnvironment && BigInt(Date.now()) * 1_000_000n - st!.mtimeNs > RACY_NS) {
    await write(entry, key, endpointPart(loaded.config));
  }
  return loaded;
}

/** The entry for one config path; undefined where there is no user id to check files against. */
function entryPath(file: string, env: NodeJS.ProcessEnv): string | undefined {
  if (process.getuid === undefined) return undefined;
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || homedir(), '.cache');
  const name = createHash('sha256').update(file).digest('hex').slice(0, 32);
  return path.join(base, 'credential-broker', `endpoint-${name}.json`);
}

/** Which file, which content (size and both times in ns; ctime also moves on chmod, chown, and a
 * write that restores mtime), and which build read it (a newer one may read the same file otherwise). */
function keyOf(file: string, st: BigIntStats): string {
  const { version, commit } = buildInfo();
  return [version, commit, file, st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(' ');
}

/** Owned by this user and writable by no one else. */
function private_(st: Stats): boolean {
  return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

async function read(entry: string, key: string): Promise<EndpointConfig | undefined> {
  try {
    const dir = await lstat(path.dirname(entry));
    if (!dir.isDirectory() || !private_(dir)) return undefined;
    const handle = await open(entry, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile() || !private_(st)) return undefined;
      const kept = JSON.parse(await handle.readFile('utf8')) as { key?: unknown; config?: EndpointConfig };
      return kept.key === key ? kept.config : undefined;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined; // no entry yet, or one this user cannot read: load the config
  }
}

/** Written to a temporary name and renamed, so a concurrent call reads the old entry or the new. A
 * failure (a read-only or foreign home) only means the next call loads the config again. */
async function write(entry: string, key: string, config: EndpointConfig): Promise<void> {
  const dir = path.dirname(entry);
  const temporary = `${entry}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await lstat(dir);
    if (!st.isDirectory() || !private_(st)) return;
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
