// Children die with their parent: a `credential-broker serve` started through the tests' helper
// (test/harness/serve-process.ts, which the demo's spawn shares via test/harness/exit-with-parent.ts)
// ends when the process that started it is killed with SIGKILL, which leaves no cleanup to run. A
// node child spawned without the helper, by the same parent, is the control: it keeps running.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { stringify } from 'yaml';

const HELPER = new URL('../harness/serve-process.ts', import.meta.url).href;

let dir: string;
let parent: ChildProcess | undefined;
const strays: number[] = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cb-exit-with-parent-'));
});
after(async () => {
  parent?.kill('SIGKILL');
  for (const pid of strays) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Running and not a zombie (a container's PID 1 may not reap orphans: a zombie has ended). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

it('kill -9 of the parent: its serve child is gone within seconds; an unwatched child is not', {
  timeout: 120_000,
}, async () => {
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    stringify({
      server: { listen: '127.0.0.1:0', tokenFile: path.join(dir, 'token') },
      profiles: {
        // lazy: serve starts and stays up without an IdP or STS to talk to
        default: {
          lazy: true,
          source: { type: 'web-identity-file', tokenFile: path.join(dir, 'jwt') },
          role: { arn: 'arn:aws:iam::123456789012:role/app' },
        },
      },
    }),
  );
  // The parent: starts serve through the helper and a plain node child, prints both pids, waits.
  const script = `
    import { spawn } from 'node:child_process';
    import { serveProcess } from ${JSON.stringify(HELPER)};
    const served = serveProcess(${JSON.stringify(config)});
    await served.address(60_000);
    const plain = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    console.log(JSON.stringify({ serve: served.child.pid, plain: plain.pid }));
    setInterval(() => {}, 1000);
  `;
  parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: parent!.stdout! }).once('line', resolve);
    parent!.once('exit', (code) => reject(new Error(`the parent exited (${code}) before serve listened`)));
  });
  const pids = JSON.parse(line) as { serve: number; plain: number };
  strays.push(pids.serve, pids.plain);
  assert.ok(alive(pids.serve) && alive(pids.plain), 'both children run while the parent does');

  parent.kill('SIGKILL');
  await new Promise((r) => parent!.once('exit', r));

  // SIGTERM on end-of-file, SIGKILL 5 s later at the latest: 15 s leaves room for a loaded machine.
  assert.ok(
    await gone(pids.serve, 15_000),
    `serve (pid ${pids.serve}) still runs after its parent was killed`,
  );
  assert.ok(alive(pids.plain), 'the control: a child spawned without the helper outlives its parent');
});
