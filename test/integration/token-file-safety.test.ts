// A client token file someone else could have written is never served (security review, round
// two): a file or directory that another non-root user owns, or that others may write, stops the
// broker at startup (exit 78, naming the fix), and a file that becomes unsafe later stops
// granting access until it is fixed. The tests run as root, so "another user" is nobody (65534);
// a sticky world-writable directory (/tmp) is safe exactly when the file is the broker's own.
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { serveProcess } from '../harness/serve-process.ts';
import { startWorld, type World } from '../harness/world.ts';

const NOBODY = 65534;
const PLANTED = 'planted-token-value-0123456789abcdef';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

let dirs = 0;
/** A fresh directory with `mode` and owner, holding `token` with its own mode and owner. */
async function tokenIn(dirMode: number, file?: { mode: number; uid?: number }, dirUid = 0): Promise<string> {
  const dir = path.join(world.dir, `tokens-${++dirs}`);
  await mkdir(dir);
  await chmod(dir, dirMode); // mkdir's mode is cut by the umask, and it cannot set the sticky bit
  await chown(dir, dirUid, dirUid);
  const token = path.join(dir, 'token');
  if (file) {
    await writeFile(token, PLANTED);
    await chmod(token, file.mode);
    if (file.uid !== undefined) await chown(token, file.uid, file.uid);
  }
  return token;
}

const brokerWith = (tokenFile: string) =>
  world.broker(
    world.config(
      { app: world.oidcProfile({ lazy: true }) },
      { server: { listen: '127.0.0.1:0', tokenFile } },
    ),
  );

async function refused(tokenFile: string, why: RegExp): Promise<void> {
  await assert.rejects(brokerWith(tokenFile), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, why);
    return true;
  });
}

describe('client token file safety', () => {
  it('a planted token file (another user’s, world-writable) is refused at startup, naming the fix', async () => {
    const planted = await tokenIn(0o755, { mode: 0o666, uid: NOBODY });
    await refused(planted, /is owned by uid 65534, not root: .*remove it and let the broker create it/);
  });

  it('a world- or group-writable token file is refused even when root owns it: chmod 0600', async () => {
    await refused(
      await tokenIn(0o755, { mode: 0o666 }),
      /writable by every user \(mode 0666\): run chmod 0600/,
    );
    await refused(
      await tokenIn(0o755, { mode: 0o620 }),
      /writable by its group \(mode 0620\): run chmod 0600/,
    );
  });

  it('a directory others can write is refused (they could swap the file), unless it is sticky', async () => {
    await refused(
      await tokenIn(0o777),
      /its directory .* is writable by every user \(mode 0777\).*chmod go-w/,
    );
    await refused(await tokenIn(0o777, { mode: 0o600 }), /writable by every user/);
    await refused(await tokenIn(0o755, undefined, NOBODY), /its directory .* is owned by uid 65534/);
    // /tmp-like: sticky, so only an entry's owner can replace it; then the file's owner decides.
    const own = await tokenIn(0o1777);
    const { tokens } = await brokerWith(own);
    assert.equal(tokens.current.fileFor('app'), own);
    await refused(await tokenIn(0o1777, { mode: 0o600, uid: NOBODY }), /is owned by uid 65534/);
  });

  it('the broker’s own 0600 or 0640 file, or root’s 0644, in a safe directory is served', async () => {
    for (const mode of [0o600, 0o640, 0o644]) {
      const file = await tokenIn(0o755, { mode });
      const { app } = await brokerWith(file);
      const res = await app.inject({ url: '/v1/credentials/app', headers: { authorization: PLANTED } });
      assert.notEqual(res.statusCode, 401, `mode 0${mode.toString(8)}: the token is accepted`);
    }
  });

  it('`serve` with a planted token file exits 78 before listening, naming the file', async () => {
    const planted = await tokenIn(0o755, { mode: 0o666, uid: NOBODY });
    const config = await world.file(
      'planted.yaml',
      `server:\n  listen: 127.0.0.1:0\n  tokenFile: ${planted}\nsts:\n  region: us-east-1\n  endpoint: ${world.sts.url}\nprofiles:\n  app:\n    lazy: true\n    source:\n      type: oidc\n      issuer: ${world.op.issuer}\n      clientId: secret-client\n      clientAuth:\n        method: client_secret_basic\n        clientSecret: file:${path.join(world.dir, 'client-secret')}\n    role:\n      arn: arn:aws:iam::123456789012:role/app\n`,
    );
    const broker = serveProcess(config);
    try {
      const code = await Promise.race([
        broker.exited,
        new Promise((resolve) => setTimeout(() => resolve('still running after 60 s'), 60_000)),
      ]);
      assert.equal(code, 78, broker.allOutput);
      assert.ok(
        broker.allOutput.includes(planted) && broker.allOutput.includes('owned by uid 65534'),
        broker.allOutput,
      );
      assert.ok(!broker.logs.some((l) => l.msg === 'credential broker listening'));
    } finally {
      await broker.stop();
    }
  });

  it('a token file that becomes unsafe later stops granting access (one error line) until fixed', async () => {
    const file = await tokenIn(0o755, { mode: 0o600 });
    const { app } = await brokerWith(file);
    const status = async () =>
      (await app.inject({ url: '/v1/credentials/app', headers: { authorization: PLANTED } })).statusCode;
    const reread = () => new Promise((r) => setTimeout(r, 1100)); // token files are re-read at most once a second
    assert.notEqual(await status(), 401);

    await chmod(file, 0o666);
    await reread();
    assert.equal(await status(), 401, 'a world-writable token grants nothing');
    await reread();
    assert.equal(await status(), 401);
    const errors = world.logs.map((l) => JSON.parse(l)).filter((l) => l.code === 'TOKEN_FILE_UNSAFE');
    assert.equal(errors.length, 1, 'logged once, not at every re-read');
    assert.equal(errors[0].level, 'error');
    assert.match(errors[0].msg, /writable by every user .* refused until that is fixed/);

    await chmod(file, 0o600);
    await reread();
    assert.notEqual(await status(), 401, 'served again once fixed');

    await chown(file, NOBODY, NOBODY); // e.g. replaced by a file of another user
    await reread();
    assert.equal(await status(), 401, 'another user’s file grants nothing');
  });
});
