// network.proxy honoured: STS (AssumeRoleWithWebIdentity, AssumeRole) and IAM Roles Anywhere
// requests go through an HTTP CONNECT proxy on loopback, which counts its tunnels; noProxy
// exempts hosts; a dead proxy is a network error, not a silent direct connection. An
// authenticating proxy gets its password from a secret reference (network.proxyAuth) or from
// HTTPS_PROXY, and the password shows in no log line and no error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrokerError } from '../../src/errors.ts';
import { fetchFor, resolveNetwork } from '../../src/outbound.ts';
import { ConnectProxy } from '../harness/connect-proxy.ts';
import { RolesAnywhereEmulator } from '../harness/roles-anywhere-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

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

describe('network.proxyAuth', () => {
  const PROXY_USER = 'svc-broker';
  const PROXY_PASSWORD = 'pr0xy-Secret-4-tests';
  const basic = `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`;
  let authProxy: ConnectProxy;
  before(async () => {
    authProxy = await ConnectProxy.start({ credentials: { username: PROXY_USER, password: PROXY_PASSWORD } });
  });
  after(() => authProxy.close());

  const viaAuthProxy = async (password: string) => ({
    network: {
      proxy: authProxy.url,
      proxyAuth: {
        username: PROXY_USER,
        password: `file:${await world.file('proxy-password', `${password}\n`)}`,
      },
      noProxy: [],
    },
  });

  it('the proxy gets Proxy-Authorization from the secret reference: the OIDC issuer and STS both tunnel', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.oidcProfile(await viaAuthProxy(PROXY_PASSWORD)) }),
    );
    const seen = authProxy.authorizations.length;
    const creds = await broker.fetchOnce('app');
    assert.equal(creds.roleArn, ROLE_ARN);
    assert.ok(authProxy.tunnelsTo(world.op.issuer) >= 1, 'the issuer was reached through the proxy');
    assert.ok(authProxy.tunnelsTo(world.sts.url) >= 1, 'STS was reached through the proxy');
    const sent = authProxy.authorizations.slice(seen);
    assert.ok(sent.length >= 2);
    assert.deepEqual(new Set(sent), new Set([basic]));
    assert.ok(!world.logs.some((l) => l.includes(PROXY_PASSWORD)), 'the password is in no log line');
  });

  it('a wrong password: the 407 is named with the setting to fix, retried, and the password is nowhere', async () => {
    const wrong = 'wr0ng-Proxy-Password';
    const err = (await world.failureOf(world.oidcProfile(await viaAuthProxy(wrong)))) as BrokerError & {
      retryable: boolean;
    };
    assert.equal(err.code, 'OIDC_UNREACHABLE', err.message);
    assert.equal(err.retryable, true);
    assert.match(err.message, /407 Proxy Authentication Required; check network\.proxyAuth/);
    for (const text of [err.message, ...world.logs]) {
      assert.ok(!text.includes(wrong) && !text.includes(PROXY_PASSWORD), 'no password in errors or logs');
    }
  });

  it('x509: Roles Anywhere and STS get the credentials too; a wrong one is STS_UNREACHABLE naming proxyAuth', async () => {
    const { broker } = await world.broker(
      world.config(
        { app: { source: x509Source, role: { arn: X509_ROLE } } },
        await viaAuthProxy(PROXY_PASSWORD),
      ),
    );
    const before = authProxy.tunnelsTo(ra.url);
    await broker.fetchOnce('app');
    assert.equal(authProxy.tunnelsTo(ra.url), before + 1);
    const err = await world.failureOf({
      source: x509Source,
      role: { arn: X509_ROLE },
      ...(await viaAuthProxy('nope-nope')),
    });
    assert.equal(err.code, 'STS_UNREACHABLE');
    assert.match(err.message, /check network\.proxyAuth/);
  });

  it("a profile naming another proxy does not inherit the top level's credentials", async () => {
    const top = await viaAuthProxy(PROXY_PASSWORD);
    const net = resolveNetwork([top.network, { proxy: proxy.url }], {});
    assert.equal(net.proxy, proxy.url);
    assert.equal(net.proxyAuth, undefined);
    assert.deepEqual(resolveNetwork([top.network, { noProxy: ['x'] }], {}).proxyAuth, top.network.proxyAuth);
  });

  it('HTTPS_PROXY may carry user:password (the environment is where operators keep it)', async () => {
    const withCreds = new URL(authProxy.url);
    withCreds.username = PROXY_USER;
    withCreds.password = PROXY_PASSWORD;
    const network = resolveNetwork([undefined], { HTTPS_PROXY: withCreds.href });
    const seen = authProxy.authorizations.length;
    const response = await fetchFor(network)(`${world.op.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    assert.deepEqual(authProxy.authorizations.slice(seen), [basic]);
  });
});
