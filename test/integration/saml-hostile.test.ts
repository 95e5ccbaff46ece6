// Hostile and broken SAML responses: what the broker refuses before STS (no DTD, one assertion,
// signed, in time, success status, size cap) and what the STS emulator refuses as AWS does when a
// client skips the broker (signature against the IAM SAML provider, wrapping, audience, expiry).
// Every case ends in a coded error that names the profile; none crashes or hangs the broker.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { AssumeRoleWithSAMLCommand, STSClient } from '@aws-sdk/client-sts';
import { describeError } from '../../src/errors.ts';
import { listenOnLoopback } from '../harness/listen.ts';
import { REGIONAL_ACS, type ResponseMode } from '../harness/saml-idp.ts';
import {
  PASSWORD,
  PROVIDER_ARN,
  type SamlWorld,
  startSamlWorld,
  UNTRUSTED_ROLE_ARN,
} from '../harness/saml-world.ts';
import { ROLE_ARN } from '../harness/world.ts';

let world: SamlWorld;
let sts: STSClient;
before(async () => {
  world = await startSamlWorld();
  sts = new STSClient({ region: 'us-east-1', endpoint: world.sts.url, maxAttempts: 1 });
});
afterEach(() => {
  world.idp.respond = 'normal';
  world.idp.formActionOrigin = undefined;
  world.idp.redirectPost = undefined;
  world.idp.redirectLogin = undefined;
});
after(async () => {
  sts.destroy();
  await world.close();
});

async function brokerFailure(mode: ResponseMode, profile = world.samlProfile('basic')) {
  world.idp.respond = mode;
  const { broker } = await world.broker(world.config({ app: profile }));
  const started = Date.now();
  try {
    await broker.fetchOnce('app');
  } catch (err) {
    return Object.assign(err as Error & { code: string; retryable: boolean }, { ms: Date.now() - started });
  }
  return assert.fail(`a ${mode} response should have been refused`);
}

