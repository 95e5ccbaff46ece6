// network.proxy / noProxy / caFile for the identity providers, as for STS (proxy.test.ts): the
// OIDC issuer's discovery and token requests and every request of a SAML login go through the
// CONNECT proxy, one tunnel per request, which the proxy counts; noProxy exempts the IdP; an IdP
// whose certificate comes from a private CA is trusted once caFile names that CA, directly and
// inside the tunnel. And a failure says what failed: the address refused, the certificate, the
// timeout, not fetch's bare "fetch failed".
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BrokerError } from '../../src/errors.ts';
import { ConnectProxy } from '../harness/connect-proxy.ts';
import { freePort, listenOnLoopback } from '../harness/listen.ts';
import { OidcOp } from '../harness/oidc-op.ts';
import { SamlIdp } from '../harness/saml-idp.ts';
import { PASSWORD, rolePair, type SamlWorld, startSamlWorld } from '../harness/saml-world.ts';
import { StsEmulator } from '../harness/sts-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';
import { ACCOUNT, CLIENT_SECRET, ROLE_ARN } from '../harness/world.ts';

const TLS_PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:saml-provider/tls-idp`;

let world: SamlWorld;
let proxy: ConnectProxy;
let caFile: string;
let httpsOp: OidcOp;
/** Trusts the private CA for the https OP's JWKS, as AWS trusts the issuer's public certificate. */
let httpsSts: StsEmulator;
let httpsIdp: SamlIdp;

before(async () => {
  world = await startSamlWorld();
  proxy = await ConnectProxy.start();
  const ca = await TestCa.root('Corporate IdP CA', 'ec');
  const leaf = await ca.issue('localhost', { san: { type: 'dns', value: 'localhost' } });
  caFile = await world.file('idp-ca.pem', ca.certPem, 0o644);
  const tls = { cert: leaf.certPem, key: leaf.keyPem };

  httpsOp = await OidcOp.start({
    clients: [{ clientId: 'secret-client', clientSecret: CLIENT_SECRET }],
    tls,
  });
  httpsSts = await StsEmulator.start({ issuerCa: ca.certPem });
  httpsSts.registerOidcProvider({ issuer: httpsOp.issuer, clientIds: ['sts.amazonaws.com'] });
  httpsSts.trustRole({ roleArn: ROLE_ARN, issuer: httpsOp.issuer, audience: 'sts.amazonaws.com' });

  // Its own IAM SAML provider: the assertion names the provider whose metadata has this IdP's key.
  const users = [{ username: 'svc-app', password: PASSWORD, roles: [rolePair(ROLE_ARN, TLS_PROVIDER_ARN)] }];
  httpsIdp = await SamlIdp.start({ users, tls });
  world.sts.registerSamlProvider({ arn: TLS_PROVIDER_ARN, metadataXml: httpsIdp.metadataXml });
  world.sts.trustRole({ roleArn: ROLE_ARN, samlProvider: TLS_PROVIDER_ARN });
});
after(async () => {
  await Promise.all([proxy.close(), httpsOp.close(), httpsSts.close(), httpsIdp.close()]);
  await world.close();
});

const viaProxy = (noProxy: string[] = []) => ({ network: { proxy: proxy.url, noProxy } });
/** The https OP's STS, for a config whose exchange must verify the OP's tokens. */
const httpsStsSettings = () => ({ sts: { region: 'us-east-1', endpoint: httpsSts.url, timeout: '10s' } });

async function failure(config: ReturnType<SamlWorld['config']>): Promise<BrokerError> {
  const { broker } = await world.broker(config);
  return broker.fetchOnce('app').then(
    () => assert.fail('the fetch should have failed'),
    (err: BrokerError) => err,
  );
}

describe('oidc source: network settings', () => {
  it('through the proxy: discovery and token request one tunnel each, then the token request alone', async () => {
    const { broker } = await world.broker(world.config({ app: world.oidcProfile() }, viaProxy()));
    const start = proxy.tunnelsTo(world.op.issuer);
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnelsTo(world.op.issuer), start + 2);
    // The discovery document is cached: the second fetch asks the token endpoint only.
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnelsTo(world.op.issuer), start + 3);
  });

  it('a per-profile proxy counts for the issuer too', async () => {
    const { broker } = await world.broker(world.config({ app: world.oidcProfile(viaProxy()) }));
    const start = proxy.tunnelsTo(world.op.issuer);
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnelsTo(world.op.issuer), start + 2);
  });

  it('noProxy exempts the issuer: no tunnel, still works', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.oidcProfile() }, viaProxy(['127.0.0.1'])),
    );
    const start = proxy.tunnels.length;
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnels.length, start);
  });

  it('a proxy that is down: OIDC_UNREACHABLE naming the proxy address, never a direct request', async () => {
    const port = await freePort();
    const requests = world.op.tokenRequests();
    const err = await failure(
      world.config({ app: world.oidcProfile() }, { network: { proxy: `http://127.0.0.1:${port}` } }),
    );
    assert.equal(err.code, 'OIDC_UNREACHABLE');
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    assert.equal(world.op.tokenRequests(), requests);
  });

  it('an https issuer with a private CA: refused without caFile, with a message naming the fix', async () => {
    const err = await failure(
      world.config({ app: world.oidcProfile({ source: { issuer: httpsOp.issuer } }) }, httpsStsSettings()),
    );
    assert.equal(err.code, 'OIDC_UNREACHABLE');
    assert.match(
      err.message,
      /TLS certificate not accepted: .*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).*network\.caFile/,
    );
  });

  it('an https issuer with a private CA: trusted with caFile, directly and inside the tunnel', async () => {
    const profile = world.oidcProfile({ source: { issuer: httpsOp.issuer } });
    const direct = await world.broker(
      world.config({ app: profile }, { network: { caFile }, ...httpsStsSettings() }),
    );
    assert.equal((await direct.broker.fetchOnce('app')).roleArn, ROLE_ARN);

    const tunnelled = await world.broker(
      world.config(
        { app: profile },
        { network: { caFile, proxy: proxy.url, noProxy: [] }, ...httpsStsSettings() },
      ),
    );
    const start = proxy.tunnelsTo(httpsOp.issuer);
    assert.equal((await tunnelled.broker.fetchOnce('app')).roleArn, ROLE_ARN);
    assert.equal(proxy.tunnelsTo(httpsOp.issuer), start + 2);
  });

  it('an unreadable caFile: CONFIG_INVALID naming the setting, not an IdP outage', async () => {
    const err = await failure(
      world.config({ app: world.oidcProfile() }, { network: { caFile: `${world.dir}/missing-ca.pem` } }),
    );
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /network\.caFile .*missing-ca\.pem: cannot read it \(ENOENT\)/);
  });
});

