// What a command is: its help, its options (which the parser uses as they are, so the help cannot
// promise an option the parser refuses, or the reverse) and how it runs. The table is index.ts.
import type { Io } from './io.ts';

export interface Option {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help (string options). */
  value?: string;
  /** Values a shell may complete (fixed choices), or 'file' / 'dir' for a path. */
  complete?: readonly string[] | 'file' | 'dir';
  help: string;
}

/** A command's parsed options: a string, a boolean or absent each (no option is `multiple`). */
export type Values = Record<string, string | boolean | undefined>;

export interface RunArgs {
  values: Values;
  /** The command's words (commands with `operands` only; after `--` they may start with -). */
  operands: string[];
  /** The operands all came after `--` (what `exec` requires of its command line). */
  terminated: boolean;
  /** --config, else the default path. */
  configPath: string;
}

export interface Command<O extends Record<string, Option> = Record<string, Option>> {
  name: string;
  /** One line, for the command list of `credential-broker --help`, completion and the man page. */
  summary: string;
  /** Synopsis lines, each after "credential-broker ". */
  usage: string[];
  /** What the command does, exit codes included; pre-wrapped lines. */
  description: string;
  options: O;
  /** The words the command takes after its options; absent: none. */
  operands?: {
    /** Their placeholder, e.g. "SHELL" or "CMD [ARGS...]". */
    usage: string;
    /** What a shell may complete them to: fixed words, or a program on PATH. */
    complete?: readonly string[] | 'command';
  };
  /** Command lines that work as written against a broker configured at the default path. */
  examples: string[];
  /** Loads the command's module only when it runs: `serve` and `check` pull in the AWS SDK and fastify. */
  run: (args: RunArgs, io: Io) => Promise<number>;
}

/** Keeps a command's option types literal, for parseOptions(). */
export const command = <const O extends Record<string, Option>>(c: Command<O>) => c;

/** The command's options as node:util parseArgs wants them. */
export function parseOptions<O extends Record<string, Option>>(
  c: Pick<Command<O>, 'options'>,
): { [K in keyof O]: { type: O[K]['type']; short?: string } } {
  return Object.fromEntries(
    Object.entries(c.options).map(([name, o]) => [
      name,
      o.short ? { type: o.type, short: o.short } : { type: o.type },
    ]),
  ) as { [K in keyof O]: { type: O[K]['type']; short?: string } };
}

/** A string option's value, or undefined. */
export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
