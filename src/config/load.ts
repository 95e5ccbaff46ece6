import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type * as z from 'zod';
import { ConfigError } from '../errors.ts';
import { type Config, ConfigSchema, resolvingPathsAgainst } from './schema/index.ts';

export { DEFAULT_CONFIG_PATH } from './default-path.ts';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file, for messages and reloads. */
  file: string;
}

/** Read, parse and validate a config file. Every failure is one ConfigError naming file, path and fix. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError(`${absolute}: cannot read the config file (${why}); pass --config PATH`, {
      cause: err,
    });
  }
  return { config: parseConfig(text, absolute), file: absolute };
}

/** Parse YAML text and validate it; relative file paths are resolved against the file's folder. */
export function parseConfig(text: string, file: string): Config {
  if (text.includes('\u0000')) {
    // YAML would read such a file as one odd string and the message would not say why
    throw new ConfigError(
      `${file}: not a text file (it holds NUL bytes: binary data, or text saved as UTF-16); save the config as UTF-8 YAML`,
    );
  }
  let raw: unknown;
  try {
    // logLevel error: the yaml package would print warnings (an unknown `!tag`) to stderr with the
    // offending line quoted, and that line may hold a secret written inline by mistake.
    raw = parseYaml(text, { prettyErrors: true, maxAliasCount: 100, logLevel: 'error' });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` line ${err.linePos[0].line}:` : '';
    const first = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file}:${where} not valid YAML: ${first}`, { cause: err });
  }
  if (raw === null || raw === undefined) raw = {};
  // reportInput: tells a missing setting (input undefined) from one of the wrong type; the input
  // itself is never printed (it may be a secret written inline by mistake). jitless: zod would
  // otherwise compile a parser per object schema (new Function) for a parse done once per start or
  // reload: ~10 ms more at start with one profile, ~4 ms with 100 (docs/performance.md).
  const result = resolvingPathsAgainst(path.dirname(file), () =>
    ConfigSchema.safeParse(raw, { reportInput: true, jitless: true }),
  );
  if (!result.success) throw new ConfigError(formatIssues(file, result.error.issues));
  return result.data;
}

/** Every issue on its own line: `file: a.b.c: what is wrong (how to fix)`; the first line says how many. */
export function formatIssues(file: string, issues: z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => `${file}: ${formatPath(issue.path)}: ${explain(issue)}`);
  return lines.length === 1 ? lines[0]! : `${lines.length} problems in the config:\n  ${lines.join('\n  ')}`;
}

function formatPath(p: PropertyKey[]): string {
  return p.length === 0 ? '(top level)' : p.map(String).join('.');
}

function explain(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove it or check the spelling`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `required: add ${issue.expected === 'object' || issue.expected === 'record' ? 'this section' : `a ${issue.expected}`}`;
  return issue.message;
}