/** What STS says when a client presents this response itself (no broker in between). */
async function stsFailure(
  mode: ResponseMode,
  roleArn = ROLE_ARN,
): Promise<{ name: string; message: string }> {
  const assertion = await world.idp.responseFor('svc-app', mode);
  try {
    await sts.send(
      new AssumeRoleWithSAMLCommand({
        RoleArn: roleArn,
        PrincipalArn: PROVIDER_ARN,
        SAMLAssertion: assertion,
      }),
    );
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  return assert.fail(`STS should have refused a ${mode} response`);
}

describe('refused by the broker before STS is asked', () => {
  it('unsigned → SAML_RESPONSE_UNSIGNED (and STS: not signed)', async () => {
    const calls = world.sts.calls('AssumeRoleWithSAML');
    const err = await brokerFailure('unsigned');
    assert.equal(err.code, 'SAML_RESPONSE_UNSIGNED');
    assert.match(
      describeError(err),
      /^profile "app": the SAML response from http:\/\/127\.0\.0\.1:\d+\/idp\/basic is not signed/,
    );
    assert.equal(world.sts.calls('AssumeRoleWithSAML'), calls);
    const direct = await stsFailure('unsigned');
    assert.equal(direct.name, 'InvalidIdentityTokenException');
    assert.match(direct.message, /not signed/);
  });

  it('expired → SAML_RESPONSE_EXPIRED, retryable (and STS: ExpiredToken)', async () => {
    const err = await brokerFailure('expired');
    assert.equal(err.code, 'SAML_RESPONSE_EXPIRED');
    assert.equal(err.retryable, true);
    assert.match(err.message, /clocks/);
    assert.equal((await stsFailure('expired')).name, 'ExpiredTokenException');
  });

  it('signature wrapping (an evil unsigned assertion before the signed one) → SAML_RESPONSE_HOSTILE (and STS refuses)', async () => {
    const err = await brokerFailure('wrapped');
    assert.equal(err.code, 'SAML_RESPONSE_HOSTILE');
    assert.match(err.message, /2 Assertion elements.*wrapping/);
    const direct = await stsFailure('wrapped', `arn:aws:iam::123456789012:role/admin`);
    assert.equal(direct.name, 'InvalidIdentityTokenException');
  });

  it('XXE (external entity to /etc/passwd) → SAML_RESPONSE_HOSTILE, nothing read (and STS refuses)', async () => {
    const err = await brokerFailure('xxe');
    assert.equal(err.code, 'SAML_RESPONSE_HOSTILE');
    assert.match(err.message, /DTD/);
    assert.ok(!err.message.includes('root:'));
    const direct = await stsFailure('xxe');
    assert.equal(direct.name, 'InvalidIdentityTokenException');
    assert.match(direct.message, /DTD/);
  });

  it('billion laughs → SAML_RESPONSE_HOSTILE at once, no expansion (and STS refuses)', async () => {
    const rss = process.memoryUsage().rss;
    const err = await brokerFailure('billion-laughs');
    assert.equal(err.code, 'SAML_RESPONSE_HOSTILE');
    assert.ok(err.ms < 2000, `took ${err.ms} ms`);
    assert.ok(process.memoryUsage().rss - rss < 100 * 1024 * 1024, 'no entity expansion');
    assert.equal((await stsFailure('billion-laughs')).name, 'InvalidIdentityTokenException');
  });

  it('a failure status from the IdP → SAML_IDP_STATUS', async () => {
    const err = await brokerFailure('failed-status');
    assert.equal(err.code, 'SAML_IDP_STATUS');
    assert.match(err.message, /status:Responder/);
  });

  it('an answer above source.maxResponseBytes → SAML_RESPONSE_TOO_LARGE', async () => {
    const err = await brokerFailure(
      'normal',
      world.samlProfile('basic', 'svc-huge', { source: { maxResponseBytes: 16_384 } }),
    );
    assert.equal(err.code, 'SAML_RESPONSE_TOO_LARGE');
    assert.match(err.message, /source\.maxResponseBytes/);
  });
});

describe('refused by STS (the broker cannot verify the IdP signature; AWS does)', () => {
  it('a tampered attribute (role app → admin after signing) → STS_SAML_REJECTED with the fix', async () => {
    const profile = world.samlProfile('basic', 'svc-app', {
      role: { arn: 'arn:aws:iam::123456789012:role/admin' },
    });
    const err = await brokerFailure('tampered', profile);
    assert.equal(err.code, 'STS_SAML_REJECTED');
    assert.match(err.message, /signature invalid/i);
    assert.match(err.message, /IAM SAML provider arn:aws:iam::123456789012:saml-provider\/test-idp/);
  });

  it('an audience other than AWS sign-in → STS_SAML_REJECTED', async () => {
    const err = await brokerFailure('wrong-audience');
    assert.equal(err.code, 'STS_SAML_REJECTED');
    assert.match(err.message, /Audience/);
  });

  it('a role whose trust policy does not name the SAML provider → STS_ACCESS_DENIED with the trust-policy fix', async () => {
    const err = await brokerFailure(
      'normal',
      world.samlProfile('basic', 'svc-untrusted', { role: { arn: UNTRUSTED_ROLE_ARN } }),
    );
    assert.equal(err.code, 'STS_ACCESS_DENIED');
    assert.match(err.message, /SAML:aud/);
  });

  it('regional sign-in endpoint: accepted as audience, and SAML:aud must name it in the trust policy', async () => {
    const regionalRole = 'arn:aws:iam::123456789012:role/regional';
    world.sts.trustRole({ roleArn: regionalRole, samlProvider: PROVIDER_ARN, samlAudience: REGIONAL_ACS });
    const regional = await world.idp.responseFor('svc-regional', 'regional');
    const out = await sts.send(
      new AssumeRoleWithSAMLCommand({
        RoleArn: regionalRole,
        PrincipalArn: PROVIDER_ARN,
        SAMLAssertion: regional,
      }),
    );
    assert.equal(out.Audience, REGIONAL_ACS);
    assert.match(out.AssumedRoleUser?.Arn ?? '', /assumed-role\/regional\/svc-regional$/);
    // The same assertion for a role whose SAML:aud is the global endpoint: AccessDenied.
    const global = await world.idp.responseFor('svc-regional', 'normal');
    await assert.rejects(
      sts.send(
        new AssumeRoleWithSAMLCommand({
          RoleArn: regionalRole,
          PrincipalArn: PROVIDER_ARN,
          SAMLAssertion: global,
        }),
      ),
      (err: Error) => err.name === 'AccessDenied',
    );
  });

  it('a response signed by another key than the provider’s → refused by STS', async () => {
    const other = await (await import('../harness/saml-idp.ts')).SamlIdp.start({
      users: [{ username: 'svc-app', password: 'x', roles: [`${ROLE_ARN},${PROVIDER_ARN}`] }],
    });
    try {
      const assertion = await other.responseFor('svc-app');
      await assert.rejects(
        sts.send(
          new AssumeRoleWithSAMLCommand({
            RoleArn: ROLE_ARN,
            PrincipalArn: PROVIDER_ARN,
            SAMLAssertion: assertion,
          }),
        ),
        (err: Error) => err.name === 'InvalidIdentityTokenException',
      );
    } finally {
      await other.close();
    }
  });
});

describe('the password goes only to the idpUrl origin or auth.allowedOrigins (security review #17, finding 2)', () => {
  /** Another origin on this machine that records every request body it gets. */
  async function catcher() {
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        bodies.push(`${req.method} ${body}`);
        res.writeHead(404).end();
      });
    });
    await listenOnLoopback(server);
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { origin, bodies, close: () => new Promise((r) => server.close(r)) };
  }

  it('a login form whose action is on another origin → SAML_ORIGIN_REFUSED, nothing sent there', async () => {
    const other = await catcher();
    try {
      world.idp.formActionOrigin = other.origin;
      const err = await brokerFailure('normal', world.samlProfile('form'));
      assert.equal(err.code, 'SAML_ORIGIN_REFUSED');
      assert.ok(err.message.includes(`posts to ${other.origin}`), err.message);
      assert.match(err.message, /auth\.allowedOrigins/);
      assert.deepEqual(other.bodies, []);
    } finally {
      await other.close();
    }
  });

  it('the same form with that origin in auth.allowedOrigins: posted there', async () => {
    const other = await catcher();
    try {
      world.idp.formActionOrigin = other.origin;
      const profile = world.samlProfile('form');
      (profile.source as { auth: Record<string, unknown> }).auth.allowedOrigins = [other.origin];
      const err = await brokerFailure('normal', profile);
      assert.equal(err.code, 'SAML_IDP_ERROR', 'the allowed origin answered 404');
      assert.equal(other.bodies.length, 1);
      assert.ok(other.bodies[0]!.startsWith('POST ') && other.bodies[0]!.includes('UserName=svc-app'));
    } finally {
      await other.close();
    }
  });

  for (const status of [307, 308]) {
    it(`a ${status} after the login POST to another origin → SAML_ORIGIN_REFUSED, the body is not re-sent`, async () => {
      const other = await catcher();
      try {
        world.idp.redirectPost = { status, origin: other.origin };
        const err = await brokerFailure('normal', world.samlProfile('form'));
        assert.equal(err.code, 'SAML_ORIGIN_REFUSED');
        assert.match(err.message, /307\/308/);
        assert.ok(!err.message.includes(PASSWORD));
        assert.deepEqual(other.bodies, []);
      } finally {
        await other.close();
      }
    });
  }

  it('a 302 after the login POST to another origin is followed as a GET without the body', async () => {
    const other = await catcher();
    try {
      world.idp.redirectPost = { status: 302, origin: other.origin };
      const err = await brokerFailure('normal', world.samlProfile('form'));
      assert.equal(err.code, 'SAML_IDP_ERROR');
      assert.deepEqual(other.bodies, ['GET ']);
    } finally {
      await other.close();
    }
  });
});

