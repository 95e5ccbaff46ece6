// `credential-broker serve` as a real child process, for tests that need what only a process has
// (signals, kill -9, its own event loop under load, stdout/stderr as an operator sees them).
// Runs the shipped entry (bin/credential-broker.js → dist/) when dist/ is at least as new as src/,
// and src/main.ts through tsx otherwise, so a stale build never tests yesterday's code.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exitWithParent } from './exit-with-parent.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/credential-broker.js');
const MAIN = path.join(ROOT, 'src/main.ts');

export type LogEntry = Record<string, unknown> & { msg: string };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

let entryCache: { args: string[]; label: string } | undefined;

/** node arguments that run the broker's CLI, and which form they are (for test diagnostics). */
export function brokerEntry(): { args: string[]; label: string } {
  if (entryCache) return entryCache;
  let built = 0;
  try {
    built = statSync(path.join(ROOT, 'dist/main.js')).mtimeMs;
  } catch {
    // no build: run the sources
  }
  entryCache =
    built >= newestMtime(path.join(ROOT, 'src'))
      ? { args: [BIN], label: 'bin/credential-broker.js (dist/)' }
      : { args: ['--import', 'tsx', MAIN], label: 'src/main.ts via tsx (dist/ is older than src/)' };
  return entryCache;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Extra `--import` modules (fixtures that change the process). */
  preload?: string;
  /** Receives every chunk of stdout and stderr, e.g. a suite-wide secret scan. */
  output?: string[];
}

/** A running `credential-broker <command>`: its JSON log lines (stdout), stderr and exit. */
export class BrokerProcess {
  readonly logs: LogEntry[] = [];
  /** stdout lines that are not JSON (there should be none under `serve`). */
  readonly rawStdout: string[] = [];
  stderr = '';
  /** Exit code, or the signal name when killed. */
  readonly exited: Promise<number | string | null>;
  private waiters: { test: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }[] = [];

  constructor(
    readonly child: ChildProcess,
    private readonly output: string[] = [],
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    child.stderr?.on('data', (d) => {
      this.stderr += d;
      output.push(String(d));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      let entry: LogEntry;
      try {
        entry = JSON.parse(line) as LogEntry;
      } catch {
        this.rawStdout.push(line);
        return;
      }
      this.logs.push(entry);
      for (const w of [...this.waiters]) {
        if (w.test(entry)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(entry);
        }
      }
    });
  }

  /** Everything the process printed so far, stdout and stderr. */
  get allOutput(): string {
    return this.output.join('\n');
  }

  /** The first log line (already written or still to come) matching `test`. */
  waitFor(test: (e: LogEntry) => boolean, what: string, timeoutMs = 10_000): Promise<LogEntry> {
    const seen = this.logs.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.test !== test);
        reject(new Error(`no log line "${what}" within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Waits for the nth (1-based) log line matching `test`. */
  async waitForNth(n: number, test: (e: LogEntry) => boolean, what: string, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.logs.filter(test).length < n) {
      if (Date.now() > deadline)
        throw new Error(`fewer than ${n} log lines "${what}"; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.logs.filter(test)[n - 1]!;
  }

  /** The credentials listener's base URL (http://127.0.0.1:PORT), once it listens. */
  async address(timeoutMs = 30_000): Promise<string> {
    const e = await this.waitFor((l) => l.msg === 'credential broker listening', 'listening', timeoutMs);
    return String(e.address);
  }

  /** Kills the process if it still runs (SIGKILL: a test's cleanup must not wait on a drain). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts `credential-broker <args>` (stdout and stderr piped and recorded). It ends when the test
 * process ends, even one killed or cancelled before its cleanup ran. */
export function spawnBroker(args: string[], opts: SpawnOptions = {}): BrokerProcess {
  const watch = exitWithParent(['ignore', 'pipe', 'pipe'], {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...opts.env,
  });
  const nodeArgs = [
    ...watch.nodeArgs,
    ...(opts.preload ? ['--import', 'tsx', '--import', opts.preload] : []),
    ...brokerEntry().args,
  ];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, ...watch.options });
  return new BrokerProcess(child, opts.output);
}

/** `credential-broker serve --config FILE`. */
export function serveProcess(configFile: string, opts: SpawnOptions = {}): BrokerProcess {
  return spawnBroker(['serve', '--config', configFile], opts);
}

/** Polls `until` every 25 ms; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until GET /readyz answers 200 (the process listens and every profile holds credentials). */
export async function waitReady(base: string, timeoutMs = 20_000): Promise<void> {
  await until(
    `${base}/readyz to answer 200`,
    async () => {
      try {
        return (await fetch(`${base}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    timeoutMs,
  );
}

/** Re-exported: the process tests take their ports from here with the rest of their helpers. */
export { freePort } from './listen.ts';
