// credential-process's endpoint cache (src/cli/endpoint-cache.ts): an unchanged config is read from
// the entry and not loaded, and anything that could make the entry wrong or planted (an edit the
// file's times hide, another build, an entry or folder someone else could write, a symlink, a corrupt
// entry, an unusable cache folder) means the config is loaded in full, never an error. Real files in
// a temporary folder; the load is the real config loader, counted.
import assert from 'node:assert/strict';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { endpointFor } from '../../src/cli/endpoint.ts';
import { endpointConfig, entryPath } from '../../src/cli/endpoint-cache.ts';
import { loadConfigOrEnvironment } from '../../src/config/from-env.ts';

const SECRET = 'inline-client-secret-never-kept';
/** `port` and `token` are fixed-width, so an edit from one value to another keeps the file's size. */
const configText = (
  port: number,
  token: string,
) => `server: { listen: '127.0.0.1:${port}', tokenFile: ${token} }
profiles:
  default:
    source:
      type: oidc
      issuer: 'http://127.0.0.1:9'
      clientId: app
      clientAuth: { method: client_secret_basic, clientSecret: 'env:CB_TEST_SECRET' }
    role: { arn: 'arn:aws:iam::123456789012:role/app' }
  reports:
    tokenFile: /run/reports-token
    source: { type: web-identity-file, tokenFile: /var/run/token }
    role: { arn: 'arn:aws:iam::123456789012:role/reports' }
`;
/** A time well past the "modified too recently to keep" window, in whole seconds. */
const PAST = Math.floor(Date.now() / 1000) - 3600;
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let dir: string;
let config: string;
let cache: string;
let loads: number;
const env = () => ({ XDG_CACHE_HOME: cache });

/** The endpoints of both profiles as credential-process would derive them, and whether it loaded. */
async function endpoints(build = 'test-build'): Promise<{ loaded: boolean; urls: string[] }> {
  const before = loads;
  const { config: c, file } = await endpointConfig(
    config,
    async () => {
      loads++;
      return loadConfigOrEnvironment(config);
    },
    { env: env(), build },
  );
  const urls = ['default', 'reports'].map((p) => {
    const e = endpointFor(c, file, p);
    return `${e.url} ${e.tokenFile}`;
  });
  return { loaded: loads > before, urls };
}

/** Written with its modification time set to `time` (seconds), or left at now if 'now'. */
async function writeConfig(port: number, token = '/tmp/token-a', time: number | 'now' = PAST) {
  await writeFile(config, configText(port, token));
  if (time !== 'now') await utimes(config, time, time);
}

const entry = () => entryPath(path.resolve(config), env())!;

/** The kept entry with its endpoint moved to `port`: what someone who could write it would plant. */
async function planted(port: number): Promise<string> {
  const kept = JSON.parse(await readFile(entry(), 'utf8'));
  kept.config.server.listen = `127.0.0.1:${port}`;
  return JSON.stringify(kept);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cb-endpoint-cache-'));
  process.env.CB_TEST_SECRET = SECRET;
});
after(() => rm(dir, { recursive: true, force: true }));
beforeEach(async () => {
  const here = await mkdtemp(path.join(dir, 'case-'));
  config = path.join(here, 'broker.yaml');
  cache = path.join(here, 'cache');
  loads = 0;
  await writeConfig(1111);
});