describe('Basic and ECP credentials never follow a redirect to another origin (issue #16)', () => {
  /** The same IdP under another name: another origin that would take the credentials if sent. */
  const elsewhere = () => world.idp.url.replace('127.0.0.1', 'localhost');
  const sentElsewhere = () =>
    world.idp.authorizationsSeen.filter((seen) => seen.startsWith(`${new URL(elsewhere()).host} `));

  it('basic: the sign-on URL redirects to another origin that challenges → SAML_ORIGIN_REFUSED, no Basic sent there', async () => {
    world.idp.redirectLogin = { status: 302, origin: elsewhere() };
    const err = await brokerFailure('normal', world.samlProfile('basic'));
    assert.equal(err.code, 'SAML_ORIGIN_REFUSED');
    assert.ok(
      err.message.includes(`redirected to ${elsewhere()}, which asks for Basic credentials`),
      err.message,
    );
    assert.ok(err.message.includes(`set source.idpUrl to ${elsewhere()}/idp/basic`), err.message);
    assert.ok(!err.message.includes(PASSWORD));
    assert.deepEqual(sentElsewhere(), []);
  });

  for (const status of [307, 308]) {
    it(`ecp: a ${status} of the ECP POST to another origin → SAML_ORIGIN_REFUSED naming source.idpUrl, nothing sent there`, async () => {
      world.idp.redirectLogin = { status, origin: elsewhere() };
      const logins = world.idp.logins.length;
      const err = await brokerFailure('normal', world.samlProfile('ecp'));
      assert.equal(err.code, 'SAML_ORIGIN_REFUSED');
      assert.match(err.message, /307\/308/);
      // ECP has no auth.allowedOrigins (the schema refuses it): the fix named is idpUrl's.
      assert.ok(!err.message.includes('allowedOrigins'), err.message);
      assert.ok(
        err.message.includes(`set source.idpUrl to ${elsewhere()}/idp/profile/SAML2/SOAP/ECP`),
        err.message,
      );
      assert.deepEqual(sentElsewhere(), []);
      assert.equal(world.idp.logins.length, logins);
    });
  }
});
