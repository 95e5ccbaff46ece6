// docs/errors.md is generated from the code list (src/error-codes/), so that the page cannot drift
// from the codes the broker gives out: `npm run docs:errors` writes it, and `--check` (like
// test/unit/error-reference.test.ts) fails when the file differs. The mechanism pages keep their
// own troubleshooting tables, with symptoms and causes particular to each mechanism;
// `errorTables()` reads those so the test can hold them to the list.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_GROUPS, type CodeInfo, type DocPage } from '../src/error-codes/index.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ERRORS_FILE = path.join(ROOT, 'docs/errors.md');

/** Where each mechanism page lists its codes. */
export const PAGE_SECTION: Record<DocPage, { title: string; anchor: string }> = {
  oidc: { title: 'OIDC', anchor: 'troubleshooting' },
  'kubernetes-web-identity': { title: 'token files', anchor: 'troubleshooting' },
  'x509-roles-anywhere': { title: 'X.509', anchor: 'troubleshooting' },
  saml: { title: 'SAML', anchor: 'troubleshooting' },
  kerberos: { title: 'Kerberos', anchor: 'troubleshooting' },
  'aws-and-chaining': { title: 'AWS and chaining', anchor: 'troubleshooting' },
  applications: { title: 'applications', anchor: 'what-the-endpoint-answers' },
};

export function pageFile(page: DocPage): string {
  return path.join(ROOT, 'docs', `${page}.md`);
}

function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function outcome(info: CodeInfo): string {
  const parts: string[] = [];
  if ('http' in info && info.http !== undefined) parts.push(`HTTP ${info.http}`);
  if ('exit' in info && info.exit !== undefined) parts.push(`exit ${info.exit}`);
  return parts.join(', ') || '–';
}

function seeAlso(info: CodeInfo): string {
  const links = info.docs.map((p) => `[${PAGE_SECTION[p].title}](${p}.md#${PAGE_SECTION[p].anchor})`);
  return links.join(', ') || '–';
}

export function renderErrorReference(): string {
  const intro = [
    '# Error codes',
    '',
    '<!-- Generated from src/error-codes/ by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every failure the broker reports (a `check` or command line, an HTTP error body',
    '`{"code","message"}`, a log line, the `code` label of',
    '`credential_broker_refresh_failures_total`, `/readyz`) carries one of these stable codes. Alert',
    'and search on the code; the message says what exactly is wrong, which profile it concerns, and',
    'how to fix it. Each mechanism page explains its codes with symptoms and causes in its',
    'troubleshooting table (linked below).',
    '',
    '"retried" says how the refresher retries a failed fetch ([refresh.md](refresh.md)): `yes` soon,',
    'with growing backoff; `slow` every 50–100% of `backoff.max`, so that a fix at the IdP or in IAM',
    'needs no restart; `if 5xx / …` like `yes` when the upstream answered that, else `slow`; `–` not a',
    'fetch failure.',
    '',
    '## Contents',
    '',
    ...CODE_GROUPS.map((g) => `- [${g.title}](#${anchorOf(g.title)})`),
  ];
  const sections = CODE_GROUPS.map((g) => {
    const rows = Object.entries(g.codes as Record<string, CodeInfo>).map(
      ([code, info]) =>
        `| \`${code}\` | ${cell(info.meaning)} | ${cell(info.fix)} | ${info.retried} | ${outcome(info)} | ${seeAlso(info)} |`,
    );
    return [
      `## ${g.title}`,
      '',
      '| code | meaning | fix | retried | HTTP / exit | more |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
  });
  return `${intro.join('\n')}\n\n${sections.join('\n\n')}\n`;
}

/** One row of a page's error table: the codes its first cell names, and its cells. */
export interface TableRow {
  line: number;
  codes: string[];
  /** True when the first cell names codes only (no "with ..." qualifier, no `X509_*` pattern). */
  codesOnly: boolean;
  cells: string[];
}

/**
 * The rows of the error tables of a page: tables whose header starts `| code |` (mechanism pages)
 * or `| answer |` (the endpoint's answers, where the codes sit in `{"code":"..."}`).
 */
export function errorTables(markdown: string): TableRow[] {
  const rows: TableRow[] = [];
  let kind: 'code' | 'answer' | undefined;
  markdown.split('\n').forEach((text, i) => {
    if (!text.startsWith('|')) {
      kind = undefined;
      return;
    }
    if (/^\| code \|/.test(text)) kind = 'code';
    else if (/^\| answer \|/.test(text)) kind = 'answer';
    else if (kind && !text.startsWith('|---')) {
      const cells = text
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim());
      const first = cells[0] ?? '';
      const codes =
        kind === 'code'
          ? [...first.matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((m) => m[1]!)
          : [...first.matchAll(/"([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!);
      const rest = first.replace(/`[A-Z][A-Z0-9_]*`/g, '').replace(/\s*\/\s*/g, '');
      rows.push({ line: i + 1, codes, codesOnly: kind === 'code' && rest === '' && codes.length > 0, cells });
    }
  });
  return rows;
}

function main(args: string[]): number {
  const expected = renderErrorReference();
  const relative = path.relative(process.cwd(), ERRORS_FILE);
  if (args.includes('--check')) {
    let actual: string | undefined;
    try {
      actual = readFileSync(ERRORS_FILE, 'utf8');
    } catch {
      actual = undefined;
    }
    if (actual === expected) return 0;
    console.error(
      `${relative} ${actual === undefined ? 'is missing' : 'is out of date with src/error-codes/'}: run npm run docs:errors and commit the result`,
    );
    return 1;
  }
  writeFileSync(ERRORS_FILE, expected);
  console.log(`wrote ${relative}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
