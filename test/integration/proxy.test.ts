// network.proxy honoured: STS (AssumeRoleWithWebIdentity, AssumeRole) and IAM Roles Anywhere
// requests go through an HTTP CONNECT proxy on loopback, which counts its tunnels; noProxy
// exempts hosts; a dead proxy is a network error, not a silent direct connection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectProxy } from '../harness/connect-proxy.ts';
import { RolesAnywhereEmulator } from '../harness/roles-anywhere-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../helpers/world.ts';

const X509_ROLE = `arn:aws:iam::${ACCOUNT}:role/x509-proxied`;
const CHAINED = `arn:aws:iam::${ACCOUNT}:role/chained-proxied`;

let world: World;
let ra: RolesAnywhereEmulator;
let proxy: ConnectProxy;
let x509Source: Record<string, unknown>;

before(async () => {
  world = await startWorld();
  ra = await RolesAnywhereEmulator.start({ sts: world.sts });
  proxy = await ConnectProxy.start();
  const ca = await TestCa.root('Proxy Test CA', 'ec');
  const leaf = await ca.issue('proxied.example');
  world.sts.trustRole({ roleArn: CHAINED, principals: [X509_ROLE, ROLE_ARN] });
  x509Source = {
    type: 'x509',
    certificateFile: await world.file('proxied.crt', leaf.certPem, 0o644),
    privateKey: `file:${await world.file('proxied.key', leaf.keyPem)}`,
    trustAnchorArn: ra.createTrustAnchor(ca.certPem),
    profileArn: ra.createProfile({ roleArns: [X509_ROLE] }),
    endpoint: ra.url,
  };
});
after(async () => {
  await proxy.close();
  await ra.close();
  await world.close();
});

describe('network.proxy', () => {
  it('x509 + chain: CreateSession and AssumeRole both tunnel through the proxy', async () => {
    const { broker } = await world.broker(
      world.config(
        { app: { source: x509Source, role: { arn: X509_ROLE }, chain: [{ arn: CHAINED }] } },
        { network: { proxy: proxy.url, noProxy: [] } },
      ),
    );
    const [raBefore, stsBefore] = [proxy.tunnelsTo(ra.url), proxy.tunnelsTo(world.sts.url)];
    const creds = await broker.fetchOnce('app');
    assert.equal(creds.roleArn, CHAINED);
    assert.equal(proxy.tunnelsTo(ra.url), raBefore + 1);
    assert.equal(proxy.tunnelsTo(world.sts.url), stsBefore + 1);
  });

  it('per profile: an oidc profile’s AssumeRoleWithWebIdentity goes through the profile’s proxy', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.oidcProfile({ network: { proxy: proxy.url, noProxy: [] } }) }),
    );
    const before = proxy.tunnelsTo(world.sts.url);
    await broker.fetchOnce('app');
    assert.ok(proxy.tunnelsTo(world.sts.url) > before);
  });

  it('noProxy exempts a host: no tunnel, still works', async () => {
    const { broker } = await world.broker(
      world.config(
        { app: { source: x509Source, role: { arn: X509_ROLE } } },
        { network: { proxy: proxy.url, noProxy: ['127.0.0.1'] } },
      ),
    );
    const before = proxy.tunnels.length;
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnels.length, before);
  });

  it('a proxy that is down: STS_UNREACHABLE (retried), never a direct connection around it', async () => {
    const dead = await ConnectProxy.start();
    const url = dead.url;
    await dead.close();
    const { broker } = await world.broker(
      world.config({ app: { source: x509Source, role: { arn: X509_ROLE } } }, { network: { proxy: url } }),
    );
    const issued = ra.sessionsIssued();
    await assert.rejects(
      broker.fetchOnce('app'),
      (err: { code: string; retryable: boolean; message: string }) => {
        assert.equal(err.code, 'STS_UNREACHABLE');
        assert.equal(err.retryable, true);
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      },
    );
    assert.equal(ra.sessionsIssued(), issued);
  });
});
