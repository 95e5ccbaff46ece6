// Runs the command examples of the docs (README.md, docs/*.md) and of `--help` against a real test
// world: an OpenID Provider and the STS emulator (test/harness/world.ts), a config with the
// profiles `default` and `reports`, and `credential-broker` on PATH.
//
// What a documented command may say, and what it runs as:
//
//   documented                              runs as
//   /etc/credential-broker/config.yaml      the world's config file; a `serve`, `check`, `exec`,
//                                           `status`, `env` or `credential-process` without
//                                           --config gets it too (it is the default path)
//   /run/credential-broker/                 a temp folder (the world's token files are there)
//   127.0.0.1:9911                          127.0.0.1:<a free port> (the world's server.listen)
//   credential-broker, node bin/credential-broker.js
//                                           a shim on PATH that runs bin/credential-broker.js
//                                           (dist/, when at least as new as src/; else src/main.ts
//                                           through tsx: brokerEntry() of serve-process.ts)
//
// The world's profiles: `default` assumes role/billing-batch, `reports` role/reports, both through
// the OIDC client of test/harness/world.ts, with session names `{hostname}-{profile}`.
// Output is mapped back (temp paths and the port read as documented) before it is compared.
// Each line runs in `bash -c` with cwd = a temp folder holding the repo's top-level entries (links,
// a few copies: COPIED), so that `node bin/...` and `npm run demo` work and `--out ./x` writes to
// the temp folder; HOME = a temp folder; and the variables exported (and the cd) of earlier lines
// of the same block.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { COMMANDS } from '../../src/cli/index.ts';
import { parseConfig } from '../../src/config/load.ts';
import { exitWithParent } from './exit-with-parent.ts';
import { freePort } from './listen.ts';
import { brokerEntry } from './serve-process.ts';
import { startWorld, type World } from './world.ts';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const DOC_CONFIG = '/etc/credential-broker/config.yaml';
export const DOC_RUN_DIR = '/run/credential-broker/';
export const DOC_LISTEN = '127.0.0.1:9911';
const BROKER_COMMANDS = new Set([...COMMANDS.map((c) => c.name), 'help']);

/** Programs a runnable block may use; anything else needs `sh norun: <reason>`. */
const ALLOWED = new Set([
  'credential-broker',
  'npm',
  'curl',
  'export',
  'eval',
  'cd',
  'echo',
  'printf',
  'pwd',
  'cat',
  'ls',
  'test',
  'grep',
  'head',
  'tail',
  'wc',
  'jq',
  'mkdir',
  'chmod',
  'true',
]);
/** `npm run` scripts that `npm test` already runs: skipped, not run twice. */
const NPM_PART_OF_TEST = new Set(['build', 'lint', 'typecheck', 'test:unit']);

/**
 * Copied into the commands' folder rather than linked: `npm run demo` builds before it runs, and
 * its build must land in this copy of dist/ (which the copied bin/ and scripts/ use), not in the
 * repo's dist/ while other test files load it.
 */
const COPIED = new Set(['bin', 'scripts', 'dist', 'tsconfig.json', 'tsconfig.build.json']);

/** Hang guards, not speed limits: generous enough for a loaded 2-core machine. */
const COMMAND_TIMEOUT_MS = 60_000;
/**
 * `npm run demo` builds (tsc), then runs for ~2 s: 12-20 s on an idle 2-core machine, ~60 s while
 * the rest of the suite runs beside it. Its time is reported (RunReport.demoMs), not asserted.
 */
const DEMO_TIMEOUT_MS = 300_000;

// ---------------------------------------------------------------------------------------------
// Markdown

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The info string after the language, e.g. `exit=1` or `norun: needs systemd`. */
  info: string;
  body: string[];
}

