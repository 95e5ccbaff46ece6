// The saml source end to end against the samlify test IdP and the STS emulator (which verifies the
// assertion's signature against the registered IAM SAML provider, its audience, recipient, expiry
// and Role pair): every login mode serves the real AWS SDK, roles are chosen by role.arn, the
// assertion's SessionDuration caps the session, and each login failure has its own coded error.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.ts';
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { describeError } from '../../src/errors.ts';
import {
  OTHER_PROVIDER_ARN,
  PASSWORD,
  PROVIDER_ARN,
  REPORTS_ROLE_ARN,
  type SamlWorld,
  startSamlWorld,
} from '../harness/saml-world.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { ACCOUNT, ROLE_ARN } from '../harness/world.ts';

let world: SamlWorld;
before(async () => {
  world = await startSamlWorld();
});
after(() => world.close());

describe('saml source: the three login modes serve the AWS SDK for JavaScript v3', () => {
  it('form, basic and ecp profiles each give the SDK credentials that GetCallerIdentity accepts', async () => {
    const { app, broker } = await world.broker(
      world.config({
        form: world.samlProfile('form'),
        basic: world.samlProfile('basic'),
        ecp: world.samlProfile('ecp'),
      }),
    );
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const before = world.sts.calls('GetCallerIdentity');
    for (const profile of ['form', 'basic', 'ecp']) {
      const out = await consumeWithSdk(world, base, profile);
      const json = out.json;
      assert.ok(json, `the SDK failed: ${out.stderr}`);
      // RoleSessionName comes from the assertion (AWS ignores any other session name for SAML).
      assert.equal(json.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`, profile);
      assert.match(json.accessKeyId, /^ASIA/);
    }
    assert.equal(world.sts.calls('GetCallerIdentity'), before + 3);
    const methods = world.idp.logins.slice(-3).map((l) => l.method);
    assert.deepEqual(methods.sort(), ['basic', 'ecp', 'form']);
    const calls = world.sts.samlCalls().slice(-3);
    assert.ok(calls.every((c) => c.principalArn === PROVIDER_ARN && c.roleArn === ROLE_ARN));
  });
});

describe('saml source: role selection', () => {
  it('one role offered: that pair is presented', async () => {
    const { broker } = await world.broker(world.config({ app: world.samlProfile('basic') }));
    const creds = await broker.fetchOnce('app');
    assert.equal(creds.roleArn, ROLE_ARN);
    assert.deepEqual(world.sts.samlCalls().at(-1), {
      roleArn: ROLE_ARN,
      principalArn: PROVIDER_ARN,
      durationSeconds: 3600,
    });
  });

  it('several roles offered (role,provider and provider,role orders): role.arn picks the pair', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.samlProfile('basic', 'svc-multi', { role: { arn: REPORTS_ROLE_ARN } }) }),
    );
    const creds = await broker.fetchOnce('app');
    assert.equal(creds.roleArn, REPORTS_ROLE_ARN);
    assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/reports/svc-multi`);
    assert.equal(world.sts.samlCalls().at(-1)?.principalArn, PROVIDER_ARN);
  });

  it('role.arn not offered: SAML_ROLE_NOT_OFFERED lists the roles the assertion offers', async () => {
    const before = world.sts.calls('AssumeRoleWithSAML');
    const err = await world.failureOf(
      world.samlProfile('basic', 'svc-app', { role: { arn: `arn:aws:iam::${ACCOUNT}:role/missing` } }),
    );
    assert.equal(err.code, 'SAML_ROLE_NOT_OFFERED');
    assert.match(
      describeError(err),
      /^profile "app": .*does not offer role arn:aws:iam::123456789012:role\/missing/,
    );
    assert.ok(err.message.includes(`${ROLE_ARN} (via ${PROVIDER_ARN})`), err.message);
    assert.equal(world.sts.calls('AssumeRoleWithSAML'), before, 'STS is not asked');
  });

  it('the role offered through two providers: ambiguous until source.principalArn picks one', async () => {
    const err = await world.failureOf(world.samlProfile('basic', 'svc-two-providers'));
    assert.equal(err.code, 'SAML_ROLE_AMBIGUOUS');
    assert.match(err.message, /set source\.principalArn/);
    const { broker } = await world.broker(
      world.config({
        app: world.samlProfile('basic', 'svc-two-providers', {
          source: { principalArn: OTHER_PROVIDER_ARN },
        }),
      }),
    );
    await broker.fetchOnce('app');
    // The emulator verified the signature against the provider registered by certificate only.
    assert.equal(world.sts.samlCalls().at(-1)?.principalArn, OTHER_PROVIDER_ARN);
  });
});

describe('saml source: session duration', () => {
  it('SessionDuration 1800 caps role.durationSeconds 7200: the broker asks for 1800', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.samlProfile('basic', 'svc-short', { role: { durationSeconds: 7200 } }) }),
    );
    const started = Date.now();
    const creds = await broker.fetchOnce('app');
    assert.equal(world.sts.samlCalls().at(-1)?.durationSeconds, 1800);
    const expires = creds.expiration.getTime();
    assert.ok(expires >= started + 1790_000 && expires <= Date.now() + 1800_000, `expected ~30 min from now`);
  });

  it('without SessionDuration, role.durationSeconds is asked for as configured', async () => {
    const { broker } = await world.broker(
      world.config({ app: world.samlProfile('ecp', 'svc-app', { role: { durationSeconds: 7200 } }) }),
    );
    await broker.fetchOnce('app');
    assert.equal(world.sts.samlCalls().at(-1)?.durationSeconds, 7200);
  });
});

