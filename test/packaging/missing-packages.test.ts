// scripts/missing-packages.mjs decides whether `npm test` reinstalls: every package the lock file
// installs must be in node_modules, optional ones only when asked for (the kerberos addon).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/missing-packages.mjs', import.meta.url));

describe('scripts/missing-packages.mjs', () => {
  let dir: string;
  after(() => rm(dir, { recursive: true, force: true }));

  async function missing(...args: string[]): Promise<string[]> {
    const { stdout } = await run(process.execPath, [SCRIPT, ...args], { cwd: dir });
    return stdout.split('\n').filter(Boolean);
  }

  it('names each locked package without a package.json in node_modules, optional ones only with --also', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cb-missing-'));
    const packages = {
      '': { name: 'x' },
      'node_modules/present': { version: '1.0.0' },
      'node_modules/@scope/gone': { version: '1.0.0' },
      'node_modules/present/node_modules/nested-gone': { version: '1.0.0' },
      'node_modules/dev-gone': { version: '1.0.0', dev: true },
      'node_modules/kerberos': { version: '7.0.0', optional: true },
      'node_modules/@esbuild/win32-x64': { version: '0.25.0', optional: true, dev: true },
    };
    await writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages }));
    await mkdir(path.join(dir, 'node_modules/present'), { recursive: true });
    await writeFile(path.join(dir, 'node_modules/present/package.json'), '{}');
    // A directory without package.json is an interrupted install, not a package.
    await mkdir(path.join(dir, 'node_modules/kerberos'), { recursive: true });

    assert.deepEqual(await missing(), ['@scope/gone', 'present/node_modules/nested-gone', 'dev-gone']);
    assert.deepEqual(await missing('--also', 'kerberos'), [
      '@scope/gone',
      'present/node_modules/nested-gone',
      'dev-gone',
      'kerberos',
    ]);

    for (const p of ['@scope/gone', 'present/node_modules/nested-gone', 'dev-gone', 'kerberos']) {
      await mkdir(path.join(dir, 'node_modules', p), { recursive: true });
      await writeFile(path.join(dir, 'node_modules', p, 'package.json'), '{}');
    }
    assert.deepEqual(await missing('--also', 'kerberos'), []);
  });
});