export function extractBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^ {0,3}${fence![0]}{${fence!.length},}\\s*$`);
      if (close.test(lines[j]!)) break;
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
    }
    blocks.push({ file, line: i + 1, lang: lang!.toLowerCase(), info: info!.trim(), body });
    i = j;
  }
  return blocks;
}

/** README.md and every docs/**\/*.md, found anew on each run so that a new page is covered. */
export async function markdownFiles(): Promise<string[]> {
  const docs = await readdir(path.join(ROOT, 'docs'), { recursive: true });
  return [
    'README.md',
    ...docs
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join('docs', f))
      .sort(),
  ];
}

export const isShell = (b: Block) => ['sh', 'bash', 'shell'].includes(b.lang);

export function blockExit(b: Block): number {
  const m = /(?:^|\s)exit=(\d+)\b/.exec(b.info);
  return m ? Number(m[1]) : 0;
}

/** The reason of `sh norun: <reason>`; '' when norun has none; undefined when not norun. */
export function norunReason(b: Block): string | undefined {
  const m = /(?:^|\s)norun\b:?(.*)$/.exec(b.info);
  return m ? m[1]!.trim() : undefined;
}

export interface Step {
  /** Where it is documented, for messages: `README.md:34`. */
  where: string;
  command: string;
  /** console blocks: lines that must appear, in order, in the output. */
  expected?: string[];
}

/** A shell block's commands: `\` continuations joined, comments and blank lines dropped. */
export function shellSteps(b: Block): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < b.body.length; i++) {
    const start = i;
    let text = b.body[i]!;
    while (text.endsWith('\\') && i + 1 < b.body.length) text = `${text.slice(0, -1)} ${b.body[++i]!.trim()}`;
    const command = stripComment(text).trim();
    if (command) steps.push({ where: `${b.file}:${b.line + 1 + start}`, command });
  }
  return steps;
}

/** A console block's `$ ` commands, each with the output lines that follow it. */
export function consoleSteps(b: Block): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < b.body.length; i++) {
    const line = b.body[i]!;
    if (line.startsWith('$ ')) {
      const start = i;
      let text = line.slice(2);
      while (text.endsWith('\\') && i + 1 < b.body.length) {
        text = `${text.slice(0, -1)} ${b.body[++i]!.replace(/^>\s?/, '').trim()}`;
      }
      steps.push({
        where: `${b.file}:${b.line + 1 + start}`,
        command: stripComment(text).trim(),
        expected: [],
      });
    } else if (steps.length > 0) {
      steps.at(-1)!.expected!.push(line);
    }
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------
// Shell words, outside quotes

/** Drops a trailing `# comment` (a `#` at a word start, outside quotes). */
export function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** The simple commands of a line: split at `&&`, `||`, `;`, `|` outside quotes, plus each `$(…)`. */
export function simpleCommands(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '$' && line[i + 1] === '(' && quote !== "'") {
      // Command substitution, also inside double quotes (`eval "$(credential-broker env ...)"`).
      let depth = 1;
      let j = i + 2;
      for (; j < line.length && depth > 0; j++) depth += line[j] === '(' ? 1 : line[j] === ')' ? -1 : 0;
      out.push(...simpleCommands(line.slice(i + 2, j - 1)));
      current += line.slice(i, j);
      i = j - 1;
    } else if (quote) {
      current += c;
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === ';' || c === '|' || (c === '&' && line[i + 1] === '&')) {
      if (line[i + 1] === c) i++;
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.map((s) => s.trim()).filter(Boolean);
}

