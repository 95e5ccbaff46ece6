// The aws source (AWS SDK credential chain → AssumeRole) and role chaining for any profile,
// against the STS emulator, which verifies SigV4 on every AssumeRole, checks ExternalId, carries
// transitive tags and source identity along the chain and refuses chained sessions over 1 hour.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeError } from '../../src/errors.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const BASE = `arn:aws:iam::${ACCOUNT}:role/deployer`;
const HOP1 = `arn:aws:iam::${ACCOUNT}:role/partner-access`;
const HOP2 = `arn:aws:iam::${ACCOUNT}:role/data-reader`;

let world: World;
let credentialsFile: string;

before(async () => {
  world = await startWorld();
  const user = world.sts.createUser('broker-host');
  credentialsFile = await world.file(
    'aws-credentials',
    `[ci]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`,
  );
  world.sts.trustRole({ roleArn: BASE, principals: [user.arn] });
  world.sts.trustRole({ roleArn: HOP1, principals: [ROLE_ARN, BASE], externalId: 'partner-7f3a' });
  world.sts.trustRole({ roleArn: HOP2, principals: [HOP1] });
});
after(() => world.close());

function awsProfile(extra: object = {}) {
  return {
    source: {
      type: 'aws',
      profile: 'ci',
      credentialsFile,
      configFile: path.join(world.dir, 'no-aws-config'),
    },
    role: { arn: BASE, sessionName: 'host-{profile}' },
    ...extra,
  };
}

describe('aws source → AssumeRole', () => {
  it('static keys from a shared credentials file: the AWS SDK gets the assumed role through the broker', async () => {
    const { broker, app } = await world.broker(world.config({ deploy: awsProfile() }));
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const out = await consumeWithSdk(world, base, 'deploy');
    assert.equal(out.stderr.trim(), '');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/host-deploy`);
    assert.equal(world.sts.session(out.json.accessKeyId)?.via, 'AssumeRole');
  });

  it('the credentials file is re-read on every exchange (rotated keys need no restart)', async () => {
    const file = await world.file(
      'rotating-credentials',
      `[ci]\naws_access_key_id = AKIAWRONGWRONGWRONG1\naws_secret_access_key = nope\n`,
    );
    const p = awsProfile();
    p.source.credentialsFile = file;
    const { broker } = await world.broker(world.config({ app: p }));
    await assert.rejects(broker.fetchOnce('app'), { code: 'STS_REQUEST_INVALID' });

    const fresh = world.sts.createUser('broker-host-2');
    world.sts.trustRole({ roleArn: BASE, principals: [fresh.arn] });
    await world.file(
      'rotating-credentials',
      `[ci]\naws_access_key_id = ${fresh.accessKeyId}\naws_secret_access_key = ${fresh.secretAccessKey}\n`,
    );
    assert.match((await broker.fetchOnce('app')).accessKeyId, /^ASIA/);
  });

  it('a profile missing from the file: AWS_CREDENTIALS_UNAVAILABLE naming where it looked', async () => {
    const p = awsProfile();
    p.source.profile = 'nope';
    const err = await world.failureOf(p);
    assert.equal(err.code, 'AWS_CREDENTIALS_UNAVAILABLE');
    assert.match(err.message, /profile nope/);
  });
});

describe('role chaining (chain:)', () => {
  const chain = [
    {
      arn: HOP1,
      externalId: 'partner-7f3a',
      sessionName: 'hop1-{profile}',
      tags: [
        { key: 'team', value: 'data' },
        { key: 'cost-center', value: '42' },
      ],
      transitiveTagKeys: ['team'],
      sourceIdentity: '{profile}-{hostname}',
    },
    { arn: HOP2, sessionName: 'hop2-{sub}', durationSeconds: 7200 },
  ];

  it('oidc → two hops: ExternalId, session tags (transitive carried on), source identity, 1 h cap', async () => {
    const { broker } = await world.broker(world.config({ etl: world.oidcProfile({ chain }) }));
    const warnings = world.logs.filter((l) => /AWS limits chained role sessions to 3600/.test(l));
    assert.equal(warnings.length, 1, 'one startup warning about the 7200 s request');

    const creds = await broker.fetchOnce('etl');
    const who = await broker.callerIdentity('etl', creds);
    assert.equal(who.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/data-reader/hop2-secret-client`);
    assert.equal(creds.roleArn, HOP2);

    const session = world.sts.session(creds.accessKeyId)!;
    assert.deepEqual(session.tags, [{ key: 'team', value: 'data', transitive: true }]);
    assert.match(session.sourceIdentity ?? '', /^etl-/);
    const lifetime = creds.expiration.getTime() - Date.now();
    assert.ok(lifetime <= 3600_000 && lifetime > 3500_000, `capped at 1 h, got ${lifetime} ms`);
  });

  it('aws source + chain, through the AWS SDK: the app runs as the last role', async () => {
    const { broker, app } = await world.broker(world.config({ partner: awsProfile({ chain: [chain[0]] }) }));
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const out = await consumeWithSdk(world, base, 'partner');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/partner-access/hop1-partner`);
  });

  it('a wrong ExternalId: STS_ACCESS_DENIED naming the hop and the ExternalId condition', async () => {
    const err = await world.failureOf(
      world.oidcProfile({ chain: [{ ...chain[0], externalId: 'wrong-id' }] }),
    );
    assert.equal(err.code, 'STS_ACCESS_DENIED');
    assert.match(describeError(err), /profile "app": STS denied assuming chain\[0\] role .*partner-access/);
    assert.match(err.message, /sts:ExternalId condition must equal the configured externalId/);
    assert.equal(err.retryable, false);
  });

  it('a missing ExternalId: the hint says to add one', async () => {
    const { externalId: _, ...noId } = chain[0]!;
    const err = await world.failureOf(world.oidcProfile({ chain: [noId] }));
    assert.equal(err.code, 'STS_ACCESS_DENIED');
    assert.match(err.message, /add externalId if it requires sts:ExternalId/);
  });

  it('a chain hop may not override an inherited transitive tag (STS refuses, the broker says so)', async () => {
    const err = await world.failureOf(
      world.oidcProfile({ chain: [chain[0], { arn: HOP2, tags: [{ key: 'team', value: 'other' }] }] }),
    );
    assert.equal(err.code, 'STS_REQUEST_INVALID');
    assert.match(err.message, /transitive session tag team/);
  });
});
