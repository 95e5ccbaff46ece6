// The error codes are one typed list (src/error-codes/): docs/errors.md is generated from it, and
// every mechanism page's troubleshooting table is held to it, so a code cannot be misspelt, left
// undocumented, or documented with another retry behaviour than the list's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ERRORS_FILE,
  errorTables,
  PAGE_SECTION,
  pageFile,
  renderErrorReference,
} from '../../scripts/error-reference.ts';
import { CODE_GROUPS, CODES, type CodeInfo, type DocPage } from '../../src/error-codes/index.ts';
import { ConfigError, EXIT, exitCodeOf, SourceError } from '../../src/errors.ts';

const SRC = path.resolve(import.meta.dirname, '../../src');
const LIST = CODES as Record<string, CodeInfo>;
const PAGES = Object.keys(PAGE_SECTION) as DocPage[];

function tablesOf(page: DocPage) {
  return errorTables(readFileSync(pageFile(page), 'utf8'));
}

describe('error codes (src/error-codes/, docs/errors.md)', () => {
  it('docs/errors.md is up to date with the list', () => {
    const actual = readFileSync(ERRORS_FILE, 'utf8');
    const expected = renderErrorReference();
    if (actual === expected) return;
    const a = actual.split('\n');
    const line = expected.split('\n').findIndex((text, i) => text !== a[i]);
    assert.fail(`docs/errors.md is stale (first difference at line ${line + 1}): run npm run docs:errors`);
  });

  it('no two areas of the list define the same code', () => {
    const all = CODE_GROUPS.flatMap((g) => Object.keys(g.codes));
    assert.deepEqual(
      all.filter((c, i) => all.indexOf(c) !== i),
      [],
    );
    assert.equal(all.length, Object.keys(CODES).length);
  });

  it('every code in the list is given out somewhere in src/', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.startsWith('error-codes'))
      .map((f) => readFileSync(path.join(SRC, f), 'utf8'))
      .join('\n');
    const unused = Object.keys(CODES).filter((c) => !files.includes(`'${c}'`));
    assert.deepEqual(unused, [], 'codes nothing in src/ uses: remove them from src/error-codes/');
  });

  it('every code a mechanism page names is in the list, with the status the list gives', () => {
    const unknown: string[] = [];
    for (const page of PAGES) {
      const rows = tablesOf(page);
      assert.ok(rows.length > 0, `docs/${page}.md has no error table`);
      for (const row of rows) {
        for (const code of row.codes) {
          const known = code.endsWith('*')
            ? Object.keys(CODES).some((c) => c.startsWith(code.slice(0, -1)))
            : code in LIST;
          if (!known) unknown.push(`docs/${page}.md:${row.line}: ${code}`);
          const status = /^`(\d{3}) /.exec(row.cells[0] ?? '')?.[1];
          if (page === 'applications' && known && status !== undefined) {
            assert.equal(String(LIST[code]?.http), status, `docs/${page}.md:${row.line}: ${code}`);
          }
        }
      }
    }
    assert.deepEqual(unknown, [], 'codes in the docs that src/error-codes/ does not define');
  });

  it("every mechanism page's table names the codes the list files under it, and no others", () => {
    const problems: string[] = [];
    for (const page of PAGES) {
      const named = new Set(tablesOf(page).flatMap((r) => r.codes));
      for (const [code, info] of Object.entries(LIST)) {
        const listed = info.docs.includes(page);
        if (listed && !named.has(code)) problems.push(`docs/${page}.md lacks ${code}`);
        if (!listed && named.has(code)) problems.push(`docs/${page}.md names ${code}, not filed under it`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("the pages' retried column agrees with the list", () => {
    const problems: string[] = [];
    for (const page of PAGES) {
      for (const row of tablesOf(page).filter((r) => r.codesOnly)) {
        const said = (row.cells.at(-1) ?? '').replace(/\s*\(.*\)$/, '');
        for (const code of row.codes) {
          if (LIST[code] && LIST[code].retried !== said) {
            problems.push(
              `docs/${page}.md:${row.line}: ${code} says "${said}", the list "${LIST[code].retried}"`,
            );
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('finds codes in both table forms, qualified rows and escaped pipes included', () => {
    const rows = errorTables(
      [
        '| code | symptom | retried |',
        '|---|---|---|',
        '| `STS_THROTTLED` / `STS_UNAVAILABLE` | x | yes |',
        '| `OIDC_TOKEN_ERROR` with `HTTP 403` | y | slow |',
        '',
        '| answer | when |',
        '|---|---|',
        '| `400 {"code":"BAD_HOST"\\|"BAD_REQUEST_TARGET"}` | z |',
      ].join('\n'),
    );
    assert.deepEqual(
      rows.map((r) => [r.codes, r.codesOnly, r.cells.length]),
      [
        [['STS_THROTTLED', 'STS_UNAVAILABLE'], true, 3],
        [['OIDC_TOKEN_ERROR'], false, 3],
        [['BAD_HOST', 'BAD_REQUEST_TARGET'], false, 2],
      ],
    );
  });

  it('the exit code of a failed command comes from the list', () => {
    assert.equal(exitCodeOf(new ConfigError('bad')), EXIT.CONFIG);
    assert.equal(CODES.CONFIG_INVALID.exit, EXIT.CONFIG);
    assert.equal(exitCodeOf(new SourceError('OIDC_UNREACHABLE', 'down')), EXIT.FAILURE);
    assert.equal(exitCodeOf(new Error('plain')), EXIT.FAILURE);
  });

  it('a code not in the list does not compile', () => {
    // @ts-expect-error: the misspelt code is the point (npm run typecheck fails without the error)
    const err = new SourceError('OIDC_UNREACHABEL', 'x');
    assert.equal(err.code, 'OIDC_UNREACHABEL');
  });
});