/** The program a simple command runs (after `VAR=value` assignments) and its words. */
export function programOf(simple: string): { program: string; words: string[] } {
  const words = simple.split(/\s+/).filter(Boolean);
  while (words.length > 1 && /^\w+=/.test(words[0]!)) words.shift();
  const program =
    words[0] === 'node' && words[1]?.endsWith('credential-broker.js') ? 'credential-broker' : words[0]!;
  return { program: program.replace(/^["']|["']$/g, ''), words };
}

/** True when a line runs the broker's CLI (as opposed to naming a user, image or unit after it). */
export function runsBroker(line: string): boolean {
  return simpleCommands(line).some((s) => {
    const { program, words } = programOf(s);
    const first = words[0] === 'node' ? words[2] : words[1];
    return (
      program === 'credential-broker' ||
      (/credential-broker(\.js)?$/.test(program) &&
        (first === undefined || BROKER_COMMANDS.has(first) || first.startsWith('-')))
    );
  });
}

// ---------------------------------------------------------------------------------------------
// What a line is

export type Plan =
  | { kind: 'skip'; why: string }
  | { kind: 'ci' }
  | { kind: 'demo'; command: string }
  | { kind: 'serve'; command: string }
  | { kind: 'run'; command: string };

/** Decides what to do with a documented command; throws naming the fix when it may not run here. */
export function plan(step: Step): Plan {
  const command = step.command.replace(
    /(^|[\s;&|(])node bin\/credential-broker\.js(?=\s|$)/g,
    '$1credential-broker',
  );
  const ci = /^npm ci\b[^&]*(?:&&\s*(.*))?$/.exec(command);
  if (ci) {
    return ci[1]
      ? plan({ ...step, command: ci[1] })
      : { kind: 'skip', why: 'npm ci: the test runs in the installed tree' };
  }
  if (/^npm (test|t)\s*$/.test(command)) return { kind: 'ci' };
  if (/^npm run demo\s*$/.test(command)) return { kind: 'demo', command };
  const script = /^npm run (\S+)\s*$/.exec(command)?.[1];
  if (script && NPM_PART_OF_TEST.has(script))
    return { kind: 'skip', why: `npm run ${script}: a step of npm test` };
  for (const simple of simpleCommands(command)) {
    const { program, words } = programOf(simple);
    const norun = `${step.where}: "${program}" cannot run in the docs test (${step.command}); mark the block \`sh norun: <reason>\` or use a \`credential-broker\` command`;
    if (!ALLOWED.has(program)) throw new Error(norun);
    if (program === 'npm')
      throw new Error(`${step.where}: only npm ci, npm test and npm run demo are run; ${norun}`);
    if (program === 'curl') {
      const remote = words.filter(
        (w) =>
          /^["']?https?:\/\//.test(w) && !/^["']?https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(w),
      );
      if (remote.length > 0)
        throw new Error(`${step.where}: curl to ${remote[0]} leaves this machine; ${norun}`);
    }
  }
  const serve =
    simpleCommands(command).length === 1 && /^(\w+=\S*\s+)*credential-broker serve\b/.test(command);
  // A trailing `&` is dropped: the runner keeps serve running in the background itself.
  if (serve && !/\s(--help|-h)\b/.test(command))
    return { kind: 'serve', command: command.replace(/\s*&\s*$/, '') };
  return { kind: 'run', command };
}

// ---------------------------------------------------------------------------------------------
// Output comparison

/**
 * The one place that decides what may differ between documented and actual output: ANSI colours,
 * ISO timestamps, durations, access key ids, long base64/hex strings, session names after the role,
 * loopback ports, and runs of spaces (columns move with the width of a duration).
 */
export function normalize(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters
      .replace(/\x1b\[[0-9;]*m/g, '')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?/g, '<time>')
      .replace(/\b\d+(\.\d+)? ?(ms|s|min|h)\b/g, '<duration>')
      .replace(/\b(AKIA|ASIA)[A-Z0-9]{4,}…?/g, '<key id>')
      .replace(/(assumed-role\/[\w+=,.@-]+\/)[\w+=,.@-]+/g, '$1<session>')
      .replace(/[A-Za-z0-9+/]{40,}={0,2}|(?=[\w-]*\d)(?=[\w-]*[A-Z])[\w-]{40,}/g, '<base64>')
      .replace(/\b(127\.0\.0\.1|localhost|\[::1\]):\d+/g, '$1:<port>')
      .replace(/[ \t]+/g, ' ')
  );
}

/** Every non-empty expected line appears, in order, within the actual lines (after normalize). */
export function assertOutputContains(where: string, expected: string[], actual: string): void {
  const actualLines = normalize(actual).split('\n');
  let at = 0;
  for (const raw of expected) {
    const want = normalize(raw).trim();
    if (!want || want === '...' || want === '…') continue;
    const found = actualLines.findIndex((line, i) => i >= at && line.includes(want));
    assert.ok(
      found >= 0,
      `${where}: expected output line not found (in order):\n  ${raw}\nnormalized: ${want}\nactual output (normalized):\n${actualLines.slice(at).join('\n')}`,
    );
    at = found + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// The world the commands run in

export const DOC_ROLES = {
  default: 'arn:aws:iam::123456789012:role/billing-batch',
  reports: 'arn:aws:iam::123456789012:role/reports',
} as const;

export interface DocsWorld {
  world: World;
  /** The config file that stands for /etc/credential-broker/config.yaml. */
  configFile: string;
  runDir: string;
  port: number;
  /** cwd of every command: symlinks to the repo's top-level entries. */
  workDir: string;
  /** How `credential-broker` runs (for the test's diagnostics). */
  entry: string;
  substitute(text: string): string;
  unsubstitute(text: string): string;
  close(): Promise<void>;
}

export async function startDocsWorld(): Promise<DocsWorld> {
  const world = await startWorld();
  for (const roleArn of Object.values(DOC_ROLES)) {
    world.sts.trustRole({ roleArn, issuer: world.op.issuer, audience: 'sts.amazonaws.com' });
  }
  const at = (...p: string[]) => path.join(world.dir, ...p);
  const runDir = `${at('run')}/`;
  for (const d of ['run', 'etc', 'bin', 'home', 'work']) await mkdir(at(d), { recursive: true });
  const port = await freePort();
  const configFile = at('etc', 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      server: { listen: `127.0.0.1:${port}`, tokenFile: `${runDir}token` },
      sts: { region: 'eu-west-1', endpoint: world.sts.url, timeout: '10s' },
      profiles: Object.fromEntries(
        Object.entries(DOC_ROLES).map(([name, arn]) => [
          name,
          world.oidcProfile({ role: { arn, sessionName: '{hostname}-{profile}' } }),
        ]),
      ),
    }),
  );
  for (const entry of await readdir(ROOT)) {
    if (entry === '.git') continue;
    if (COPIED.has(entry)) await cp(path.join(ROOT, entry), at('work', entry), { recursive: true });
    else await symlink(path.join(ROOT, entry), at('work', entry));
  }
  const { args, label } = brokerEntry();
  const node = [process.execPath, ...args].map((a) => `'${a}'`).join(' ');
  // The documented default config path is the world's: add --config when a command has none.
  await writeFile(
    at('bin', 'credential-broker'),
    `#!/bin/sh
case "$1" in
  serve|check|env|credential-process|exec|status)
    for a in "$@"; do case "$a" in --) break;; -c|-c?*|--config|--config=*) exec ${node} "$@";; esac; done
    # Right after the command: exec's own arguments end at "--".
    command="$1"; shift
    exec ${node} "$command" --config '${configFile}' "$@";;
esac
exec ${node} "$@"
`,
    { mode: 0o755 },
  );
  // Whole paths and addresses only: /run/credential-broker(/...) but not /run/credential-broker-x.
  const table: [string, string][] = [
    [DOC_CONFIG, configFile],
    [DOC_RUN_DIR.replace(/\/$/, ''), runDir.replace(/\/$/, '')],
    [DOC_LISTEN, `127.0.0.1:${port}`],
  ];
  const swap = (text: string, from: string, to: string) =>
    text.replace(new RegExp(`${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-]|\\.\\w)`, 'g'), to);
  return {
    world,
    configFile,
    runDir,
    port,
    workDir: at('work'),
    entry: label,
    substitute: (text) => table.reduce((t, [doc, real]) => swap(t, doc, real), text),
    unsubstitute: (text) => table.reduce((t, [doc, real]) => swap(t, real, doc), text),
    close: () => world.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Running

export interface RunOptions {
  /** What every command must exit with (`exit=N` on the block); `serve` always exits 0 on SIGTERM. */
  exit?: number;
}

export interface RunReport {
  executed: number;
  skipped: { where: string; why: string }[];
  /** How long `npm run demo` took, when the steps ran it. */
  demoMs?: number;
}

interface Running {
  child: ChildProcess;
  where: string;
  output: () => string;
  exited: Promise<number | string | null>;
}

/** Runs a block's steps in order; a `serve` keeps running until the next `serve` or the end. */
export async function runSteps(dw: DocsWorld, steps: Step[], opts: RunOptions = {}): Promise<RunReport> {
  const report: RunReport = { executed: 0, skipped: [] };
  const state = path.join(dw.world.dir, `state-${Math.random().toString(36).slice(2)}`);
  await writeFile(`${state}.env`, '');
  await writeFile(`${state}.cwd`, dw.workDir);
  let serving: Running | undefined;
  try {
    for (const step of steps) {
      const p = plan(step);
      if (p.kind !== 'skip' && /^npm ci\b/.test(step.command)) {
        report.skipped.push({
          where: step.where,
          why: 'npm ci: the test runs in the installed tree (the rest of the line runs)',
        });
      }
      if (p.kind === 'skip') {
        report.skipped.push({ where: step.where, why: p.why });
        continue;
      }
      if (p.kind === 'ci') {
        await assertCiRunsExactly(step);
        report.skipped.push({ where: step.where, why: 'npm test: .ci/run runs exactly this (checked)' });
        continue;
      }
      const command = dw.substitute(p.command);
      assertWritesInside(dw, step, command);
      report.executed++;
      if (p.kind === 'serve') {
        if (serving) await stopServe(dw, serving);
        serving = await startServe(dw, step, command, state);
        if (step.expected) assertOutputContains(step.where, step.expected, dw.unsubstitute(serving.output()));
        continue;
      }
      const started = Date.now();
      const timeout = p.kind === 'demo' ? DEMO_TIMEOUT_MS : COMMAND_TIMEOUT_MS;
      const { code, output } = await runLine(dw, command, state, timeout);
      const shown = dw.unsubstitute(output);
      const want = opts.exit ?? 0;
      assert.equal(
        code,
        want,
        `${step.where}: \`${step.command}\` exited ${code}, expected ${want}; output:\n${shown}`,
      );
      if (p.kind === 'demo') {
        report.demoMs = Date.now() - started;
        assert.match(
          shown,
          /^caller ARN: +arn:aws:sts::\d{12}:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+$/m,
          `${step.where}: npm run demo printed no caller ARN line:\n${shown}`,
        );
      }
      if (step.expected) assertOutputContains(step.where, step.expected, shown);
    }
  } finally {
    if (serving) await stopServe(dw, serving);
  }
  return report;
}

function shellEnv(dw: DocsWorld): NodeJS.ProcessEnv {
  // Not the test runner's environment: no AWS_* settings, NODE_OPTIONS or test-runner context.
  return {
    PATH: `${path.join(dw.world.dir, 'bin')}:${process.env.PATH}`,
    HOME: path.join(dw.world.dir, 'home'),
    LANG: 'C.UTF-8',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    NO_COLOR: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** bash that sees the block's earlier exports and cwd, and saves its own for the next line. */
function script(state: string, body: string): string {
  return `. '${state}.env'; cd "$(cat '${state}.cwd')" || exit 99\n${body}`;
}

async function runLine(
  dw: DocsWorld,
  command: string,
  state: string,
  timeoutMs: number,
): Promise<{ code: number | string | null; output: string }> {
  const child = spawn(
    'bash',
    [
      '-c',
      script(
        state,
        `{ ${command}\n} 2>&1\nrc=$?; export -p > '${state}.env'; pwd > '${state}.cwd'; exit $rc`,
      ),
    ],
    { cwd: dw.workDir, env: shellEnv(dw), stdio: ['ignore', 'pipe', 'ignore'], detached: true },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
  const code = await new Promise<number | string | null>((resolve) =>
    child.once('close', (c, signal) => resolve(c ?? signal)),
  );
  clearTimeout(timer);
  if (code === 'SIGKILL') output += `\n(killed after ${timeoutMs} ms)`;
  return { code, output };
}

async function startServe(dw: DocsWorld, step: Step, command: string, state: string): Promise<Running> {
  // exec: SIGTERM goes to the broker itself, and its exit code is the one observed.
  const execLine = command.replace(/^((?:\w+=\S*\s+)*)/, '$1exec ');
  // The broker (bash execs into it, keeping the pipe on fd 3) ends with this test process, even
  // one cancelled at its timeout before stopServe() runs.
  const watch = exitWithParent(['ignore', 'pipe', 'ignore'], shellEnv(dw));
  const nodeOptions = [watch.options.env?.NODE_OPTIONS, ...watch.nodeArgs].filter(Boolean).join(' ');
  const child = spawn('bash', ['-c', script(state, `${execLine} 2>&1`)], {
    cwd: dw.workDir,
    ...watch.options,
    env: { ...watch.options.env, NODE_OPTIONS: nodeOptions },
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (c, s) => resolve(c ?? s)),
  );
  const running: Running = { child, where: step.where, output: () => output, exited };
  const fail = (why: string) =>
    new Error(`${step.where}: \`${step.command}\` ${why}; output:\n${dw.unsubstitute(output)}`);
  const deadline = Date.now() + 20_000;
  let address: string | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw fail(`exited ${child.exitCode ?? child.signalCode} before it was ready`);
    address ??= /"address":"(http[^"]+)"/.exec(output)?.[1];
    if (address) {
      const status = await fetch(`${address}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return running;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw fail('did not answer 200 on /readyz within 20 s');
}

async function stopServe(dw: DocsWorld, serving: Running): Promise<void> {
  serving.child.kill('SIGTERM');
  const timer = setTimeout(() => serving.child.kill('SIGKILL'), 15_000);
  const code = await serving.exited;
  clearTimeout(timer);
  assert.equal(
    code,
    0,
    `${serving.where}: serve exited ${code} on SIGTERM (expected 0); output:\n${dw.unsubstitute(serving.output())}`,
  );
}

/** A command run as root could write anywhere: only the temp folders (and /dev/null) are allowed. */
function assertWritesInside(dw: DocsWorld, step: Step, command: string): void {
  for (const m of command.matchAll(/(?:^|[^<>&\d])\d?>>?\s*([^\s;&|)]+)/g)) {
    const target = m[1]!.replace(/^["']|["']$/g, '');
    if (target.startsWith('/') && target !== '/dev/null' && !target.startsWith(dw.world.dir)) {
      throw new Error(
        `${step.where}: \`${step.command}\` writes to ${target}, outside the folders the docs test provides (${DOC_RUN_DIR}, the current folder): write to a relative path, or mark the block \`sh norun: <reason>\``,
      );
    }
  }
}

/** `npm test` in the docs is what CI runs: .ci/run must run exactly that command and nothing else. */
async function assertCiRunsExactly(step: Step): Promise<void> {
  const ci = await readFile(path.join(ROOT, '.ci/run'), 'utf8');
  const commands = ci
    .split('\n')
    .map((l) => stripComment(l).trim())
    .filter((l) => l && !/^(set|cd)\s/.test(l));
  assert.deepEqual(commands, [step.command], `${step.where}: .ci/run must run exactly \`${step.command}\``);
}

/** Validates a yaml block with the broker's own parser (a block with `profiles:` is a whole config). */
export function validateYaml(b: Block): void {
  parseConfig(b.body.join('\n'), `${b.file}:${b.line}`);
}
