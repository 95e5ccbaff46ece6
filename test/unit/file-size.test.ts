// Small modules (docs/design.md, Parts): a file in src/ over 400 lines is doing more than one job
// and is split by what it does (as src/config/schema/ was, one module per config section).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const SRC = path.resolve(import.meta.dirname, '../../src');
const MAX_LINES = 400;

describe('source file size', () => {
  it(`no file in src/ is over ${MAX_LINES} lines`, () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 50, `only ${files.length} files found under ${SRC}`);
    const long = files
      .map((f) => ({ file: f, lines: readFileSync(path.join(SRC, f), 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `src/${f.file}: ${f.lines} lines`);
    assert.deepEqual(long, [], `split these by job (at most ${MAX_LINES} lines each)`);
  });
});
