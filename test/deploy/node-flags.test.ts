// The Node flags the broker is shipped with (scripts/node-flags.ts): every launcher the project
// ships passes exactly them, and they do what they are there for (cap V8's young generation, the
// broker's largest block of resident memory: docs/performance.md, "Memory").
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { NODE_FLAGS } from '../../scripts/node-flags.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The flags between `node` and the script in a launcher's command. */
function flagsBetween(words: string[], node: RegExp, script: RegExp): string[] {
  const at = words.findIndex((w) => node.test(w));
  const end = words.findIndex((w) => script.test(w));
  assert.ok(at >= 0 && end > at, `node … script in: ${words.join(' ')}`);
  return words.slice(at + 1, end);
}

/** The young generation's size once a program has allocated plenty of short-lived objects. */
function youngGenerationMb(flags: readonly string[]): Promise<number> {
  const program = `let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ i }); if (keep.length > 1e5) keep = []; }
const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
console.log(space.space_size / 1048576);`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [...flags, '-e', program], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(Number(stdout.trim())),
    ),
  );
}

describe('the Node flags the broker ships with (scripts/node-flags.ts)', () => {
  it('the image ENTRYPOINT passes exactly them', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
    const words = JSON.parse(entrypoint) as string[];
    assert.deepEqual(flagsBetween(words, /^node$/, /credential-broker\.js$/), [...NODE_FLAGS]);
  });

  it("the .deb's /usr/bin/credential-broker passes exactly them", async () => {
    const wrapper = await readFile(path.join(ROOT, 'packaging/deb/credential-broker'), 'utf8');
    const exec = wrapper.split('\n').find((l) => l.startsWith('exec '));
    assert.ok(exec, 'the wrapper execs node');
    const words = exec.split(/\s+/);
    assert.deepEqual(flagsBetween(words, /\/bin\/node$/, /credential-broker\.mjs$/), [...NODE_FLAGS]);
  });

  it('Node accepts them, and they keep the young generation at 8 MB or less (32 MB without)', async () => {
    const [capped, uncapped] = [await youngGenerationMb(NODE_FLAGS), await youngGenerationMb([])];
    assert.ok(capped > 0 && capped <= 8, `with ${NODE_FLAGS.join(' ')}: ${capped} MB`);
    assert.ok(uncapped > 8, `the check can fail: without the flags it is ${uncapped} MB`);
  });
});
