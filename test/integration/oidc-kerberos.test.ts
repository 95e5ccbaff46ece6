// Kerberos → OIDC → STS, as ADFS issues client_credentials tokens to a client using Windows
// Integrated Authentication: the broker sends `Authorization: Negotiate` (SPNEGO from a keytab,
// tickets from a real MIT KDC, test/harness/kdc.ts) and `use_windows_client_authentication=true`
// to the token endpoint; the harness token endpoint (test/harness/oidc-front.ts) verifies the
// SPNEGO token with the kerberos addon's server API and the HTTP/localhost keytab, maps the
// principal to its client at the real OP, which issues the JWT the STS emulator verifies.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kdc } from '../harness/kdc.ts';
import { OidcFront } from '../harness/oidc-front.ts';
import { OidcOp } from '../harness/oidc-op.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const unavailable = Kdc.unavailable();
const ROLE = `arn:aws:iam::${ACCOUNT}:role/adfs-billing`;

let kdc: Kdc;
let world: World;
let front: OidcFront;
let op: OidcOp;
const principals: Record<string, string> = {};
const keytab = (name: string) => path.join(kdc.dir, `${name}.keytab`);

before(async () => {
  if (unavailable) return;
  process.env.RUNTIME_DIRECTORY = await mkdtemp(path.join(tmpdir(), 'cb-runtime-'));
  kdc = await Kdc.start();
  await kdc.addPrincipal('HTTP/localhost', { keytab: keytab('http'), requiresPreauth: false });
  for (const name of ['svc-billing', 'svc-unmapped', 'svc-stale']) {
    principals[name] = await kdc.addPrincipal(name, { keytab: keytab(name) });
  }
  await kdc.rekey(principals['svc-stale']!);
  // The token endpoint's side: its krb5.conf and service keytab, as the ADFS service account has.
  process.env.KRB5_CONFIG = kdc.krb5Conf;
  process.env.KRB5_KTNAME = `FILE:${keytab('http')}`;
  world = await startWorld();
  front = await OidcFront.start();
  op = await OidcOp.start({
    issuer: front.url,
    clients: [{ clientId: 'adfs-billing', clientSecret: 'known-only-to-the-adfs-front' }],
  });
  front.target = op.port;
  front.negotiate = {
    service: 'HTTP@localhost',
    clients: {
      [principals['svc-billing']!]: {
        clientId: 'adfs-billing',
        clientSecret: 'known-only-to-the-adfs-front',
      },
      [principals['svc-stale']!]: { clientId: 'adfs-billing', clientSecret: 'known-only-to-the-adfs-front' },
    },
  };
  world.sts.registerOidcProvider({ issuer: front.url, clientIds: ['sts.amazonaws.com'] });
  world.sts.trustRole({
    roleArn: ROLE,
    issuer: front.url,
    audience: 'sts.amazonaws.com',
    subject: 'adfs-billing',
  });
});
after(async () => {
  if (unavailable) return;
  await world.close();
  await op.close();
  await front.close();
  await kdc.close();
});

function profile(principal: string) {
  return {
    source: {
      type: 'oidc',
      issuer: front.url,
      clientId: 'adfs-billing',
      // The front is reached as 127.0.0.1; its service principal is HTTP/localhost.
      clientAuth: {
        method: 'kerberos',
        principal,
        keytab: keytab(principal.split('@')[0]!),
        krb5Conf: kdc.krb5Conf,
        spn: 'HTTP/localhost',
      },
    },
    role: { arn: ROLE },
  };
}

describe('oidc clientAuth.method: kerberos (ADFS Windows Integrated Authentication)', {
  skip: unavailable,
}, () => {
  it('a keytab gets a token at the token endpoint over SPNEGO, and credentials from STS', async () => {
    const { broker } = await world.broker(world.config({ app: profile(principals['svc-billing']!) }));
    const creds = await broker.fetchOnce('app');
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.equal(creds.roleArn, ROLE);
    const sent = front.tokenRequests.at(-1)!;
    assert.equal(sent.status, 200);
    assert.match(sent.authorization ?? '', /^Negotiate [A-Za-z0-9+/]+={0,2}$/);
    assert.equal(sent.params.get('use_windows_client_authentication'), 'true');
    assert.equal(sent.params.get('client_id'), 'adfs-billing');
    assert.equal(sent.params.get('client_secret'), null);
  });

  it('a principal the token endpoint maps to no client: OIDC_CLIENT_REJECTED with the ADFS hint', async () => {
    const err = await world.failureOf(profile(principals['svc-unmapped']!));
    assert.equal(err.code, 'OIDC_CLIENT_REJECTED');
    assert.match(err.message, /HTTP 401/);
    assert.match(err.message, /Windows Integrated Authentication for client_credentials/);
    assert.match(front.negotiateErrors.at(-1) ?? '', /no client for principal svc-unmapped@/);
  });

  it('a token endpoint whose mutual-authentication token does not verify: its token is not used', async () => {
    front.corruptMutualToken = true;
    try {
      const calls = world.sts.calls('AssumeRoleWithWebIdentity');
      const err = await world.failureOf(profile(principals['svc-billing']!));
      assert.equal(err.code, 'KERBEROS_MUTUAL_AUTH_FAILED');
      assert.match(err.message, /did not verify as HTTP\/localhost/);
      assert.equal(world.sts.calls('AssumeRoleWithWebIdentity'), calls);
    } finally {
      front.corruptMutualToken = false;
    }
  });

  it('a keytab with an old key version: KERBEROS_KVNO, nothing sent', async () => {
    const before = front.tokenRequests.length;
    const err = await world.failureOf(profile(principals['svc-stale']!));
    assert.equal(err.code, 'KERBEROS_KVNO');
    assert.equal(front.tokenRequests.length, before);
  });
});
