// `credential-broker exec` as a real process: CMD is a real app (the AWS SDK for JavaScript v3, its
// default chain, in its own process) that must reach the STS emulator as the profile's role, whether
// exec serves the endpoint for the run or puts the keys in the environment. Exit statuses, signals
// and the private token file are checked on the process as a shell or supervisor sees them.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cli } from '../harness/cli.ts';
import { type BrokerProcess, spawnBroker, until } from '../harness/serve-process.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const CONSUMER = ['node', '--import', 'tsx', 'test/harness/sdk-consumer.ts', 'default-chain'];
/** What CMD sees of the wiring, as one JSON line. */
const SHOW_ENV = `const e = process.env; const fs = require('node:fs');
const file = e.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
console.log(JSON.stringify({
  uri: e.AWS_CONTAINER_CREDENTIALS_FULL_URI, file, tokenInEnv: 'AWS_CONTAINER_AUTHORIZATION_TOKEN' in e,
  mode: file ? (fs.statSync(file).mode & 0o777).toString(8) : undefined,
  dirMode: file ? (fs.statSync(require('node:path').dirname(file)).mode & 0o777).toString(8) : undefined,
  keyId: e.AWS_ACCESS_KEY_ID, session: !!e.AWS_SESSION_TOKEN, expiration: e.AWS_CREDENTIAL_EXPIRATION,
  profile: e.AWS_PROFILE, roleArn: e.AWS_ROLE_ARN, brokerProfile: e.CREDENTIAL_BROKER_PROFILE }));`;

let world: World;
let configPath: string;

before(async () => {
  world = await startWorld();
  configPath = await world.file(
    'broker.yaml',
    stringify({
      sts: { endpoint: world.sts.url, region: 'us-east-1' },
      profiles: {
        default: world.oidcProfile(),
        reports: world.oidcProfile({ role: { sessionName: 'reports' } }),
        broken: world.oidcProfile({ source: { clientId: 'no-such-client' } }),
      },
    }),
    0o644,
  );
});
after(() => world.close());

/** `credential-broker exec ARGS` with an environment that would mislead CMD's SDK if exec kept it. */
function exec(args: string[]): BrokerProcess {
  return spawnBroker(['exec', '--config', configPath, ...args], {
    env: {
      HOME: world.dir,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: world.sts.url,
      AWS_PROFILE: 'no-such-profile',
      AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG0',
      AWS_SECRET_ACCESS_KEY: 'wrong',
      AWS_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/other`,
      AWS_WEB_IDENTITY_TOKEN_FILE: '/nonexistent',
    },
  });
}

/** The JSON lines CMD printed (BrokerProcess parses stdout lines as JSON). */
const printed = (p: BrokerProcess) => p.logs as Record<string, unknown>[];

describe('credential-broker exec (endpoint for the run, the default)', () => {
  it("the SDK's default chain in CMD gets the profile's role; conflicting AWS_* variables are removed", async () => {
    const p = exec(['--profile', 'reports', '--', ...CONSUMER]);
    assert.equal(await p.exited, 0, p.stderr);
    const [out] = printed(p);
    assert.equal(out?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`, p.stderr);
    assert.ok(world.sts.session(String(out?.accessKeyId)), 'credentials STS issued');
  });

  it('CMD gets a loopback URL and a private token file (0600 in a 0700 folder), no token in the environment; both gone after', async () => {
    const p = exec(['-p', 'reports', '--', 'node', '-e', SHOW_ENV]);
    assert.equal(await p.exited, 0, p.stderr);
    const [seen] = printed(p) as [Record<string, string | boolean | undefined>];
    assert.match(String(seen.uri), /^http:\/\/127\.0\.0\.1:\d+\/v1\/credentials\/reports$/);
    assert.equal(seen.tokenInEnv, false);
    assert.equal(seen.mode, '600');
    assert.equal(seen.dirMode, '700');
    assert.equal(seen.keyId, undefined);
    assert.equal(seen.profile, undefined);
    assert.equal(seen.roleArn, undefined);
    assert.equal(seen.brokerProfile, 'reports');
    await assert.rejects(stat(String(seen.file)), { code: 'ENOENT' });
    await assert.rejects(stat(path.dirname(String(seen.file))), { code: 'ENOENT' });
  });
});

