// Certificate checks to STS cannot be switched off quietly (security review, round two): with
// NODE_TLS_REJECT_UNAUTHORIZED=0 `serve` refuses to start and `check` refuses to vouch (exit 78,
// naming the variable and network.caFile), and an STS whose certificate this host does not trust
// is named as a certificate error (not STS_REQUEST_INVALID). STS is the emulator behind a TLS
// front whose certificate comes from a CA the host does not know.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { spawnBroker } from '../harness/serve-process.ts';
import { TestCa } from '../harness/test-ca.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
let front: tls.Server;
let stsHttps: string;
let caFile: string;

before(async () => {
  world = await startWorld();
  const ca = await TestCa.root('Untrusted STS CA', 'ec');
  const leaf = await ca.issue('localhost', { san: { type: 'dns', value: 'localhost' } });
  caFile = await world.file('sts-ca.pem', ca.certPem, 0o644);
  const target = Number(new URL(world.sts.url).port);
  front = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  stsHttps = `https://localhost:${(front.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => front.close(resolve));
  await world.close();
});

const viaFront = (extra: object = {}) => ({
  sts: { region: 'us-east-1', endpoint: stsHttps, timeout: '10s' },
  ...extra,
});

async function configFile(name: string): Promise<string> {
  return world.file(
    name,
    `server:\n  listen: 127.0.0.1:0\n  tokenFile: ${world.dir}/${name}.token\nsts:\n  region: us-east-1\n  endpoint: ${stsHttps}\nprofiles:\n  app:\n    lazy: true\n    source:\n      type: oidc\n      issuer: ${world.op.issuer}\n      clientId: secret-client\n      clientAuth:\n        method: client_secret_basic\n        clientSecret: file:${world.dir}/client-secret\n    role:\n      arn: arn:aws:iam::123456789012:role/app\n`,
  );
}

describe('TLS verification towards STS', () => {
  it('an STS certificate from an unknown CA is named as a certificate error with the fix', async () => {
    const { broker } = await world.broker(world.config({ app: world.oidcProfile() }, viaFront()));
    await assert.rejects(broker.fetchOnce('app'), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'STS_UNREACHABLE', err.message);
      assert.match(err.message, /TLS certificate not accepted: .*name that CA in network\.caFile/);
      return true;
    });
    // And with that CA named, the same STS works.
    const trusted = await world.broker(
      world.config({ app: world.oidcProfile() }, viaFront({ network: { caFile } })),
    );
    assert.match((await trusted.broker.fetchOnce('app')).accessKeyId, /^ASIA/);
  });

  for (const command of ['serve', 'check'] as const) {
    it(`NODE_TLS_REJECT_UNAUTHORIZED=0: ${command} exits 78 naming the variable and network.caFile`, async () => {
      const args = [command, '--config', await configFile(`tls-off-${command}.yaml`)];
      const child = spawnBroker(args, { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
      try {
        const code = await Promise.race([
          child.exited,
          new Promise((resolve) => setTimeout(() => resolve('still running after 60 s'), 60_000)),
        ]);
        assert.equal(code, 78, child.allOutput);
        assert.match(child.allOutput, /NODE_TLS_REJECT_UNAUTHORIZED=0 is set: .*network\.caFile/);
      } finally {
        await child.stop();
      }
    });
  }
});