describe('endpoint cache of credential-process', () => {
  it('an unchanged config is read from the entry: the same endpoints as the full load, which is not run again', async () => {
    const cold = await endpoints();
    assert.equal(cold.loaded, true);
    assert.deepEqual(cold.urls, [
      'http://127.0.0.1:1111/v1/credentials/default /tmp/token-a',
      'http://127.0.0.1:1111/v1/credentials/reports /run/reports-token',
    ]);
    const warm = await endpoints();
    assert.equal(warm.loaded, false, 'the second call should have used the entry');
    assert.deepEqual(warm.urls, cold.urls);
    // Only this user can read or write it, and it holds where tokens are read, never a secret.
    const text = await readFile(entry(), 'utf8');
    assert.equal((await stat(entry())).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(entry()))).mode & 0o777, 0o700);
    assert.doesNotMatch(text, new RegExp(`${SECRET}|clientSecret|CB_TEST_SECRET|source|role`));
    assert.deepEqual(JSON.parse(text).config, {
      server: { listen: '127.0.0.1:1111', tokenFile: '/tmp/token-a' },
      profiles: { default: {}, reports: { tokenFile: '/run/reports-token' } },
    });
  });

  it('an edit of the same size with the modification time put back is still seen (the change time)', async () => {
    await endpoints();
    await writeConfig(2222, '/tmp/token-b'); // same size, same whole-second mtime: only ctime moved
    const after = await endpoints();
    assert.equal(after.loaded, true);
    assert.deepEqual(after.urls, [
      'http://127.0.0.1:2222/v1/credentials/default /tmp/token-b',
      'http://127.0.0.1:2222/v1/credentials/reports /run/reports-token',
    ]);
    assert.equal((await endpoints()).loaded, false, 'and the new content is kept');
  });

  it('a config modified in the last seconds is not kept (a second edit could share its timestamp)', async () => {
    await writeConfig(1111, '/tmp/token-a', 'now');
    assert.equal((await endpoints()).loaded, true);
    assert.equal((await endpoints()).loaded, true);
    await assert.rejects(stat(entry()), { code: 'ENOENT' });
  });

  it('an entry written by another build is not read', async () => {
    await endpoints('0.1.0 aaaa');
    assert.equal((await endpoints('0.1.0 aaaa')).loaded, false);
    assert.equal((await endpoints('0.1.1 bbbb')).loaded, true);
  });

  it('an entry this user alone can write is trusted (the control for the next test)', async () => {
    await endpoints();
    await writeFile(entry(), await planted(6666), { mode: 0o600 });
    const used = await endpoints();
    assert.equal(used.loaded, false);
    assert.match(used.urls[0]!, /:6666\//);
  });

  it('an entry another user owns, one the group can write, a symlink, or one in a folder others can write is ignored', async (t) => {
    await endpoints();
    const plant = await planted(6666);
    const expectOriginal = async (what: string) => {
      const r = await endpoints();
      assert.equal(r.loaded, true, `${what}: should have loaded the config`);
      assert.match(r.urls[0]!, /:1111\//, what);
    };
    if (isRoot) {
      await writeFile(entry(), plant, { mode: 0o600 });
      await chown(entry(), NOBODY, NOBODY);
      await expectOriginal('owned by nobody');
    } else {
      t.diagnostic('not root: the entry owned by another user is not tried');
    }
    await writeFile(entry(), plant);
    await chmod(entry(), 0o620);
    await expectOriginal('group-writable');

    const elsewhere = path.join(path.dirname(config), 'planted.json');
    await writeFile(elsewhere, plant, { mode: 0o600 });
    await rm(entry());
    await symlink(elsewhere, entry());
    await expectOriginal('a symlink');

    await writeFile(entry(), plant, { mode: 0o600 });
    await chmod(path.dirname(entry()), 0o777);
    await expectOriginal('in a folder others can write');
    // ... and nothing is written into such a folder either
    assert.equal((await endpoints()).loaded, true);
  });

  it('a corrupt entry (not JSON, empty, the wrong shape) means a full load, not an error', async () => {
    await endpoints();
    const good = JSON.parse(await readFile(entry(), 'utf8'));
    for (const [what, text] of [
      ['truncated', JSON.stringify(good).slice(0, 40)],
      ['empty', ''],
      ['listen not a string', JSON.stringify({ ...good, config: { ...good.config, server: { listen: 5 } } })],
      ['no profiles', JSON.stringify({ ...good, config: { server: good.config.server } })],
      [
        'a profile not an object',
        JSON.stringify({ ...good, config: { ...good.config, profiles: { default: 1 } } }),
      ],
    ]) {
      await writeFile(entry(), text!, { mode: 0o600 });
      const r = await endpoints();
      assert.equal(r.loaded, true, what);
      assert.match(r.urls[0]!, /:1111\//, what);
    }
  });

  it('a cache folder that cannot be used (a file in its place, or another user’s) still answers, every time', async (t) => {
    await writeFile(cache, 'not a folder');
    assert.deepEqual(
      (await endpoints()).urls[0],
      'http://127.0.0.1:1111/v1/credentials/default /tmp/token-a',
    );
    assert.equal((await endpoints()).loaded, true);
    if (!isRoot) return t.diagnostic('not root: the cache home owned by another user is not tried');
    await rm(cache);
    await mkdir(cache, { mode: 0o755 });
    await chown(cache, NOBODY, NOBODY);
    assert.equal((await endpoints()).loaded, true);
    assert.equal((await endpoints()).loaded, true);
    await assert.rejects(stat(path.dirname(entry())), { code: 'ENOENT' }, 'nothing made in a home not ours');
    // A cache home still to be made, in a home that is not ours: not made either.
    cache = path.join(cache, '.cache');
    assert.equal((await endpoints()).loaded, true);
    assert.equal((await endpoints()).loaded, true);
    await assert.rejects(stat(cache), { code: 'ENOENT' }, 'no cache home made in a home not ours');
  });
});
