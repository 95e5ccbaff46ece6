// The dependency rules of src/, as docs/design.md ("Parts") draws them: every import (static,
// `export ... from`, type-only and dynamic `import()`) is read with TypeScript's own pre-parser,
// and the test fails on any import cycle between files and on any import one part may not make.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** A part is a folder of src/ (`sts`) or a top-level file (`broker.ts`). */
type Part =
  | 'model'
  | 'error-codes'
  | 'errors.ts'
  | 'net.ts'
  | 'config'
  | 'telemetry'
  | 'outbound.ts'
  | 'cache'
  | 'sources'
  | 'sts'
  | 'broker.ts'
  | 'server'
  | 'cli'
  | 'main.ts';

const EVERYTHING_BELOW_CLI: readonly Part[] = [
  'model',
  'error-codes',
  'errors.ts',
  'net.ts',
  'config',
  'telemetry',
  'outbound.ts',
  'cache',
  'sources',
  'sts',
  'broker.ts',
  'server',
];

/**
 * What each part may import besides itself, bottom to top (the table in docs/design.md). Each
 * part names only parts listed above it here, so the parts form no cycle by construction (a test
 * below checks that too).
 */
const MAY_IMPORT: Record<Part, readonly Part[]> = {
  // Ground floor: plain types and pure helpers every part may use. Imports nothing from src/.
  model: [],
  // The list of error codes is data; errors.ts types every BrokerError's code with it.
  'error-codes': [],
  'errors.ts': ['error-codes'],
  'net.ts': [],
  // Leaves: config and telemetry know nothing of sources, STS, the broker or the server.
  config: ['model', 'errors.ts', 'net.ts'],
  telemetry: ['model', 'errors.ts'],
  'outbound.ts': ['config', 'errors.ts', 'net.ts'],
  // The refresh machinery is generic: it knows credentials, not where they come from.
  cache: ['model', 'errors.ts', 'telemetry'],
  // Sources and STS exchanges never meet: the broker hands a proof (model/proof.ts) from one to the other.
  sources: ['model', 'errors.ts', 'net.ts', 'config', 'telemetry', 'outbound.ts'],
  sts: ['model', 'errors.ts', 'net.ts', 'config', 'telemetry', 'outbound.ts'],
  'broker.ts': [
    'model',
    'errors.ts',
    'net.ts',
    'config',
    'telemetry',
    'outbound.ts',
    'cache',
    'sources',
    'sts',
  ],
  // The server talks to clients only: no IdP, no STS, no refresh logic.
  server: ['model', 'errors.ts', 'net.ts', 'config', 'telemetry', 'outbound.ts'],
  cli: EVERYTHING_BELOW_CLI,
  'main.ts': [...EVERYTHING_BELOW_CLI, 'cli'],
};

/**
 * Named, temporary exceptions: imports the table forbids that the code still makes. `from`/`to` are
 * a file or a whole part. Each says why and what removes it; the test fails when one is no longer
 * needed, so the list only shrinks.
 */
const EXCEPTIONS: readonly { from: string; to: string; why: string }[] = [];

type Graph = ReadonlyMap<string, readonly string[]>;

/** Every .ts file under src/ (path relative to src/) → the src/ files it imports. */
function importGraph(): Graph {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file, importsOf(file, readFileSync(path.join(SRC, file), 'utf8')));
  return graph;
}

/** The src/ files one file imports, whatever the form; package and node: imports are not src/. */
function importsOf(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.posix.normalize(path.posix.join(path.posix.dirname(file), name)));
}

function partOf(file: string): string {
  const slash = file.indexOf('/');
  return slash === -1 ? file : file.slice(0, slash);
}

function excepts(e: { from: string; to: string }, from: string, to: string): boolean {
  return (e.from === from || e.from === partOf(from)) && (e.to === to || e.to === partOf(to));
}

/** Imports the table forbids (and no exception allows), as `from -> to`. */
function forbiddenImports(
  graph: Graph,
  table: Record<string, readonly string[]> = MAY_IMPORT,
  exceptions = EXCEPTIONS,
): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const [a, b] = [partOf(from), partOf(to)];
      if (a === b || table[a]?.includes(b)) continue;
      if (exceptions.some((e) => excepts(e, from, to))) continue;
      found.push(`${from} -> ${to} (${a} may import only: ${table[a]?.join(', ') || 'nothing from src/'})`);
    }
  }
  return found;
}

/** Every import cycle, each as the path `a -> b -> ... -> a` (one per strongly connected set). */
function importCycles(graph: Graph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const members = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      members.add(w);
    } while (w !== v);
    if (members.size === 1 && !graph.get(v)?.includes(v)) return;
    const loop = describeCycle(graph, v, members);
    const others = [...members].filter((m) => !loop.split(' -> ').includes(m));
    cycles.push(others.length ? `${loop} (tangled with ${others.join(', ')})` : loop);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One concrete loop through `start` inside its strongly connected set, for the failure message. */
