// The bundle (scripts/bundle.ts, what the .deb runs) is split: a command reads only the chunks it
// imports. `credential-process` runs once per SDK credential fetch; from one 8 MB file it parsed
// the whole broker on every call. Built here into a temporary folder; the files a run reads are
// recorded by a resolve hook, and what each holds is told by esbuild's `// node_modules/PKG/...`
// source comments.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundle, UNDICI_SUBSET } from '../../scripts/bundle.ts';

/** Prints each file: URL the program resolves, once, on stderr. */
const RECORD_FILES = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (r.url.startsWith('file:')) process.stderr.write('FILE ' + r.url + '\\\\n');
  return r;
}\`));
`)}`;

/** Packages whose code a broker command may need, and credential-process must not load. */
const NOT_FOR_CREDENTIAL_PROCESS = ['zod', 'yaml', 'fastify', '@aws-sdk/client-sts', 'undici', 'pino'];

let dir: string;
let entry: string;
let config: string;

/** Runs the bundle with `args`; the packages inside the files it read, and how it exited. */
function run(args: string[]): Promise<{ packages: Set<string>; code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['--import', RECORD_FILES, entry, ...args],
      { env: { ...process.env, XDG_CACHE_HOME: path.join(dir, 'cache') } },
      async (err, _stdout, stderr) => {
        const files = [...new Set([...stderr.matchAll(/^FILE (\S+)$/gm)].map((m) => m[1]!))];
        const packages = new Set<string>();
        for (const url of files) {
          const text = await readFile(fileURLToPath(url), 'utf8');
          for (const m of text.matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) packages.add(m[1]!);
        }
        resolve({ packages, code: err ? Number(err.code) : 0, stderr });
      },
    ),
  );
}

function assertNone(packages: Set<string>, forbidden: string[]): void {
  assert.deepEqual(
    forbidden.filter((p) => packages.has(p)),
    [],
    `read code of: ${[...packages].join(', ')}`,
  );
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cb-bundle-'));
  entry = path.join(dir, 'lib/credential-broker.mjs');
  await bundle(entry, { version: '0.0.0-test', commit: 'test' });
  await writeFile(path.join(dir, 'token'), 'a-client-token', { mode: 0o600 });
  config = path.join(dir, 'config.yaml');
  // Nothing listens on port 9: each call ends in ECONNREFUSED, after the code it needs is loaded.
  await writeFile(
    config,
    `server: { listen: '127.0.0.1:9', tokenFile: ${dir}/token }
profiles:
  default:
    source: { type: web-identity-file, tokenFile: /var/run/token }
    role: { arn: 'arn:aws:iam::123456789012:role/app' }
`,
  );
  const past = Date.now() / 1000 - 60; // the endpoint cache keeps no config modified in the last 2 s
  await utimes(config, past, past);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('the bundle (scripts/bundle.ts)', () => {
  it('credential-process reads no chunk of the server, the SDK or the config parser once the endpoint is kept', async () => {
    const args = ['credential-process', '--profile', 'default', '--config', config];
    const first = await run(args);
    assert.equal(first.code, 1);
    assert.match(first.stderr, /cannot reach the broker at http:\/\/127\.0\.0\.1:9\/.*ECONNREFUSED/);
    // The first call parses the config: the check below can fail.
    assert.ok(first.packages.has('zod') && first.packages.has('yaml'), [...first.packages].join(', '));
    assertNone(
      first.packages,
      NOT_FOR_CREDENTIAL_PROCESS.filter((p) => p !== 'zod' && p !== 'yaml'),
    );
    const kept = await run(args);
    assert.equal(kept.code, 1);
    assertNone(kept.packages, NOT_FOR_CREDENTIAL_PROCESS);
  });

  it('--version reads the entry and the chunks it shares, not the server', async () => {
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assertNone(version.packages, NOT_FOR_CREDENTIAL_PROCESS);
  });
});

describe('undici in the bundle: the part the broker uses (scripts/undici-subset.cjs)', () => {
  const require = createRequire(import.meta.url);
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

  it('the bundle holds its dispatchers, not its index, fetch or mock agents', async () => {
    const chunks = path.join(dir, 'lib/chunks');
    let text = '';
    for (const f of await readdir(chunks)) text += await readFile(path.join(chunks, f), 'utf8');
    assert.match(text, /^\/\/ node_modules\/undici\/lib\/dispatcher\/proxy-agent\.js$/m);
    for (const absent of [
      'undici/index.js',
      'undici/lib/web/fetch/index.js',
      'undici/lib/mock/mock-agent.js',
    ])
      assert.doesNotMatch(
        text,
        new RegExp(`^// node_modules/${absent.replace(/[./]/g, '\\$&')}$`, 'm'),
        absent,
      );
  });

  it("exports undici's own classes under every name the broker and the SDK's handler import", async () => {
    const subset = require(UNDICI_SUBSET) as Record<string, unknown>;
    const full = require('undici') as Record<string, unknown>;
    const outbound = await readFile(path.join(root, 'src/outbound.ts'), 'utf8');
    const handler = await readFile(require.resolve('@smithy/undici-http-handler'), 'utf8');
    const names = [
      ...outbound.matchAll(/^import \{([^}]*)\} from 'undici';$/gm),
      ...handler.matchAll(/\{([^}]*)\} = require\("undici"\)/g),
    ].flatMap((m) =>
      m[1]!
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n && !n.startsWith('type ')),
    );
    assert.ok(names.includes('ProxyAgent') && names.includes('getGlobalDispatcher'), names.join(', '));
    for (const name of names) assert.equal(subset[name], full[name], name);
    // The SDK's handler calls dispatcher.request(), which undici's index adds to Dispatcher.
    assert.equal(
      typeof (subset.Dispatcher as { prototype: { request?: unknown } }).prototype.request,
      'function',
    );
  });
});
