// The layout of test/ (docs/design.md, "Tests"): every test file sits in the folder of its
// category, and everything tests share (real parts, the test worlds, fakes, programs a test
// spawns) lives in test/harness/ and nowhere else. Tests import the code they test (src/,
// scripts/), test/harness/ and packages, never another test folder; so does the harness.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TEST = path.join(ROOT, 'test');

/** The test categories: each is a folder of *.test.ts files, run by scripts/test.sh. */
const CATEGORIES = ['unit', 'integration', 'docs', 'deploy', 'packaging', 'reliability'] as const;
const SUPPORT = 'harness';

/** Every file under test/, relative to the repository root, with `/` separators. */
function testFiles(): string[] {
  return readdirSync(TEST, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(ROOT, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

/** Where a file must not be, as a sentence; undefined when it is where it belongs. */
function misplaced(file: string): string | undefined {
  const [, folder, ...rest] = file.split('/');
  const isTest = file.endsWith('.test.ts');
  if (folder === SUPPORT) {
    return isTest ? `${file}: a test inside test/${SUPPORT}/; move it to its category folder` : undefined;
  }
  if (!(CATEGORIES as readonly string[]).includes(folder ?? '')) {
    return `${file}: test/ holds only ${CATEGORIES.join(', ')} and ${SUPPORT}/`;
  }
  if (!isTest) return `${file}: support code belongs in test/${SUPPORT}/, not test/${folder}/`;
  if (rest.length !== 1) return `${file}: category folders are flat`;
  return undefined;
}

/** A file's relative imports of anything but the code under test (src/, scripts/) and test/harness/. */
function strayImports(file: string, text: string): string[] {
  const from = path.posix.dirname(file);
  const allowed = ['src/', 'scripts/', `test/${SUPPORT}/`];
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.posix.normalize(path.posix.join(from, name)))
    .filter((target) => !allowed.some((prefix) => target.startsWith(prefix)))
    .map((target) => `${file} -> ${target}`);
}

describe('test/ layout (docs/design.md, Tests)', () => {
  const files = testFiles();

  it('finds the files it checks', () => {
    assert.ok(files.includes('test/unit/test-layout.test.ts'));
    assert.ok(files.includes(`test/${SUPPORT}/world.ts`));
  });

  it('every test file is in its category folder; support code is only in test/harness/', () => {
    assert.deepEqual(files.map(misplaced).filter(Boolean), []);
  });

  it('the check itself refuses a second support folder, a helper beside tests and a test in the harness', () => {
    assert.match(misplaced('test/helpers/world.ts') ?? '', /test\/ holds only/);
    assert.match(
      misplaced('test/reliability/faulty-world.ts') ?? '',
      /support code belongs in test\/harness/,
    );
    assert.match(misplaced('test/harness/oidc-op.test.ts') ?? '', /a test inside test\/harness/);
    assert.equal(misplaced('test/integration/server.test.ts'), undefined);
  });

  it('tests and harness import only src/, scripts/ and test/harness/ (and packages)', () => {
    const code = files.filter((f) => /\.(ts|mjs)$/.test(f));
    const stray = code.flatMap((f) => strayImports(f, readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(stray, []);
    assert.deepEqual(strayImports('test/docs/help.test.ts', "import { plan } from './runner.ts';"), [
      'test/docs/help.test.ts -> test/docs/runner.ts',
    ]);
  });

  it('bench/ and scripts/ take test code from test/harness/ only', () => {
    const users = ['bench', 'scripts'].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${dir}/${f.split(path.sep).join('/')}`),
    );
    const intoTest = users.flatMap((f) =>
      strayImports(f, readFileSync(path.join(ROOT, f), 'utf8')).filter((s) => s.includes(' -> test/')),
    );
    assert.deepEqual(intoTest, []);
  });
});
