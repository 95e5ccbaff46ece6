// network.caFile: an https endpoint whose certificate comes from a private CA (a TLS-inspecting
// proxy's, an internal VPC endpoint's) is trusted only once caFile names that CA, directly and
// through the CONNECT proxy; the system roots stay trusted.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { dispatcherFor, type ResolvedNetwork } from '../../src/outbound.ts';
import { ConnectProxy } from '../harness/connect-proxy.ts';
import { TestCa } from '../harness/test-ca.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
let server: https.Server;
let proxy: ConnectProxy;
let url: URL;
let caFile: string;

before(async () => {
  world = await startWorld();
  const ca = await TestCa.root('Corporate Inspection CA', 'ec');
  const leaf = await ca.issue('localhost', { san: { type: 'dns', value: 'localhost' } });
  caFile = await world.file('corp-ca.pem', ca.certPem, 0o644);
  server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`https://localhost:${(server.address() as AddressInfo).port}/`);
  proxy = await ConnectProxy.start();
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await proxy.close();
  await world.close();
});

async function get(network: ResolvedNetwork): Promise<string> {
  const dispatcher = await dispatcherFor(url, network);
  try {
    return await (await request(url, { dispatcher })).body.text();
  } finally {
    await dispatcher?.close();
  }
}

describe('network.caFile', () => {
  it('without it, the private CA is not trusted', async () => {
    await assert.rejects(
      get({ proxy: undefined, noProxy: [], caFile: undefined }),
      (err: { code: string }) => {
        assert.match(err.code, /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
        return true;
      },
    );
  });

  it('with it: trusted directly, and through the CONNECT proxy (TLS end to end inside the tunnel)', async () => {
    assert.equal(await get({ proxy: undefined, noProxy: [], caFile }), 'hello');
    const before = proxy.tunnelsTo(url.href);
    assert.equal(await get({ proxy: proxy.url, noProxy: [], caFile }), 'hello');
    assert.equal(proxy.tunnelsTo(url.href), before + 1);
  });

  it('an unreadable caFile is a config error naming the setting', async () => {
    await assert.rejects(
      dispatcherFor(url, { proxy: undefined, noProxy: [], caFile: `${world.dir}/missing.pem` }),
      {
        code: 'CONFIG_INVALID',
        message: /network\.caFile .*missing\.pem: cannot read it \(ENOENT\)/,
      },
    );
  });
});
