// profiles.NAME.credentialsFile, end to end: the broker keeps a section of a shared credentials file
// that real consumers read — the AWS SDK for JavaScript v3 (its default chain, in its own process)
// and, when installed, the AWS CLI (botocore's own parser) — and both must reach the STS emulator
// as the profile's role with what they read. Other sections and comments must survive byte for
// byte, a refresh must rewrite the section, a stop must remove it, and a target another user could
// swap must be refused with CREDENTIALS_FILE_UNSAFE.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { fromIni } from '@aws-sdk/credential-providers';
import { stringify } from 'yaml';
import {
  CredentialsFileError,
  CredentialsFiles,
  checkCredentialsFiles,
  withSection,
} from '../../src/cache/credentials-file.ts';
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { EXIT, exitCodeOf } from '../../src/errors.ts';
import { consume } from '../harness/consumer.ts';
import { serveProcess, until, waitReady } from '../harness/serve-process.ts';
import { ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const run = promisify(execFile);
const NOBODY = 65534;
const ASSUMED = ROLE_ARN.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/');

/** A file a person keeps by hand: static keys, a config-style profile, comments and odd spacing. */
const HAND_WRITTEN = `# my keys — do not touch
[default]
aws_access_key_id = AKIAHANDWRITTEN00001
aws_secret_access_key = hand/written/secret

; a profile the broker must leave alone
[ci]
aws_access_key_id=AKIAHANDWRITTEN00002
aws_secret_access_key=ci/secret   # trailing comment
`;

let world: World;
let NO_CONFIG: string;
before(async () => {
  world = await startWorld();
  NO_CONFIG = path.join(world.dir, 'no-config');
});
after(() => world.close());

let dirs = 0;
/** A fresh folder of the broker's (root's), mode 0700, for one test's credentials file. */
async function freshDir(mode = 0o700): Promise<string> {
  const dir = path.join(world.dir, `creds-${++dirs}`);
  await mkdir(dir);
  await chmod(dir, mode);
  return dir;
}

/** The JS SDK's default chain, in its own process, with only the credentials file to go on. */
async function sdkReads(file: string, profile: string) {
  const got = await consume(world, 'default-chain', {
    AWS_SHARED_CREDENTIALS_FILE: file,
    AWS_CONFIG_FILE: NO_CONFIG,
    AWS_PROFILE: profile,
  });
  assert.ok(got.json, `the SDK found no working credentials in [${profile}] of ${file}: ${got.stderr}`);
  return got.json;
}

/** What the file holds outside `section`: must stay exactly what the person wrote. */
const outside = (text: string, section: string) => withSection(text, section, undefined);

async function brokerKeeping(file: string, options: Record<string, unknown> = {}) {
  const files = new CredentialsFiles();
  const config = world.config({
    app: world.oidcProfile({ credentialsFile: { path: file, section: 'legacy', ...options } }),
  });
  await checkCredentialsFiles(config.profiles);
  const built = await world.broker(config, { credentialsFiles: files });
  return { ...built, files };
}

describe('credentialsFile: the section apps read', () => {
  it('is written beside the other sections (kept byte for byte), mode 0600, and the SDK signs with it', async () => {
    const file = path.join(await freshDir(), 'credentials');
    await writeFile(file, HAND_WRITTEN, { mode: 0o644 });
    const { broker, files } = await brokerKeeping(file);
    await broker.start();
    await files.settled();

    const text = await readFile(file, 'utf8');
    assert.equal(outside(text, 'legacy'), HAND_WRITTEN, 'every line outside [legacy] is as it was');
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'mode 0600 whatever the old mode');
    assert.match(text, /^x_security_token_expires = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);

    const served = await broker.credentials('app');
    const legacy = await sdkReads(file, 'legacy');
    assert.equal(legacy.arn.replace(/\/[^/]+$/, ''), ASSUMED, 'GetCallerIdentity passed as the role');
    assert.equal(legacy.accessKeyId, served.accessKeyId, 'the file holds what the endpoint serves');
    // The hand-written profiles read as they did, by the SDK's own parser.
    for (const [profile, keyId, secret] of [
      ['default', 'AKIAHANDWRITTEN00001', 'hand/written/secret'],
      ['ci', 'AKIAHANDWRITTEN00002', 'ci/secret'],
    ]) {
      const creds = await fromIni({
        profile,
        filepath: file,
        configFilepath: NO_CONFIG,
        ignoreCache: true,
      })();
      assert.deepEqual([creds.accessKeyId, creds.secretAccessKey], [keyId, secret]);
    }
    await broker.stop();
  });

  it('a refresh rewrites it with the new credentials; the rest of the file is untouched', async () => {
    const file = path.join(await freshDir(), 'credentials');
    await writeFile(file, HAND_WRITTEN, { mode: 0o600 });
    const { broker, files } = await brokerKeeping(file, { mode: '0640' });
    await broker.start();
    await files.settled();
    const first = await sdkReads(file, 'legacy');

    await broker.refreshNow('app');
    await files.settled();
    const second = await sdkReads(file, 'legacy');
    assert.notEqual(second.accessKeyId, first.accessKeyId, 'the section holds the refreshed keys');
    assert.equal(second.accessKeyId, (await broker.credentials('app')).accessKeyId);
    const text = await readFile(file, 'utf8');
    assert.equal(outside(text, 'legacy'), HAND_WRITTEN);
    assert.equal(text.match(/^\[legacy\]$/gm)?.length, 1, 'one section, replaced in place');
    assert.equal((await stat(file)).mode & 0o777, 0o640, 'mode: "0640" is applied on every rewrite');
    await broker.stop();
  });

  it('the AWS CLI (botocore) reads the section too', async (t) => {
    const cli = await run('aws', ['--version'], { timeout: 60_000 }).catch(() => undefined);
    if (!cli) return t.skip('no AWS CLI on this machine');
    const file = path.join(await freshDir(), 'credentials');
    await writeFile(file, HAND_WRITTEN, { mode: 0o600 });
    const { broker, files } = await brokerKeeping(file);
    await broker.start();
    await files.settled();
    const { stdout } = await run(
      'aws',
      [
        'sts',
        'get-caller-identity',
        '--profile',
        'legacy',
        '--endpoint-url',
        world.sts.url,
        '--output',
        'json',
      ],
      {
        timeout: 120_000,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: world.dir,
          AWS_SHARED_CREDENTIALS_FILE: file,
          AWS_CONFIG_FILE: NO_CONFIG,
          AWS_DEFAULT_REGION: 'us-east-1',
        },
      },
    );
    assert.equal(JSON.parse(stdout).Arn.replace(/\/[^/]+$/, ''), ASSUMED);
    await broker.stop();
  });

  it('stop removes the section (onStop: remove) and keeps the rest; a file with nothing else goes', async () => {
    const dir = await freshDir();
    const shared = path.join(dir, 'credentials');
    await writeFile(shared, HAND_WRITTEN, { mode: 0o600 });
    const a = await brokerKeeping(shared);
    await a.broker.start();
    await a.files.settled();
    await a.broker.stop();
    assert.equal(await readFile(shared, 'utf8'), HAND_WRITTEN, 'back to exactly what the person wrote');

    const own = path.join(dir, 'only-the-broker');
    const b = await brokerKeeping(own);
    await b.broker.start();
    await b.files.settled();
    assert.ok((await stat(own)).isFile());
    await b.broker.stop();
    await assert.rejects(stat(own), { code: 'ENOENT' }, 'no empty file is left behind');

    const kept = path.join(dir, 'kept');
    const c = await brokerKeeping(kept, { onStop: 'keep' });
    await c.broker.start();
    await c.files.settled();
    await c.broker.stop();
    assert.match(await readFile(kept, 'utf8'), /^\[legacy\]$/m, 'onStop: keep leaves it');
  });

  it('a reload that drops the profile removes its section; one that changes it elsewhere keeps it', async () => {
    const file = path.join(await freshDir(), 'credentials');
    await writeFile(file, HAND_WRITTEN, { mode: 0o600 });
    const { broker, files } = await brokerKeeping(file);
    await broker.start();
    await files.settled();
    const keeping = (extra: Record<string, unknown>) =>
      world.oidcProfile({ credentialsFile: { path: file, section: 'legacy' }, ...extra });
    // Changed (another session name), same section: rewritten by the new fetch, never removed.
    const summary = await broker.reload(world.config({ app: keeping({ role: { sessionName: 'changed' } }) }));
    assert.deepEqual(summary.changed, ['app']);
    await files.settled();
    assert.equal((await sdkReads(file, 'legacy')).arn, `${ASSUMED}/changed`);
    await broker.reload(world.config({ other: world.oidcProfile() }));
    await files.settled();
    assert.equal(await readFile(file, 'utf8'), HAND_WRITTEN, 'the dropped profile’s section is gone');
    await broker.stop();
  });
});