describe('saml source: ECP credentials', () => {
  it('sent with the first request, and a 401 challenge anyway (an endpoint that reads them only after its own) is answered once', async () => {
    world.idp.ecpChallengeFirst = true;
    try {
      const { broker } = await world.broker(world.config({ app: world.samlProfile('ecp') }));
      const creds = await broker.fetchOnce('app');
      assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-app`);
      assert.deepEqual(world.idp.logins.at(-1), { method: 'ecp', username: 'svc-app' });
    } finally {
      world.idp.ecpChallengeFirst = false;
    }
  });
});

describe('saml source: login failures are coded, name the profile, and never show the password', () => {
  const wrong = async () => `file:${await world.file('wrong-password', 'not-the-password')}`;

  for (const method of ['form', 'basic', 'ecp'] as const) {
    it(`${method}: wrong password → SAML_LOGIN_REJECTED`, async () => {
      const profile = world.samlProfile(method);
      (profile.source as { auth: { password: string } }).auth.password = await wrong();
      const err = await world.failureOf(profile);
      assert.equal(err.code, 'SAML_LOGIN_REJECTED');
      assert.match(describeError(err), /^profile "app": .*"svc-app"/);
      assert.ok(!err.message.includes('not-the-password'));
    });
  }

  it('form: the wrong-password page is quoted', async () => {
    const profile = world.samlProfile('form');
    (profile.source as { auth: { password: string } }).auth.password = await wrong();
    const err = await world.failureOf(profile);
    assert.match(err.message, /Incorrect user ID or password/);
  });

  it('form: locked account page → SAML_ACCOUNT_LOCKED', async () => {
    const err = await world.failureOf(world.samlProfile('form', 'svc-locked'));
    assert.equal(err.code, 'SAML_ACCOUNT_LOCKED');
    assert.match(err.message, /locked/);
  });

  it('form: MFA page → SAML_MFA_REQUIRED with the fix', async () => {
    const err = await world.failureOf(world.samlProfile('form', 'svc-mfa'));
    assert.equal(err.code, 'SAML_MFA_REQUIRED');
    assert.match(err.message, /exempt this service account from MFA/);
  });

  it('an IdP URL that is no sign-on page → SAML_IDP_ERROR (HTTP 404)', async () => {
    const err = await world.failureOf(
      world.samlProfile('basic', 'svc-app', { source: { idpUrl: `${world.idp.url}/nowhere` } }),
    );
    assert.equal(err.code, 'SAML_IDP_ERROR');
    assert.match(err.message, /HTTP 404/);
  });

  it('an unreachable IdP → SAML_IDP_UNREACHABLE, retryable', async () => {
    const err = await world.failureOf(
      world.samlProfile('form', 'svc-app', { source: { idpUrl: 'http://127.0.0.1:1/adfs/ls/' } }),
    );
    assert.equal(err.code, 'SAML_IDP_UNREACHABLE');
    assert.equal((err as unknown as { retryable: boolean }).retryable, true);
  });

  it('no RoleSessionName attribute → SAML_ATTRIBUTE_MISSING before STS is asked', async () => {
    const err = await world.failureOf(world.samlProfile('basic', 'svc-nameless'));
    assert.equal(err.code, 'SAML_ATTRIBUTE_MISSING');
    assert.match(err.message, /RoleSessionName/);
  });

  it('a missing password secret → SECRET_UNAVAILABLE naming the profile', async () => {
    const profile = world.samlProfile('basic');
    (profile.source as { auth: { password: string } }).auth.password = 'env:NO_SUCH_SAML_PASSWORD';
    const err = await world.failureOf(profile);
    assert.equal(err.code, 'SECRET_UNAVAILABLE');
    assert.match(describeError(err), /^profile "app": .*NO_SUCH_SAML_PASSWORD/);
  });

  it('no log line of this file contains the password or an assertion', () => {
    const joined = world.logs.join('\n');
    assert.ok(world.logs.length > 0);
    assert.ok(!joined.includes(PASSWORD));
    assert.ok(!joined.includes('PHNhbWxwOlJlc3BvbnNl'), 'base64 of <samlp:Response');
  });
});

describe('saml source: config', () => {
  it('a relative keytab and krb5.conf resolve against the config file’s folder', async () => {
    const file = await world.file(
      'kerberos.yaml',
      [
        'profiles:',
        '  k:',
        '    source:',
        '      type: saml',
        '      idpUrl: https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx',
        '      auth: { method: kerberos, principal: svc@EXAMPLE.COM, keytab: keys/svc.keytab, krb5Conf: krb5.conf }',
        `    role: { arn: "${ROLE_ARN}" }`,
      ].join('\n'),
    );
    const { config } = await loadConfigFile(file);
    const auth = (config.profiles.k!.source as { auth: { keytab: string; krb5Conf: string } }).auth;
    assert.equal(auth.keytab, path.join(world.dir, 'keys/svc.keytab'));
    assert.equal(auth.krb5Conf, path.join(world.dir, 'krb5.conf'));
  });

  it('rejects an inline password, a bad method and a bad provider ARN, naming each path', () => {
    const result = ConfigSchema.safeParse({
      profiles: {
        a: {
          source: {
            type: 'saml',
            idpUrl: 'https://adfs.example.com/x',
            auth: { method: 'form', username: 'u', password: 'hunter2' },
          },
          role: { arn: ROLE_ARN },
        },
        b: {
          source: { type: 'saml', idpUrl: 'https://adfs.example.com/x', auth: { method: 'ntlm' } },
          role: { arn: ROLE_ARN },
        },
        c: {
          source: {
            type: 'saml',
            idpUrl: 'http://adfs.example.com/x',
            auth: { method: 'basic', username: 'u', password: 'env:P' },
            principalArn: 'arn:aws:iam::123:oidc-provider/x',
          },
          role: { arn: ROLE_ARN },
        },
      },
    });
    assert.equal(result.success, false);
    const issues = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.match(issues, /profiles\.a\.source\.auth\.password: secrets are never written inline/);
    assert.ok(!issues.includes('hunter2'));
    assert.match(
      issues,
      /profiles\.b\.source\.auth(\.method)?: auth\.method must be ecp, form, basic or kerberos/,
    );
    assert.match(issues, /profiles\.c\.source\.idpUrl: use https/);
    assert.match(issues, /profiles\.c\.source\.principalArn: expected a SAML provider ARN/);
  });
});