function describeCycle(graph: Graph, start: string, members: Set<string>): string {
  const seen = new Set<string>();
  const walk = (v: string, trail: string[]): string[] | undefined => {
    for (const w of graph.get(v) ?? []) {
      if (w === start) return [...trail, w];
      if (members.has(w) && !seen.has(w)) {
        seen.add(w);
        const found = walk(w, [...trail, w]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return (walk(start, [start]) ?? [start]).join(' -> ');
}

describe('dependency rules of src/ (docs/design.md, Parts)', () => {
  const graph = importGraph();

  it('reads every form of import: static, type-only, re-export, side effect, dynamic', () => {
    const text = [
      "import { a } from '../model/a.ts';",
      "import type { B } from './b.ts';",
      "import {\n  c,\n  type D,\n} from '../../errors.ts';",
      "export { e } from '../config/e.ts';",
      "export * from './f.ts';",
      "import './g.ts';",
      "const h = await import('../server/h.ts');",
      "import { readFile } from 'node:fs'; import * as z from 'zod';",
      "// import { no } from './comment.ts';",
    ].join('\n');
    assert.deepEqual(importsOf('sts/x/y.ts', text), [
      'sts/model/a.ts',
      'sts/x/b.ts',
      'errors.ts',
      'sts/config/e.ts',
      'sts/x/f.ts',
      'sts/x/g.ts',
      'sts/server/h.ts',
    ]);
    assert.ok(graph.size > 50, `only ${graph.size} files found under ${SRC}`);
    assert.ok(
      graph.get('cli/index.ts')?.includes('cli/serve.ts'),
      "cli/index.ts's dynamic import of cli/serve.ts",
    );
  });

  it('has no import cycle', () => {
    assert.deepEqual(importCycles(graph), []);
  });

  it('has no forbidden import', () => {
    assert.deepEqual(forbiddenImports(graph), []);
  });

  it('places every part of src/ in the table', () => {
    const parts = new Set([...graph.keys()].map(partOf));
    const unplaced = [...parts].filter((p) => !(p in MAY_IMPORT));
    assert.deepEqual(unplaced, [], 'a new folder or top-level file in src/ needs its row in MAY_IMPORT');
  });

  it('lists only exceptions the code still needs', () => {
    for (const e of EXCEPTIONS) {
      const used = [...graph].some(([from, targets]) => targets.some((to) => excepts(e, from, to)));
      assert.ok(used, `exception ${e.from} -> ${e.to} is no longer needed: remove it`);
    }
  });

  it('table: each part imports only parts listed above it, so parts cannot form a cycle', () => {
    const order = Object.keys(MAY_IMPORT);
    for (const [part, allowed] of Object.entries(MAY_IMPORT)) {
      for (const other of allowed) {
        assert.ok(order.indexOf(other) < order.indexOf(part), `${part} may import ${other}, listed below it`);
      }
    }
  });

  it('fails on a forbidden import or a cycle (synthetic graphs)', () => {
    // What a careless change would add: the ground floor reaching up, an exchange calling a source.
    const bad: Graph = new Map([
      ['model/status.ts', ['broker.ts']],
      ['sts/saml.ts', ['sources/saml/source.ts']],
      ['server/app.ts', ['sts/exchange.ts']],
      // The server sees the broker through server/broker-port.ts; auth is the server's alone.
      ['server/credentials-routes.ts', ['broker.ts']],
      ['broker.ts', ['server/client-tokens.ts']],
      ['cli/check.ts', ['model/status.ts']],
    ]);
    assert.deepEqual(
      forbiddenImports(bad).map((v) => v.split(' (')[0]),
      [
        'model/status.ts -> broker.ts',
        'sts/saml.ts -> sources/saml/source.ts',
        'server/app.ts -> sts/exchange.ts',
        'server/credentials-routes.ts -> broker.ts',
        'broker.ts -> server/client-tokens.ts',
      ],
    );
    // The cycles this test was written against, inside one part (which the table alone allows).
    const cyclic: Graph = new Map([
      ['sts/exchange.ts', ['sts/chain.ts', 'sts/request.ts']],
      ['sts/chain.ts', ['sts/exchange.ts']],
      ['sts/request.ts', []],
      ['cache/refresher.ts', ['cache/refresher.ts']],
    ]);
    assert.deepEqual(importCycles(cyclic), [
      'sts/exchange.ts -> sts/chain.ts -> sts/exchange.ts',
      'cache/refresher.ts -> cache/refresher.ts',
    ]);
    assert.deepEqual(
      importCycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
      [],
    );
  });
});
