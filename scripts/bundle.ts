// `npm run bundle`: the whole broker as ES modules, dist/bundle/credential-broker.mjs and the chunks
// it loads (dist/bundle/chunks/), that run with nothing but Node beside them (the .deb's
// /opt/credential-broker/lib: scripts/package-deb.ts). It starts faster than dist/ (a few dozen
// files to read instead of ~1,500 modules in node_modules; docs/performance.md).
//
// What stays outside the file, and why:
// - `kerberos`: a native addon built for one Node and one libkrb5. src/sources/kerberos-addon.ts
//   imports it by a name held in a variable, so esbuild leaves the import alone and Node looks in
//   the node_modules folders above the bundle (/opt/credential-broker/node_modules/kerberos).
// - `xmllint-wasm`: it starts a worker thread from its own folder (xmllint-node.js, which loads
//   xmllint.wasm beside it), which a bundle cannot hold; the folder is copied next to the bundle.
// The version and commit are compiled in (src/telemetry/build-info.ts reads package.json and
// dist/build-info.json from its own folder, which a bundle does not have).
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { commit } from './share-files.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Packages the bundle imports at run time from a node_modules folder beside it. */
export const EXTERNAL_PACKAGES = ['kerberos', 'xmllint-wasm'] as const;

/** `undici` as the bundle imports it: the part of it the broker uses (scripts/undici-subset.cjs). */
export const UNDICI_SUBSET = path.join(ROOT, 'scripts/undici-subset.cjs');

const undiciSubset: Plugin = {
  name: 'undici-subset',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: UNDICI_SUBSET }));
  },
};

/** Where `npm run bundle` writes the bundle. */
export const BUNDLE = path.join(ROOT, 'dist/bundle/credential-broker.mjs');

/** The package version and the commit being built (BUILD_COMMIT, else git's). */
export function buildId(): { version: string; commit: string } {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, commit: commit() };
}

/** Bundles src/main.ts (which runs itself when it is the program: the bundle is) into `outfile`,
 * with what it imports only when a command needs it in chunks/ beside it. One file without the
 * chunks made every command parse all of the broker: `credential-process`, which runs once per SDK
 * credential fetch, took 2.8× `node -e ''` and 79 MB instead of 1.5× and 47 MB (docs/performance.md). */
export async function bundle(outfile: string = BUNDLE, id = buildId()): Promise<void> {
  // Chunk names carry a hash: the previous build's would stay beside the new ones.
  await rm(path.join(path.dirname(outfile), 'chunks'), { recursive: true, force: true });
  await build({
    entryPoints: { [path.basename(outfile, '.mjs')]: path.join(ROOT, 'src/main.ts') },
    outdir: path.dirname(outfile),
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...EXTERNAL_PACKAGES],
    plugins: [undiciSubset],
    // CommonJS packages inside an ES module call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __cbCreateRequire } from 'node:module'; const require = __cbCreateRequire(import.meta.url);",
    },
    define: {
      __CREDENTIAL_BROKER_BUILD__: JSON.stringify(id),
    },
    legalComments: 'linked',
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bundle();
  console.log(path.relative(ROOT, BUNDLE));
}
