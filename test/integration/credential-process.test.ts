// `env` and `credential-process` against a running broker: the lines `env` prints wire the real JS
// SDK to a profile; `credential-process` prints Version 1 JSON that the JS SDK's process provider
// (credential_process in ~/.aws/config, in a temporary HOME) turns into working credentials.
import assert from 'node:assert/strict';
import { stat, utimes } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { entryPath } from '../../src/cli/endpoint-cache.ts';
import { cli } from '../harness/cli.ts';
import { consume } from '../harness/consumer.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/main.ts');

let world: World;
let app: FastifyInstance;
let base: string;
let configPath: string;

before(async () => {
  world = await startWorld();
  // credential-process keeps the config's endpoint in the user's cache folder: this file's own.
  process.env.XDG_CACHE_HOME = path.join(world.dir, 'cache');
  let broker: Awaited<ReturnType<World['broker']>>['broker'];
  ({ app, broker } = await world.broker(
    world.config({
      default: world.oidcProfile(),
      reports: world.oidcProfile({ role: { sessionName: 'reports' } }),
    }),
  ));
  await broker.start();
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  // The config an operator would have: the same listener and token file, at a fixed port.
  configPath = await world.file(
    'broker.yaml',
    stringify({
      server: { listen: new URL(base).host, tokenFile: path.join(world.dir, 'token') },
      sts: { endpoint: world.sts.url },
      profiles: { default: world.oidcProfile(), reports: world.oidcProfile() },
    }),
    0o644,
  );
});
after(() => world.close());

describe('credential-broker env', () => {
  it('prints the two lines for a shell and for a systemd EnvironmentFile=', async () => {
    const shell = await cli('env', '--profile', 'reports', '--config', configPath);
    assert.equal(shell.code, 0, shell.stderr);
    assert.equal(
      shell.stdout,
      `export AWS_CONTAINER_CREDENTIALS_FULL_URI=${base}/v1/credentials/reports\n` +
        `export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${path.join(world.dir, 'token')}\n`,
    );
    const unit = await cli('env', '-p', 'reports', '-c', configPath, '--format', 'systemd');
    assert.equal(unit.code, 0);
    assert.doesNotMatch(unit.stdout, /export/);
    // One line is all the wiring an app needs: the SDK's default chain, given exactly these.
    const env = Object.fromEntries(
      unit.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const out = await consume(world, 'default-chain', env);
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`);
  });

  it('usage and config mistakes: 64 without --profile or with a bad --format, 78 for an unknown profile', async () => {
    assert.equal((await cli('env', '--config', configPath)).code, 64);
    assert.equal((await cli('env', '-p', 'reports', '-c', configPath, '--format', 'fish')).code, 64);
    const unknown = await cli('env', '-p', 'nope', '-c', configPath);
    assert.equal(unknown.code, 78);
    assert.match(unknown.stderr, /no profile "nope"; configured: default, reports/);
  });
});

describe('credential-broker credential-process', () => {
  it('prints Version 1 JSON fetched from the running broker, and nothing else on stdout', async () => {
    const callsBefore = world.sts.calls('AssumeRoleWithWebIdentity');
    const out = await cli('credential-process', '--profile', 'reports', '--config', configPath);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, '');
    const json = JSON.parse(out.stdout);
    assert.deepEqual(Object.keys(json).sort(), [
      'AccessKeyId',
      'AccountId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'Version',
    ]);
    assert.equal(json.Version, 1);
    assert.match(json.Expiration, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.ok(world.sts.session(json.AccessKeyId));
    assert.equal(world.sts.calls('AssumeRoleWithWebIdentity'), callsBefore, 'served from the cache');
    const explicit = await cli(
      'credential-process',
      '--url',
      `${base}/v1/credentials/reports`,
      '--token-file',
      path.join(world.dir, 'token'),
    );
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.equal(JSON.parse(explicit.stdout).AccessKeyId, json.AccessKeyId);
  });

  it('a second call, from the endpoint kept in the cache, prints the same credentials', async () => {
    // Kept only for a config not modified in the last seconds.
    const past = Date.now() / 1000 - 60;
    await utimes(configPath, past, past);
    const entry = entryPath(configPath)!;
    await assert.rejects(stat(entry), { code: 'ENOENT' });
    const cold = await cli('credential-process', '--profile', 'reports', '--config', configPath);
    assert.equal(cold.code, 0, cold.stderr);
    assert.ok((await stat(entry)).isFile(), 'the first call kept the endpoint');
    const warm = await cli('credential-process', '--profile', 'reports', '--config', configPath);
    assert.equal(warm.code, 0, warm.stderr);
    assert.equal(warm.stderr, '');
    assert.equal(warm.stdout, cold.stdout);
    assert.equal(JSON.parse(warm.stdout).Version, 1);
  });

  it('failures: one line on stderr naming the cause, empty stdout, exit 1', async () => {
    const wrong = await cli(
      'credential-process',
      '-p',
      'reports',
      '-c',
      configPath,
      '--token-file',
      await world.file('wrong', 'nope'),
    );
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /profile "reports": the broker answered 401 \(TOKEN_INVALID/);
    const unreadable = await cli(
      'credential-process',
      '-p',
      'reports',
      '-c',
      configPath,
      '--token-file',
      '/nonexistent',
    );
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stderr, /cannot read the token file \/nonexistent \(ENOENT\)/);
    // nothing listens on a port just released
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const started = Date.now();
    const down = await cli(
      'credential-process',
      '--url',
      `http://127.0.0.1:${closed}/v1/credentials`,
      '--token-file',
      path.join(world.dir, 'token'),
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the broker .*ECONNREFUSED.*is credential-broker serve running\?/);
    assert.ok(Date.now() - started < 5000);
    assert.doesNotMatch(wrong.stderr + down.stderr, new RegExp(await world.token()), 'never the token');
  });

  it('the JS SDK runs it as credential_process from ~/.aws/config (process provider and default chain)', async () => {
    await world.file(
      '.aws-config',
      `[profile app]\ncredential_process = ${process.execPath} --import tsx ${MAIN} credential-process --profile reports --config ${configPath}\n`,
    );
    const env = { AWS_PROFILE: 'app', AWS_CONFIG_FILE: path.join(world.dir, '.aws-config') };
    const viaProcess = await consume(world, 'process', env);
    assert.equal(viaProcess.stderr.trim(), '');
    assert.equal(viaProcess.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`);
    const viaChain = await consume(world, 'default-chain', env);
    assert.equal(viaChain.json?.accessKeyId, viaProcess.json?.accessKeyId);
  });
});
