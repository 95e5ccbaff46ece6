// Each source type's code is loaded only when a profile uses it (src/sources/index.ts): a broker
// with OIDC profiles only must not load SAML's XML/HTML parsers or X.509/PKCS#12's ASN.1 code, and
// `credential-process` must not load the server or any source. A child process records every
// package its module graph resolves (a resolve hook), then runs the real code paths: the serve and
// credential-process modules, a config loaded from YAML, a source created and asked for a proof.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Registers a resolve hook that prints each package (node_modules/NAME) once, on stderr. */
const RECORD_PACKAGES = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
const seen = new Set();
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const m = /node_modules\\\\/((@[^/]+\\\\/)?[^/]+)/.exec(r.url);
  if (m && !seen.has(m[1])) { seen.add(m[1]); process.stderr.write('PACKAGE ' + m[1] + '\\\\n'); }
  return r;
}\`));
`)}`;

/** Runs `script` (ESM, may import src/ through tsx) and returns the packages it loaded. */
function packagesLoadedBy(script: string): Promise<Set<string>> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--import', RECORD_PACKAGES, '--input-type=module', '-e', script],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
      (err, _stdout, stderr) => {
        if (err) return reject(new Error(`${err.message}\n${stderr}`));
        resolve(new Set([...stderr.matchAll(/^PACKAGE (\S+)$/gm)].map((m) => m[1]!)));
      },
    ),
  );
}

/** Code only some source types need. */
const SAML = ['@xmldom/xmldom', 'parse5', 'xmllint-wasm', 'samlify'];
const ASN1 = ['@peculiar/asn1-cms', '@peculiar/asn1-pfx', '@peculiar/asn1-schema', 'asn1js'];

function assertNone(loaded: Set<string>, forbidden: string[]): void {
  assert.deepEqual(
    forbidden.filter((p) => loaded.has(p)),
    [],
    `loaded: ${[...loaded].join(', ')}`,
  );
}

describe('source code is loaded only for the source types a config uses', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cb-lazy-'));
    // credential-process keeps the config's endpoint in the user's cache folder: this file's own
    // (the children inherit it).
    process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
    config = path.join(dir, 'config.yaml');
    await writeFile(path.join(dir, 'secret'), 'x', { mode: 0o600 });
    await writeFile(
      config,
      `server: { listen: '127.0.0.1:9', tokenFile: ${dir}/token }
profiles:
  default:
    source:
      type: oidc
      issuer: 'http://127.0.0.1:9'
      clientId: app
      clientAuth: { method: client_secret_basic, clientSecret: 'file:${dir}/secret' }
    role: { arn: 'arn:aws:iam::123456789012:role/app' }
`,
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Loads the config, creates its profile's source and asks it for a proof (which fails: nothing
   * listens on port 9), so that the source's own module is loaded. */
  const proveFirstProfile = (extra = '') => `
    import { loadConfigFile } from './src/config/load.ts';
    import { createSource } from './src/sources/index.ts';
    await import('./src/cli/serve.ts');
    const { config } = await loadConfigFile(${JSON.stringify('CONFIG')});
    const p = config.profiles.default;
    ${extra}
    await createSource('default', p.source).getProof().then(() => { throw new Error('no IdP listens'); }, () => {});
  `;

  it('an OIDC-only broker loads openid-client but no SAML or ASN.1 code', async () => {
    const loaded = await packagesLoadedBy(proveFirstProfile().replace('CONFIG', config));
    assert.ok(loaded.has('openid-client'), `the OIDC source was loaded: ${[...loaded].join(', ')}`);
    assertNone(loaded, [...SAML, ...ASN1]);
  });

  it('a SAML profile does load the XML parser (the check above can fail)', async () => {
    const saml = `p.source = { type: 'saml', idpUrl: 'http://127.0.0.1:9/idp', auth: { method: 'basic', username: 'u', password: 'file:${dir}/secret' } };`;
    const loaded = await packagesLoadedBy(proveFirstProfile(saml).replace('CONFIG', config));
    assert.ok(loaded.has('@xmldom/xmldom'), `loaded: ${[...loaded].join(', ')}`);
    assert.ok(!loaded.has('openid-client'), `loaded: ${[...loaded].join(', ')}`);
  });

  it('credential-process loads neither the server nor any source', async () => {
    const loaded = await packagesLoadedBy(`
      import { credentialProcessCommand } from './src/cli/credential-process.ts';
      await credentialProcessCommand(
        { configPath: ${JSON.stringify(config)}, profile: 'default', url: undefined, tokenFile: undefined },
        { stdout: () => {}, stderr: () => {} },
      );
    `);
    assertNone(loaded, [
      ...SAML,
      ...ASN1,
      'fastify',
      'openid-client',
      '@aws-sdk/client-sts',
      'undici',
      'pino',
    ]);
  });

  it('credential-process with the endpoint kept (src/cli/endpoint-cache.ts) loads neither yaml nor zod', async () => {
    // Kept only for a config not modified in the last seconds.
    const kept = path.join(dir, 'kept.yaml');
    await writeFile(kept, await readFile(config, 'utf8'));
    const past = Date.now() / 1000 - 60;
    await utimes(kept, past, past);
    const callOnce = `
      import { credentialProcessCommand } from './src/cli/credential-process.ts';
      await credentialProcessCommand(
        { configPath: ${JSON.stringify(kept)}, profile: 'default', url: undefined, tokenFile: undefined },
        { stdout: () => {}, stderr: () => {} },
      );
    `;
    const first = await packagesLoadedBy(callOnce);
    assert.ok(
      first.has('yaml') && first.has('zod'),
      `the first call loads the config: ${[...first].join(', ')}`,
    );
    assertNone(await packagesLoadedBy(callOnce), ['yaml', 'zod', 'undici']);
  });
});
