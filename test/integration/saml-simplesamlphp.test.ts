// The saml source against SimpleSAMLphp (the Debian package, test/harness/simplesamlphp.ts): an
// IdP written independently of the broker and of the samlify test IdP. Its assertions are
// verified by the STS emulator against the IAM SAML provider registered with SimpleSAMLphp's own
// metadata, so each passing login is one a real AWS account would accept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SimpleSamlPhp, simpleSamlPhpMissing } from '../harness/simplesamlphp.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:saml-provider/simplesamlphp`;
const PASSWORD = 'Ssp-passw0rd!';
const missing = simpleSamlPhpMissing();

let world: World;
let ssp: SimpleSamlPhp;
let passwordRef: string;

before(async () => {
  if (missing) return;
  const { SimpleSamlPhp } = await import('../harness/simplesamlphp.ts');
  world = await startWorld();
  const roles = [`${ROLE_ARN},${PROVIDER_ARN}`];
  ssp = await SimpleSamlPhp.start(
    [
      // The first organization of the form's <select>: what a browser sends when nobody picks one.
      { username: 'svc-app', password: PASSWORD, roles, organization: 'research' },
      { username: 'svc-billing', password: PASSWORD, roles, organization: 'billing' },
    ],
    { research: 'Research', billing: 'Billing' },
  );
  world.sts.registerSamlProvider({ arn: PROVIDER_ARN, metadataXml: await ssp.metadataXml() });
  world.sts.trustRole({ roleArn: ROLE_ARN, samlProvider: PROVIDER_ARN });
  passwordRef = `file:${await world.file('ssp-password', `${PASSWORD}\n`)}`;
});
after(async () => {
  await ssp?.close();
  await world?.close();
});

function profile(
  idpUrl: string,
  method: 'form' | 'basic' | 'ecp',
  username = 'svc-app',
  auth: Record<string, unknown> = {},
) {
  return {
    source: {
      type: 'saml',
      idpUrl,
      auth: { method, username, password: passwordRef, ...auth },
      timeout: '10s',
    },
    role: { arn: ROLE_ARN },
  };
}

async function login(p: object) {
  const { broker } = await world.broker(world.config({ app: p }));
  return broker.fetchOnce('app');
}

/** The failure, with SimpleSAMLphp's log attached when the broker unexpectedly succeeded. */
async function failure(p: object) {
  return world.failureOf(p).catch((err) => {
    throw new Error(`${(err as Error).message}\n${ssp.log().slice(-3000)}`);
  });
}

describe('SimpleSAMLphp 1.19 as the IdP', { skip: missing }, () => {
  it('form: the stock exampleauth:UserPass login form, assertion accepted by STS', async () => {
    const creds = await login(profile(ssp.signOnUrl('form'), 'form'));
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`);
    assert.equal(world.sts.samlCalls().at(-1)?.principalArn, PROVIDER_ARN);
  });

  it('form: a wrong password → SAML_LOGIN_REJECTED', async () => {
    const wrong = `file:${await world.file('ssp-wrong', 'not-the-password')}`;
    const err = await failure(profile(ssp.signOnUrl('form'), 'form', 'svc-app', { password: wrong }));
    assert.equal(err.code, 'SAML_LOGIN_REJECTED');
    assert.ok(!err.message.includes('not-the-password'));
  });

  it('form with an organization <select>: the first option is submitted, as a browser does', async () => {
    const creds = await login(profile(ssp.signOnUrl('org'), 'form'));
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`);
  });

  it('form with an organization <select>: auth.formFields picks another organization', async () => {
    const url = ssp.signOnUrl('org');
    const without = await failure(profile(url, 'form', 'svc-billing'));
    assert.equal(without.code, 'SAML_LOGIN_REJECTED');
    const creds = await login(
      profile(url, 'form', 'svc-billing', { formFields: { organization: 'billing' } }),
    );
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-billing`);
  });

  it('basic: the sign-on URL behind an HTTP Basic challenge', async () => {
    const creds = await login(profile(ssp.signOnUrl('basic'), 'basic'));
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`);
  });

  it('ecp: the stock SOAP endpoint, which wants Basic credentials up front and never challenges', async () => {
    const creds = await login(profile(ssp.ecpUrl, 'ecp'));
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`);
  });

  it('ecp: a wrong password (a Responder status saying WRONGUSERPASS in the SOAP answer) → SAML_LOGIN_REJECTED', async () => {
    const wrong = `file:${await world.file('ssp-wrong', 'not-the-password')}`;
    const err = await failure(profile(ssp.ecpUrl, 'ecp', 'svc-app', { password: wrong }));
    assert.equal(err.code, 'SAML_LOGIN_REJECTED');
    assert.match(err.message, /"svc-app"/);
    assert.ok(!err.message.includes('not-the-password'));
  });

  it('kerberos at its sign-on URL, which shows a login form instead of a Negotiate challenge → KERBEROS_NOT_OFFERED', async (t) => {
    const { importKerberosAddon } = await import('../../src/sources/kerberos-addon.ts');
    if (
      !(await importKerberosAddon().then(
        () => true,
        () => false,
      ))
    ) {
      return t.skip('the kerberos addon is not built (libkrb5-dev; scripts/test.sh builds it)');
    }
    // No ticket is asked for before the IdP offers Negotiate, so the keytab is never read.
    const keytab = await world.file('unused.keytab', 'not read');
    const err = await failure({
      source: {
        type: 'saml',
        idpUrl: ssp.signOnUrl('form'),
        auth: { method: 'kerberos', principal: 'svc-app@EXAMPLE.TEST', keytab },
        timeout: '10s',
      },
      role: { arn: ROLE_ARN },
    });
    assert.equal(err.code, 'KERBEROS_NOT_OFFERED');
    assert.match(
      err.message,
      /a login form \("Enter your username and password"\) instead of a Negotiate challenge/,
    );
  });

  it('ecp: AWS registered without a PAOS ACS → SAML_IDP_ERROR naming the missing PAOS binding', async () => {
    await ssp.setPaosAcs(false);
    try {
      const err = await failure(profile(ssp.ecpUrl, 'ecp'));
      assert.equal(err.code, 'SAML_IDP_ERROR');
      assert.match(err.message, /PAOS/);
      assert.doesNotMatch(err.message, /DTD/);
    } finally {
      await ssp.setPaosAcs(true);
    }
  });
});
