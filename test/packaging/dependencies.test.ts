// Every production dependency is imported by src/ (what ships); packages only tests use belong in
// devDependencies, so a production install (`npm ci --omit=dev`, `npm install -g` of the package)
// carries nothing it does not run.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Declared but not imported, each with the reason (none now). */
const ALLOWED_UNUSED: Record<string, string> = {};

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

async function importedBySrc(): Promise<Set<string>> {
  const used = new Set<string>();
  const files = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = await readFile(path.join(ROOT, 'src', file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      // A package name (lowercase, maybe scoped), not a relative path, a node: builtin or prose.
      if (/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w./-]+)?$/.test(spec)) used.add(packageOf(spec));
    }
  }
  return used;
}

describe('production dependencies', () => {
  it('each one in package.json is imported by src/', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    const used = await importedBySrc();
    const unused = Object.keys(pkg.dependencies).filter((d) => !used.has(d) && !(d in ALLOWED_UNUSED));
    assert.deepEqual(unused, [], 'move test-only packages to devDependencies, remove unused ones');
    for (const allowed of Object.keys(ALLOWED_UNUSED))
      if (used.has(allowed) || !(allowed in pkg.dependencies))
        assert.fail(`${allowed} is now used or gone: take it off ALLOWED_UNUSED`);
  });

  it('each package src/ imports is a production dependency (not only a dev one)', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    const prod = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const missing = [...(await importedBySrc())].filter((d) => !prod.has(d));
    assert.deepEqual(missing, []);
  });
});
