// Every relative link in README.md and docs/*.md must point at a file (or folder) of this
// repository, and a `#fragment` into a Markdown file at one of its headings (GitHub's slugs), so
// that moving a section between pages cannot leave a dangling link behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function pages(): Promise<string[]> {
  const docs = (await readdir(path.join(ROOT, 'docs'))).filter((f) => f.endsWith('.md'));
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** The text outside fenced code blocks. */
function unfenced(markdown: string): string {
  return markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
}

/** The text outside fenced code blocks and inline code, where a link is a link. */
function prose(markdown: string): string {
  return unfenced(markdown).replace(/`[^`\n]*`/g, '');
}

/** Link targets: [text](target) and [text]: target. */
function links(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const reference = [...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...reference];
}

/** GitHub's heading anchors: links to their text, lower case, punctuation (and `) dropped, spaces to '-',
 * duplicates numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of unfenced(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/*.md resolves', async () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of await pages()) {
      const markdown = await readFile(path.join(ROOT, page), 'utf8');
      for (const target of links(markdown)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
        checked++;
        const [file = '', fragment] = target.split('#', 2);
        const resolved =
          file === ''
            ? path.join(ROOT, page)
            : path.resolve(path.dirname(path.join(ROOT, page)), decodeURI(file));
        if (!resolved.startsWith(ROOT) || !existsSync(resolved)) {
          broken.push(`${page}: ${target} (no such file)`);
          continue;
        }
        if (fragment && resolved.endsWith('.md')) {
          const headings = anchors(await readFile(resolved, 'utf8'));
          if (!headings.has(fragment)) broken.push(`${page}: ${target} (no heading #${fragment})`);
        }
      }
    }
    assert.ok(checked >= 20, `${checked} relative links found: the link parser is broken`);
    assert.deepEqual(broken, []);
  });

  it('the README links every page of docs/', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const index = await readFile(path.join(ROOT, 'docs/README.md'), 'utf8');
    const linked = new Set(
      [...links(readme), ...links(index).map((l) => `docs/${l}`)].map((l) => l.split('#')[0]),
    );
    const missing = (await pages()).filter((p) => p !== 'README.md' && !linked.has(p));
    assert.deepEqual(missing, [], 'pages linked neither from README.md nor from docs/README.md');
  });
});
