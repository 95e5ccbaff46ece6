// A pod with the IRSA variables and no config file: `serve` builds one web-identity-file profile
// from AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_SESSION_NAME, and calls the STS that
// AWS_ENDPOINT_URL_STS names (here the emulator, which verifies the token against the real OpenID
// Provider's JWKS); the real AWS SDK then gets credentials from it, and so does `credential-process`
// run with the same variables. Without those variables, or
// with only one of them, serve stops with exit 78 naming what to set.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG_PATH } from '../../src/config/default-path.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { spawnBroker, waitReady } from '../harness/serve-process.ts';
import { ACCOUNT, CLIENT_SECRET, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world?.close());

/** A JWT from the OP (client_credentials), standing in for the projected service-account token. */
async function issueToken(): Promise<string> {
  const res = await fetch(world.op.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`secret-client:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: world.op.resource }),
  });
  const json = (await res.json()) as { access_token?: string };
  assert.ok(json.access_token, JSON.stringify(json));
  return json.access_token;
}

/** Everything but the variables under test, so the machine's own environment cannot leak in. */
function env(extra: Record<string, string>): Record<string, string> {
  return {
    AWS_ROLE_ARN: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    AWS_ROLE_SESSION_NAME: '',
    AWS_ENDPOINT_URL_STS: '',
    AWS_ENDPOINT_URL: '',
    RUNTIME_DIRECTORY: world.dir,
    ...extra,
  };
}

describe('serve with no config file', () => {
  it('the IRSA variables make one web-identity profile "default" that the AWS SDK and credential-process get credentials from', async (t) => {
    await assert.rejects(access(DEFAULT_CONFIG_PATH), `the test needs no file at ${DEFAULT_CONFIG_PATH}`);
    const tokenFile = path.join(world.dir, 'sa-token');
    await writeFile(tokenFile, await issueToken());
    const irsa = env({
      AWS_ROLE_ARN: ROLE_ARN,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_SESSION_NAME: 'irsa-pod',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: world.sts.url,
    });
    const broker = spawnBroker(['serve'], { env: irsa });
    t.after(() => broker.stop());
    // The default listener: there is no config to choose another.
    const base = 'http://127.0.0.1:9911';
    await waitReady(base, 30_000).catch((err) => {
      throw new Error(`${err.message}; stderr: ${broker.stderr}; logs: ${JSON.stringify(broker.logs)}`);
    });
    const startup = await broker.waitFor(
      (e) => /config came from the environment/.test(e.msg),
      'the startup line',
    );
    assert.equal(startup.profile, 'default');
    assert.equal(startup.roleArn, ROLE_ARN);
    assert.equal(startup.tokenFile, tokenFile);

    const out = await consumeWithSdk(world, base, 'default');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/irsa-pod`, out.stderr);
    // The broker asked the STS that AWS_ENDPOINT_URL_STS names, with the token from the file.
    assert.ok(world.sts.calls('AssumeRoleWithWebIdentity') >= 1);

    // credential-process in the same pod reads the same variables: no config file there either.
    const cp = spawnBroker(['credential-process', '--profile', 'default'], { env: irsa });
    // 'close', not exit: its stdout has been read to the end by then.
    const [code] = await once(cp.child, 'close');
    assert.equal(code, 0, cp.stderr);
    // Its stdout is one JSON line, which the helper collects as it does serve's log lines.
    assert.equal(cp.logs.length, 1, JSON.stringify(cp.logs));
    const printed = cp.logs[0] as unknown as { Version: number; AccessKeyId: string };
    assert.equal(printed.Version, 1);
    assert.ok(world.sts.session(printed.AccessKeyId), 'credentials the STS emulator issued');
  });

  it('without the IRSA variables, the error names both ways (exit 78)', async () => {
    const broker = spawnBroker(['serve'], { env: env({}) });
    assert.equal(await broker.exited, 78);
    assert.match(
      broker.stderr,
      /\/etc\/credential-broker\/config\.yaml: cannot read the config file \(no such file\); pass --config PATH, or set AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE/,
    );
  });

  it('with only one of the two variables, the error names the missing one (exit 78)', async () => {
    const broker = spawnBroker(['serve'], { env: env({ AWS_ROLE_ARN: ROLE_ARN }) });
    assert.equal(await broker.exited, 78);
    assert.match(broker.stderr, /AWS_ROLE_ARN is set without AWS_WEB_IDENTITY_TOKEN_FILE: set both/);
  });

  it('a malformed AWS_ROLE_ARN is named as the variable, not as a config path (exit 78)', async () => {
    const broker = spawnBroker(['serve'], {
      env: env({ AWS_ROLE_ARN: 'arn:aws:iam::123:role/x', AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/t' }),
    });
    assert.equal(await broker.exited, 78);
    assert.match(broker.stderr, /AWS_ROLE_ARN: expected an IAM role ARN/);
  });

  it('an explicit --config that does not exist is an error even with the IRSA variables set', async () => {
    const missing = path.join(world.dir, 'nope.yaml');
    const broker = spawnBroker(['serve', '--config', missing], {
      env: env({ AWS_ROLE_ARN: ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/t' }),
    });
    assert.equal(await broker.exited, 78);
    assert.match(
      broker.stderr,
      /nope\.yaml: cannot read the config file \(no such file\); pass --config PATH\n/,
    );
  });
});
