// The docs are tested like code: every command example in README.md and docs/**/*.md runs against a
// real test world (test/harness/docs-runner.ts says what a documented path or port stands for). Markdown
// files are found anew on every run, so a new page is covered without touching this test.
//
// Conventions for authors, by fenced block:
//   ```sh               each line (`\` continuations joined, `# comments` dropped) runs and must exit 0;
//   ```sh exit=N        ... must exit N. A `credential-broker serve` line runs until /readyz is 200
//                       and keeps running for the rest of the block (then SIGTERM, exit 0).
//                       `export`/`eval` carry over to later lines of the block. `npm ci` is skipped
//                       (the tree is installed), `npm test` is what .ci/run must run exactly,
//                       `npm run demo` runs (quickly, printing the caller ARN). Any other program
//                       (aws, systemctl, docker, kubectl, curl to another host...) fails the test:
//   ```sh norun: WHY    not run (also ```console norun: WHY): needs a reason, and must not contain a
//                       `credential-broker` command (those belong in a block that runs).
//   ```console          `$ ` lines run; the lines after one must appear in its output, in order,
//                       after normalize() (timestamps, durations, key ids, ports, session names).
//   ```yaml             with `profiles:` (unless `yaml fragment`): valid for the broker's parser.
//   ```json             must parse.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Block,
  blockExit,
  consoleSteps,
  type DocsWorld,
  extractBlocks,
  isShell,
  markdownFiles,
  norunReason,
  ROOT,
  type RunReport,
  runSteps,
  runsBroker,
  shellSteps,
  startDocsWorld,
  validateYaml,
} from '../harness/docs-runner.ts';

const files = await Promise.all(
  (await markdownFiles()).map(async (file) => ({
    file,
    blocks: extractBlocks(await readFile(path.join(ROOT, file), 'utf8'), file),
  })),
);

let dw: DocsWorld;
before(async () => {
  dw = await startDocsWorld();
  console.log(`docs test: credential-broker runs ${dw.entry}`);
});
after(() => dw.close());

function kindOf(b: Block): 'run' | 'norun' | 'console' | 'yaml' | 'json' | undefined {
  if (isShell(b) || b.lang === 'console') {
    if (norunReason(b) !== undefined) return 'norun';
    return b.lang === 'console' ? 'console' : 'run';
  }
  if (b.lang === 'yaml' && !/\bfragment\b/.test(b.info) && b.body.some((l) => /^profiles:/.test(l)))
    return 'yaml';
  if (b.lang === 'json') return 'json';
  return undefined;
}

for (const { file, blocks } of files) {
  describe(file, () => {
    const totals = { executed: 0, skipped: 0, checked: 0 };
    after(() =>
      console.log(
        `${file}: ${totals.executed} commands executed, ${totals.skipped} skipped, ${totals.checked} yaml/json/norun blocks checked`,
      ),
    );
    for (const b of blocks) {
      const kind = kindOf(b);
      if (!kind) continue;
      it(`${file}:${b.line} ${b.lang}${b.info ? ` ${b.info}` : ''}`, async () => {
        const where = `${file}:${b.line}`;
        if (kind === 'norun') {
          assert.ok(
            norunReason(b),
            `${where}: \`${b.lang} norun\` needs a reason: \`${b.lang} norun: <why>\``,
          );
          const broker = (b.lang === 'console' ? consoleSteps(b) : shellSteps(b)).find((s) =>
            runsBroker(s.command),
          );
          assert.equal(
            broker,
            undefined,
            `${broker?.where}: a norun block must not hold a credential-broker command (${broker?.command}): move it to a block that runs`,
          );
        } else if (kind === 'yaml') {
          validateYaml(b);
        } else if (kind === 'json') {
          assert.doesNotThrow(() => JSON.parse(b.body.join('\n')), `${where}: not valid JSON`);
        } else {
          const steps = kind === 'console' ? consoleSteps(b) : shellSteps(b);
          const report: RunReport = await runSteps(dw, steps, { exit: blockExit(b) });
          totals.executed += report.executed;
          totals.skipped += report.skipped.length;
          for (const s of report.skipped) console.log(`  ${s.where}: skipped (${s.why})`);
          if (report.demoMs !== undefined) console.log(`  ${where}: npm run demo took ${report.demoMs} ms`);
          assert.ok(
            report.executed > 0,
            `${where}: this ${b.lang} block runs nothing (${report.skipped.map((s) => s.why).join('; ') || 'no commands'}): add a runnable command or mark it \`sh norun: <reason>\``,
          );
          return;
        }
        totals.checked++;
      });
    }
  });
}
