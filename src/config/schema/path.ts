// The path type: a setting that names a file is declared as one (PathSchema, or a `file:` secret
// reference), and a relative value resolves against the config file's folder while that file is
// parsed. The schema says which settings are paths; nothing guesses from a key's name.
import path from 'node:path';
import * as z from 'zod';

/** The folder relative paths resolve against, set only while loadConfig parses one file (zod
 * passes no context to a transform, and the parse is synchronous, so nothing else can see it). */
let baseDir: string | undefined;

/** Runs `parse` (a synchronous zod parse) with relative paths resolved against `dir`. Without it,
 * paths stay as written (tests that build a config in memory). */
export function resolvingPathsAgainst<T>(dir: string, parse: () => T): T {
  baseDir = dir;
  try {
    return parse();
  } finally {
    baseDir = undefined;
  }
}

function resolvePath(value: string): string {
  return baseDir === undefined ? value : path.resolve(baseDir, value);
}

/** `file:relative/path` → `file:/config/dir/relative/path`; other references (env:, credential:)
 * and absolute `file:` paths are kept as written. */
export function resolveFileRef(value: string): string {
  if (!value.startsWith('file:') || path.isAbsolute(value.slice(5))) return value;
  return `file:${resolvePath(value.slice(5))}`;
}

/** A file path setting (token file, certificate, keytab, krb5.conf, CA bundle). */
export const PathSchema = z.string().min(1).transform(resolvePath);
