// `npm pack` makes a package that installs with `npm install -g` from the tarball without dev
// dependencies, optional ones or a compiler, and runs: dist/ is built when packing (prepack), not
// when installing, and `--version` names the commit it was built from. The package is made from a
// copy of the tree, so the build does not rewrite the dist/ that other test files load.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TREE = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md'];
const DIRS = ['src', 'bin', 'config', 'docs', 'scripts'];

describe('npm pack → npm install -g from the tarball', () => {
  let dir: string;
  after(() => rm(dir, { recursive: true, force: true }));

  it('installs without dev or optional dependencies and runs advise and --version', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cb-pack-'));
    const tree = path.join(dir, 'tree');
    await mkdir(tree);
    for (const f of TREE) await cp(path.join(ROOT, f), path.join(tree, f));
    for (const d of DIRS) await cp(path.join(ROOT, d), path.join(tree, d), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    const commit = (await run('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT })).stdout.trim();

    const env = { ...process.env, BUILD_COMMIT: commit, npm_config_audit: 'false', npm_config_fund: 'false' };
    await run('npm', ['pack', '--pack-destination', dir], { cwd: tree, env, timeout: 240_000 });
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a .tgz');

    // No TypeScript or other dev dependencies. (npm -g installs the optional kerberos addon where it
    // can build, despite --omit=optional; the broker works without it either way.)
    const prefix = path.join(dir, 'prefix');
    await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--omit=dev',
        '--omit=optional',
        '--prefer-offline',
        path.join(dir, tarball),
      ],
      { cwd: dir, env, timeout: 240_000 },
    );
    const modules = path.join(prefix, 'lib/node_modules/aws-credential-broker/node_modules');
    const installed = await readdir(modules);
    for (const devOnly of ['typescript', 'tsx', 'oidc-provider', '@biomejs'])
      assert.ok(!installed.includes(devOnly), `${devOnly} must not be installed`);

    const bin = path.join(prefix, 'bin/credential-broker');
    const version = await run(bin, ['--version'], { env });
    const pkg = JSON.parse((await import('node:fs')).readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(version.stdout, `${pkg.version} (commit ${commit})\n`);
    const advise = await run(bin, ['advise', '--has', 'oidc'], { env });
    assert.match(advise.stdout, /Recommended: OIDC/);
  });
});
