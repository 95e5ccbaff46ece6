// A profile's credentials kept in a shared credentials file (~/.aws/credentials format) for tools
// that predate the container endpoint (boto2, Java SDK v1, s3cmd, rclone): rewritten at every
// refresh, removed on stop (profiles.NAME.credentialsFile, src/config/schema/credentials-file.ts).
//
// Only the profile's own section is touched; every other line of the file (sections, comments,
// formatting) is kept byte for byte. That is why sections are spliced as text: the INI libraries
// (`ini`, the SDK's parser) read a file into a map and would drop comments and layout on writing
// it back. The splice knows only section headers, the one thing both need to agree on; the tests
// read the result with the AWS SDK's own parser.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BrokerError } from '../errors.ts';
import { type AwsCredentials, formatExpiration } from '../model/credentials.ts';

/** Where one profile's section goes, and what happens to it on stop. */
export interface CredentialsFileTarget {
  path: string;
  section: string;
  mode: number;
  onStop: 'remove' | 'keep';
}

/** `profiles.NAME.credentialsFile` as validated by config/schema/credentials-file.ts; spelled out
 * here because the cache is below config (test/unit/dependencies.test.ts), and the broker passing
 * the parsed config in keeps the two in step at compile time. */
export interface CredentialsFileSettings {
  path: string;
  section?: string | undefined;
  mode: '0600' | '0640';
  onStop: 'remove' | 'keep';
}

export function targetOf(profile: string, config: CredentialsFileSettings): CredentialsFileTarget {
  return {
    path: path.resolve(config.path),
    section: config.section ?? profile,
    mode: Number.parseInt(config.mode, 8),
    onStop: config.onStop,
  };
}

/** CREDENTIALS_FILE_UNSAFE: someone else could swap the file (exit 78 at start, logged later);
 * CREDENTIALS_FILE_FAILED: reading or writing it failed (permissions, disk). */
export class CredentialsFileError extends BrokerError {}

/** `[name]`, with an optional trailing comment. The name is compared as written, untrimmed, as
 * the AWS SDKs and botocore do: `[ app ]` is not section `app`. */