describe('credentialsFile: targets another user could swap are refused', () => {
  async function refused(file: string, why: RegExp): Promise<void> {
    const config = world.config({ app: world.oidcProfile({ credentialsFile: { path: file } }) });
    await assert.rejects(checkCredentialsFiles(config.profiles), (err: unknown) => {
      assert.ok(err instanceof CredentialsFileError, String(err));
      assert.equal(err.code, 'CREDENTIALS_FILE_UNSAFE');
      assert.equal(exitCodeOf(err), EXIT.CONFIG);
      assert.match(err.message, why);
      return true;
    });
  }

  it('a world- or group-writable folder (not sticky), or one another user owns', async () => {
    await refused(
      path.join(await freshDir(0o777), 'credentials'),
      /writable by every user \(mode 0777\).*chmod go-w/,
    );
    await refused(path.join(await freshDir(0o770), 'credentials'), /writable by its group \(mode 0770\)/);
    const theirs = await freshDir(0o755);
    await chown(theirs, NOBODY, NOBODY);
    await refused(path.join(theirs, 'credentials'), /owned by uid 65534, not root/);
    // Sticky (/tmp-like): only an entry's owner may replace it, so the broker's own file is safe.
    const sticky = await freshDir(0o1777);
    const config = world.config({
      app: world.oidcProfile({ credentialsFile: { path: path.join(sticky, 'credentials') } }),
    });
    await checkCredentialsFiles(config.profiles);
  });

  it('a symbolic link, or a file another user planted', async () => {
    const dir = await freshDir();
    const real = path.join(dir, 'real');
    await writeFile(real, HAND_WRITTEN);
    await symlink(real, path.join(dir, 'link'));
    await refused(path.join(dir, 'link'), /is a symbolic link.*set credentialsFile\.path to the file itself/);
    const planted = path.join(dir, 'planted');
    await writeFile(planted, HAND_WRITTEN);
    await chown(planted, NOBODY, NOBODY);
    await refused(planted, /owned by uid 65534.*planted/);
    assert.equal(await readFile(real, 'utf8'), HAND_WRITTEN, 'nothing was written through the link');
  });

  it('a folder made unsafe after start: the write is refused, logged and counted with the code, the endpoint still serves', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'credentials');
    const { broker, files, metrics } = await brokerKeeping(file);
    await broker.start();
    await files.settled();
    const before = await readFile(file, 'utf8');
    const writes = async () =>
      (
        await metrics.registry.getSingleMetric('credential_broker_credentials_file_writes_total')!.get()
      ).values
        .map((v) => `${v.labels.profile} ${v.labels.outcome} ${v.value}`)
        .sort();
    assert.deepEqual(await writes(), ['app success 1']);
    await chmod(dir, 0o777);
    await broker.refreshNow('app');
    await files.settled();
    await until('the refused write to be logged', () =>
      world.logs.some((l) => l.includes('CREDENTIALS_FILE_UNSAFE') && l.includes(file)),
    );
    assert.equal(await readFile(file, 'utf8'), before, 'not rewritten');
    assert.deepEqual(
      await writes(),
      ['app CREDENTIALS_FILE_UNSAFE 1', 'app success 1'],
      'counted for alerting',
    );
    assert.ok(await broker.credentials('app'), 'the endpoint is unaffected');
    await chmod(dir, 0o700);
    await broker.stop();
  });
});

