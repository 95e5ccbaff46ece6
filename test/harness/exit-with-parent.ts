// Spawn options for a node child that ends when this process ends, however it ends: the demo's and
// the tests' `credential-broker serve` children outlived a test cancelled at its timeout (one ran
// for an hour). The child side is ./exit-with-parent.mjs; a `kill -9` of the parent is covered by
// test/integration/exit-with-parent.test.ts.
import type { SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PRELOAD = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'exit-with-parent.mjs'),
).href;
/** The child's fd that carries the pipe (after stdin, stdout, stderr). */
const FD = 3;

type Io = 'ignore' | 'pipe' | 'inherit';

/** `node` arguments to put first, and the spawn options to merge (stdio for fds 0-2 as given). */
export function exitWithParent(
  stdio: [Io, Io, Io],
  env: NodeJS.ProcessEnv,
): { nodeArgs: string[]; options: SpawnOptions & { stdio: Io[] } } {
  return {
    nodeArgs: ['--import', PRELOAD],
    options: { stdio: [...stdio, 'pipe'], env: { ...env, EXIT_WITH_PARENT_FD: String(FD) } },
  };
}