const SECTION = /^\s*\[([^\]]+)\]\s*(?:[#;].*)?$/;

/** The section's lines for a set of credentials. */
export function sectionLines(profile: string, creds: AwsCredentials): string[] {
  return [
    `# kept by credential-broker for its profile ${profile}: rewritten on refresh`,
    `aws_access_key_id = ${creds.accessKeyId}`,
    `aws_secret_access_key = ${creds.secretAccessKey}`,
    `aws_session_token = ${creds.sessionToken}`,
    // boto2 reads the session token under its older name.
    `aws_security_token = ${creds.sessionToken}`,
    // The name saml2aws writes: SDKs ignore it; people and scripts read when the keys expire.
    `x_security_token_expires = ${formatExpiration(creds.expiration)}`,
  ];
}

/** `text` with section `name` replaced by `body` (in place, or appended), or removed (undefined).
 * A section given twice (the SDKs merge them) is replaced as a whole, where it first appeared. */
export function withSection(text: string, name: string, body: string[] | undefined): string {
  const lines = text.length === 0 ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const block = body ? [`[${name}]`, ...body, ''] : [];
  const out: string[] = [];
  let inside = false;
  let placed = false;
  for (const line of lines) {
    const header = SECTION.exec(line);
    if (header) {
      inside = header[1] === name;
      if (inside) {
        if (!placed) out.push(...block);
        placed = true;
        continue;
      }
    }
    if (!inside) out.push(line);
  }
  if (!placed && block.length > 0) {
    if (out.length > 0 && out.at(-1)!.trim() !== '') out.push('');
    out.push(...block);
  }
  while (out.length > 0 && out.at(-1)!.trim() === '') out.pop();
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/**
 * Why writing `file` could let another user choose what the broker writes or where, or undefined
 * when it cannot: its folder is the broker's user's or root's and nobody else may write it (or it
 * is sticky, as /tmp: there only an entry's owner can replace it), and the path is a regular file
 * of the broker's user or root, not a symbolic link. Creates the folder (0700) when missing.
 */
export async function credentialsFileProblem(file: string): Promise<string | undefined> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // no POSIX owners to check (Windows)
  const trusted = (st: Stats) => st.uid === uid || st.uid === 0;
  const user = uid === 0 ? 'root' : `uid ${uid} (the broker's user) or root`;
  const d = await stat(dir);
  if (!trusted(d)) {
    return `its folder ${dir} is owned by uid ${d.uid}, not ${user}, who could replace the file with a link to another one; use a folder of the broker's user (such as /var/lib/credential-broker/NAME/credentials) or chown the folder`;
  }
  if (d.mode & 0o022 && !(d.mode & 0o1000)) {
    return `its folder ${dir} is writable by ${d.mode & 0o002 ? 'every user' : 'its group'} (mode ${mode(d)}), so anyone there could replace the file; run chmod go-w ${dir}, or use a subfolder the broker creates (${path.join(dir, 'credential-broker', path.basename(file))})`;
  }
  let st: Stats;
  try {
    st = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (st.isSymbolicLink()) {
    return `${file} is a symbolic link: the broker replaces the file at that path and would not write where the link points; set credentialsFile.path to the file itself`;
  }
  if (!st.isFile()) return `${file} is not a regular file; set credentialsFile.path to a file`;
  if (!trusted(st)) {
    return `${file} is owned by uid ${st.uid}, not ${user}: another user may have planted it; remove it and let the broker create it (or chown it to the broker's user)`;
  }
  return undefined;
}

function mode(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

/** Throws CREDENTIALS_FILE_UNSAFE (or _FAILED when the folder cannot be made or read). */
export async function checkCredentialsFile(profile: string, target: CredentialsFileTarget): Promise<void> {
  let problem: string | undefined;
  try {
    problem = await credentialsFileProblem(target.path);
  } catch (err) {
    throw failed(profile, target, err);
  }
  if (problem) {
    throw new CredentialsFileError('CREDENTIALS_FILE_UNSAFE', `credentialsFile ${problem}`, { profile });
  }
}

function failed(profile: string, target: CredentialsFileTarget, err: unknown): CredentialsFileError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new CredentialsFileError(
    'CREDENTIALS_FILE_FAILED',
    `cannot write credentialsFile ${target.path} (${code}); give the broker's user write access to its folder, or set credentialsFile.path to a folder it owns`,
    { profile, cause: err },
  );
}

/**
 * Writes and removes sections, one change at a time per file (two profiles may share a file), each
 * as a whole new file renamed over the old one: a reader sees the old file or the new, never half.
 */
export class CredentialsFiles {
  private readonly queues = new Map<string, Promise<void>>();

  write(profile: string, target: CredentialsFileTarget, creds: AwsCredentials): Promise<void> {
    return this.change(profile, target, sectionLines(profile, creds));
  }

  /** Removes the section when the target says so (onStop: remove). */
  stop(profile: string, target: CredentialsFileTarget): Promise<void> {
    return target.onStop === 'remove' ? this.change(profile, target, undefined) : Promise.resolve();
  }

  /** Resolves when every change queued so far is done, whatever its outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }

  private change(profile: string, target: CredentialsFileTarget, body: string[] | undefined): Promise<void> {
    const next = (this.queues.get(target.path) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => rewrite(profile, target, body));
    this.queues.set(target.path, next);
    return next;
  }
}

async function rewrite(profile: string, target: CredentialsFileTarget, body: string[] | undefined) {
  // Checked before every write, not only at start: the folder's mode or the file may change.
  await checkCredentialsFile(profile, target);
  const file = target.path;
  let old: string | undefined;
  try {
    old = await readNoFollow(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw failed(profile, target, err);
  }
  if (old === undefined && !body) return;
  const text = withSection(old ?? '', target.section, body);
  try {
    if (text === '') {
      // Only the broker's section was in it: leave no empty file behind.
      await rm(file, { force: true });
      return;
    }
    await replace(file, text, target.mode);
  } catch (err) {
    throw failed(profile, target, err);
  }
}

async function readNoFollow(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** A new file with `text` and `fileMode` (whatever the umask), renamed over `file`. */
async function replace(file: string, text: string, fileMode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // `wx`: O_EXCL, so a link planted at the temporary name is refused, not followed.
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.chmod(fileMode);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Checks every profile's credentialsFile before `serve` listens (and before a reload takes a
 * config): an unsafe one is a config problem, refused with exit 78 (src/error-codes/serving.ts)
 * like an unsafe token file. */
export async function checkCredentialsFiles(
  profiles: Record<string, { credentialsFile?: CredentialsFileSettings | undefined }>,
): Promise<void> {
  for (const [name, profile] of Object.entries(profiles)) {
    if (!profile.credentialsFile) continue;
    await checkCredentialsFile(name, targetOf(name, profile.credentialsFile));
  }
}
