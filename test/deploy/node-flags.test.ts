// The Node flags the broker is shipped with (scripts/node-flags.ts): every launcher the project
// ships passes exactly them to `serve`, and they do what they are there for (cap V8's young generation, the
// broker's largest block of resident memory: docs/performance.md, "Memory").
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { NODE_FLAGS } from '../../scripts/node-flags.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const execFileP = promisify(execFile);

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
    assert.deepEqual(flagsBetween(words, /^node$/, /credential-broker\.mjs$/), [...NODE_FLAGS]);
  });

  it("the .deb's /usr/bin/credential-broker passes exactly them to serve, and none to other commands", async () => {
    // The launcher run as it is, with its Node replaced by a script that prints what it was given.
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-launcher-'));
    try {
      const node = path.join(dir, 'node');
      await writeFile(node, '#!/bin/sh\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
      const wrapper = await readFile(path.join(ROOT, 'packaging/deb/credential-broker'), 'utf8');
      assert.ok(wrapper.includes('/opt/credential-broker/bin/node'), 'the wrapper execs the packaged node');
      const launcher = path.join(dir, 'credential-broker');
      await writeFile(launcher, wrapper.replaceAll('/opt/credential-broker/bin/node', node), { mode: 0o755 });
      const argsOf = async (...args: string[]) =>
        (await execFileP(launcher, args)).stdout.split('\n').filter(Boolean);
      const script = '/opt/credential-broker/lib/credential-broker.mjs';
      const serve = ['serve', '--config', '/etc/credential-broker/config.yaml'];
      assert.deepEqual(await argsOf(...serve), [...NODE_FLAGS, script, ...serve]);
      assert.deepEqual(await argsOf('--config', 'a b.yaml', 'serve'), [
        ...NODE_FLAGS,
        script,
        '--config',
        'a b.yaml',
        'serve',
      ]);
      const call = ['credential-process', '--profile', 'default'];
      assert.deepEqual(await argsOf(...call), [script, ...call]);
      assert.deepEqual(await argsOf('--version'), [script, '--version']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('Node accepts them, and they keep the young generation at 8 MB or less (32 MB without)', async () => {
    const [capped, uncapped] = [await youngGenerationMb(NODE_FLAGS), await youngGenerationMb([])];
    assert.ok(capped > 0 && capped <= 8, `with ${NODE_FLAGS.join(' ')}: ${capped} MB`);
    assert.ok(uncapped > 8, `the check can fail: without the flags it is ${uncapped} MB`);
  });
});
