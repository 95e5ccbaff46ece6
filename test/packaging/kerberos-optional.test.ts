// The `kerberos` addon is optional: npm skips it without libkrb5-dev or a compiler, and
// `npm ci --omit=optional` leaves it out. The build and the type-check must then still pass (its
// types live in src/sources/kerberos-addon.ts), and only a profile that logs in with Kerberos may
// fail, with KERBEROS_UNAVAILABLE and what to install. Both are checked here with the addon hidden
// while it stays installed for the Kerberos tests: from the TypeScript compiler by a host that
// cannot see node_modules/kerberos, from node by a resolve hook (test/harness/hide-kerberos.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADDON_DIR = path.join(ROOT, 'node_modules', 'kerberos');
const hidden = (p: string) =>
  path.resolve(p) === ADDON_DIR || path.resolve(p).startsWith(ADDON_DIR + path.sep);

/** Diagnostics of a TypeScript project compiled as if node_modules/kerberos did not exist. */
function typeCheckWithoutAddon(tsconfig: string): string[] {
  const configPath = path.join(ROOT, tsconfig);
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, { noEmit: true }, configPath);
  const host = ts.createCompilerHost(parsed.options);
  const { fileExists, directoryExists, readFile } = host;
  host.fileExists = (f) => !hidden(f) && fileExists.call(host, f);
  host.directoryExists = (d) => !hidden(d) && (directoryExists?.call(host, d) ?? true);
  host.readFile = (f) => (hidden(f) ? undefined : readFile.call(host, f));
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host });
  const touched = program.getSourceFiles().filter((s) => hidden(s.fileName));
  assert.deepEqual(touched, [], 'the compiler host should hide node_modules/kerberos');
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    .map((m) => m.slice(0, 300));
}

describe('the kerberos addon is optional', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('src/ and test/ type-check with node_modules/kerberos out of sight (no static import of the addon)', () => {
    assert.deepEqual(typeCheckWithoutAddon('tsconfig.json'), []);
  });

  it('a kerberos profile without the addon fails with KERBEROS_UNAVAILABLE naming the packages to install', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-nokrb-'));
    dirs.push(dir);
    const keytab = path.join(dir, 'svc.keytab');
    await writeFile(keytab, '');
    const config = path.join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'profiles:',
        '  adfs:',
        '    source:',
        '      type: saml',
        '      idpUrl: https://adfs.example.test/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices',
        '      auth: { method: kerberos, principal: svc-billing, realm: EXAMPLE.TEST, keytab: svc.keytab }',
        '    role: { arn: arn:aws:iam::111122223333:role/billing }',
        '',
      ].join('\n'),
    );
    const hook = pathToFileURL(path.join(ROOT, 'test/harness/hide-kerberos.mjs')).href;
    const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(hook)})`;
    const child = await run(
      process.execPath,
      ['--import', 'tsx', '--import', register, 'src/main.ts', 'check', '--config', config, '--json'],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    ).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(child.code, 1, child.stderr);
    const result = JSON.parse(child.stdout).results[0];
    const source = result.steps.find((s: { name: string }) => s.name === 'identity source');
    assert.equal(source.ok, false);
    assert.equal(source.error.code, 'KERBEROS_UNAVAILABLE');
    assert.match(source.error.message, /not installed/);
    // What to install and how to build it, whichever way npm left it out.
    for (const words of [
      'libkrb5-dev',
      'build-essential',
      'krb5-devel',
      'npm rebuild kerberos',
      'npm install kerberos',
    ])
      assert.ok(source.error.message.includes(words), `"${words}" missing from: ${source.error.message}`);
  });
});