describe('credentialsFile: config', () => {
  const parse = (profiles: Record<string, unknown>) => ({
    error: ConfigSchema.safeParse({ sts: { region: 'us-east-1' }, profiles })
      .error?.issues.map((i) => i.message)
      .join('\n'),
  });

  it('a lazy profile, or two profiles on one section, are refused naming the fix', () => {
    const lazy = parse({
      app: world.oidcProfile({ lazy: true, credentialsFile: { path: '/var/lib/x/credentials' } }),
    });
    assert.match(String(lazy.error), /credentialsFile is fetched at startup: remove lazy: true/);
    const twice = parse({
      a: world.oidcProfile({ credentialsFile: { path: '/var/lib/x/credentials', section: 'legacy' } }),
      b: world.oidcProfile({ credentialsFile: { path: '/var/lib/x/credentials', section: 'legacy' } }),
    });
    assert.match(String(twice.error), /profile "a" already keeps section \[legacy\]/);
    const padded = parse({
      a: world.oidcProfile({ credentialsFile: { path: '/var/lib/x/credentials', section: ' legacy' } }),
    });
    assert.match(String(padded.error), /spaces around it/);
  });
});

describe('credentialsFile under serve', () => {
  it('serve writes the section, SIGTERM removes it; an unsafe folder stops serve with exit 78', async () => {
    const file = path.join(await freshDir(), 'credentials');
    await writeFile(file, HAND_WRITTEN, { mode: 0o600 });
    const configFile = await world.file(
      'serve-creds.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'serve-token') },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        profiles: { app: world.oidcProfile({ credentialsFile: { path: file, section: 'legacy' } }) },
      }),
    );
    const broker = serveProcess(configFile);
    try {
      await waitReady(await broker.address());
      await until('the section to be written', async () =>
        (await readFile(file, 'utf8')).includes('[legacy]'),
      );
      const legacy = await sdkReads(file, 'legacy');
      assert.equal(legacy.arn.replace(/\/[^/]+$/, ''), ASSUMED);
      broker.child.kill('SIGTERM');
      assert.equal(await broker.exited, 0);
      assert.equal(await readFile(file, 'utf8'), HAND_WRITTEN, 'the section is gone, the rest as it was');
    } finally {
      await broker.stop();
    }

    const open = await freshDir(0o777);
    const unsafe = await world.file(
      'serve-unsafe.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'serve-token') },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        profiles: { app: world.oidcProfile({ credentialsFile: { path: path.join(open, 'credentials') } }) },
      }),
    );
    const refused = serveProcess(unsafe);
    try {
      assert.equal(await refused.exited, EXIT.CONFIG);
      assert.match(refused.stderr, /writable by every user \(mode 0777\)/);
      await assert.rejects(lstat(path.join(open, 'credentials')), { code: 'ENOENT' });
    } finally {
      await refused.stop();
    }
  });
});