describe('credential-broker exec --env-credentials', () => {
  it('CMD gets the keys and their expiry in the environment, no endpoint; its SDK uses them', async () => {
    const sdk = exec(['--profile', 'reports', '--env-credentials', '--', ...CONSUMER]);
    assert.equal(await sdk.exited, 0, sdk.stderr);
    assert.equal(printed(sdk)[0]?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/reports`);

    const p = exec(['-p', 'reports', '--env-credentials', '--', 'node', '-e', SHOW_ENV]);
    assert.equal(await p.exited, 0, p.stderr);
    const [seen] = printed(p) as [Record<string, string | boolean | undefined>];
    assert.equal(seen.uri, undefined);
    assert.equal(seen.file, undefined);
    assert.ok(world.sts.session(String(seen.keyId)), 'a key id STS issued');
    assert.equal(seen.session, true);
    assert.ok(Date.parse(String(seen.expiration)) > Date.now(), String(seen.expiration));
    assert.equal(seen.profile, undefined);
  });
});

describe("credential-broker exec: CMD's exit status and signals", () => {
  it("exits with CMD's status, and 128 + n when a signal ended CMD", async () => {
    const seven = exec(['-p', 'default', '--env-credentials', '--', 'node', '-e', 'process.exit(7)']);
    assert.equal(await seven.exited, 7);
    const killed = exec(['-p', 'default', '--', 'node', '-e', "process.kill(process.pid, 'SIGKILL')"]);
    assert.equal(await killed.exited, 128 + 9);
  });

  it('passes SIGTERM and SIGINT on to CMD, exits with its status and removes the token', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const script = `process.on('${signal}', () => { console.log(JSON.stringify({ got: '${signal}' })); process.exit(3); });
console.log(JSON.stringify({ file: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE })); setInterval(() => {}, 1000);`;
      const p = exec(['-p', 'default', '--', 'node', '-e', script]);
      await until('CMD to start', () => printed(p).length > 0, 60_000);
      const file = String(printed(p)[0]?.file);
      await stat(file); // there while CMD runs
      p.child.kill(signal);
      assert.equal(await p.exited, 3, p.stderr);
      assert.deepEqual(printed(p)[1], { got: signal });
      await assert.rejects(stat(file), { code: 'ENOENT' });
    }
  });

  it('a profile without credentials: exit 1 naming the code and `check`, CMD not run', async () => {
    const p = exec(['-p', 'broken', '--', 'node', '-e', 'console.log(JSON.stringify({ ran: true }))']);
    assert.equal(await p.exited, 1);
    assert.deepEqual(printed(p), []);
    assert.match(
      p.stderr,
      /profile "broken" has no credentials: [A-Z_]+: .*credential-broker check --profile broken/,
    );
  });

  it('a CMD that is not on PATH: exit 127 naming it', async () => {
    const p = exec(['-p', 'default', '--env-credentials', '--', 'no-such-program-xyz']);
    assert.equal(await p.exited, 127);
    assert.match(p.stderr, /cannot run "no-such-program-xyz": command not found/);
  });
});

describe('credential-broker exec usage errors (64, naming the fix)', () => {
  it('no --, no profile, an unknown profile', async () => {
    const noDash = await cli('exec', '-c', configPath, '-p', 'reports', 'aws', 's3', 'ls');
    assert.equal(noDash.code, 64);
    assert.match(
      noDash.stderr,
      /put the command after "--": credential-broker exec --profile reports -- aws s3 ls/,
    );
    const before = await cli('exec', '-c', configPath, '-p', 'reports', 'aws', '--', 's3');
    assert.equal(before.code, 64);
    const none = await cli('exec', '-c', configPath, '-p', 'reports', '--');
    assert.equal(none.code, 64);
    const noProfile = await cli('exec', '-c', configPath, '--', 'true');
    assert.equal(noProfile.code, 64);
    assert.match(noProfile.stderr, /pass --profile NAME/);
    const unknown = await cli('exec', '-c', configPath, '-p', 'nope', '--', 'true');
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /has no profile "nope"; pass one of: default, reports, broken/);
  });
});
