// Running a CLI command in-process with its output captured, as the tests of every command do.
import type { Io } from '../../src/cli/io.ts';
import { run } from '../../src/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command(io)` with an Io that records what it writes. */
export async function captured(command: (io: Io) => Promise<number>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await command({ stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** `credential-broker ARGV...` in this process. */
export function cli(...argv: string[]): Promise<CliResult> {
  return captured((io) => run(argv, io));
}