describe('saml source: network settings', () => {
  it('through the proxy: every request of the login in its own tunnel', async () => {
    const { broker } = await world.broker(world.config({ app: world.samlProfile('basic') }, viaProxy()));
    const start = proxy.tunnelsTo(world.idp.url);
    await broker.fetchOnce('app');
    // Basic: the sign-on page answers 401, the repeat with credentials gets the auto-post form.
    assert.equal(proxy.tunnelsTo(world.idp.url), start + 2);
  });

  it('a form login through a per-profile proxy', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.samlProfile('form', 'svc-app', viaProxy()) }),
    );
    const start = proxy.tunnelsTo(world.idp.url);
    await broker.fetchOnce('app');
    assert.ok(proxy.tunnelsTo(world.idp.url) >= start + 2, 'the form page and the posted credentials');
  });

  it('noProxy exempts the IdP: no tunnel, still works', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.samlProfile('ecp') }, viaProxy(['127.0.0.1'])),
    );
    const start = proxy.tunnels.length;
    await broker.fetchOnce('app');
    assert.equal(proxy.tunnels.length, start);
  });

  it('an https IdP with a private CA: refused without caFile, with a message naming the fix', async () => {
    const err = await failure(
      world.config({
        app: world.samlProfile('basic', 'svc-app', { source: { idpUrl: httpsIdp.urls.basic } }),
      }),
    );
    assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
    assert.match(
      err.message,
      /cannot reach the IdP at https:\/\/localhost:\d+ \(TLS certificate not accepted: .*network\.caFile\)/,
    );
  });

  it('an https IdP with a private CA: trusted with caFile, directly and inside the tunnel', async () => {
    const profile = world.samlProfile('basic', 'svc-app', { source: { idpUrl: httpsIdp.urls.basic } });
    const direct = await world.broker(world.config({ app: profile }, { network: { caFile } }));
    assert.equal((await direct.broker.fetchOnce('app')).roleArn, ROLE_ARN);

    const tunnelled = await world.broker(
      world.config({ app: profile }, { network: { caFile, proxy: proxy.url, noProxy: [] } }),
    );
    const start = proxy.tunnelsTo(httpsIdp.url);
    assert.equal((await tunnelled.broker.fetchOnce('app')).roleArn, ROLE_ARN);
    assert.equal(proxy.tunnelsTo(httpsIdp.url), start + 2);
  });
});

describe('saml source: an unreadable caFile', () => {
  it('CONFIG_INVALID naming the setting, not an IdP outage', async () => {
    const err = await failure(
      world.config(
        { app: world.samlProfile('basic') },
        { network: { caFile: `${world.dir}/missing-ca.pem` } },
      ),
    );
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /network\.caFile .*missing-ca\.pem: cannot read it \(ENOENT\)/);
  });
});

describe('SAML_IDP_UNREACHABLE says why', () => {
  it('a refused connection names the address', async () => {
    const port = await freePort();
    const err = await world.failureOf(
      world.samlProfile('form', 'svc-app', { source: { idpUrl: `http://127.0.0.1:${port}/adfs/ls/` } }),
    );
    assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`\\(ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`));
  });

  it('an IdP that never answers: timed out', async () => {
    const silent = http.createServer(() => undefined);
    await listenOnLoopback(silent);
    try {
      const { port } = silent.address() as AddressInfo;
      const err = await world.failureOf(
        world.samlProfile('basic', 'svc-app', {
          source: { idpUrl: `http://127.0.0.1:${port}/`, timeout: '300ms' },
        }),
      );
      assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
      assert.match(err.message, /\(timed out\)/);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a port fetch refuses to use says so, not "fetch failed"', async () => {
    const err = await world.failureOf(
      world.samlProfile('form', 'svc-app', { source: { idpUrl: 'http://127.0.0.1:1/adfs/ls/' } }),
    );
    assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
    assert.match(err.message, /\(bad port\)/);
  });

  it('a dead proxy: the proxy’s address, the IdP never asked', async () => {
    const port = await freePort();
    const logins = world.idp.logins.length;
    const err = await failure(
      world.config({ app: world.samlProfile('basic') }, { network: { proxy: `http://127.0.0.1:${port}` } }),
    );
    assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
    assert.match(err.message, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    assert.equal(world.idp.logins.length, logins);
  });
});
