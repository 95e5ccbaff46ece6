// Kerberos → SAML → STS against a real MIT KDC started for this file (test/harness/kdc.ts): the
// broker logs in to the test IdP with SPNEGO from a keytab (no password, no kinit), the IdP verifies
// the token with its own service keytab and maps the principal to a user, and the STS emulator
// checks the signed assertion. Also: tickets re-acquired after they expire, two principals side by
// side in private caches, each failure mode with its code, and the KDC going away while cached AWS
// credentials are still valid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { describeError } from '../../src/errors.ts';
import { deadKdcConf, Kdc } from '../harness/kdc.ts';
import { REPORTS_ROLE_ARN, rolePair, type SamlWorld, startSamlWorld } from '../harness/saml-world.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { ACCOUNT, ROLE_ARN } from '../harness/world.ts';

const run = promisify(execFile);
const unavailable = Kdc.unavailable();

let kdc: Kdc;
let world: SamlWorld;
let runtimeDir: string;
const keytab = (name: string) => path.join(kdc.dir, `${name}.keytab`);
const principals: Record<string, string> = {};
let kdcSetupMs = 0;

before(async () => {
  if (unavailable) return;
  // The broker's credential caches go to $RUNTIME_DIRECTORY/krb5 (as under systemd), so they can be inspected.
  runtimeDir = await mkdtemp(path.join(tmpdir(), 'cb-runtime-'));
  process.env.RUNTIME_DIRECTORY = runtimeDir;
  const started = Date.now();
  kdc = await Kdc.start();
  await kdc.addPrincipal('HTTP/localhost', { keytab: keytab('http'), requiresPreauth: false });
  for (const name of ['svc-billing', 'svc-reports', 'svc-nokeys', 'svc-stale']) {
    principals[name] = await kdc.addPrincipal(name, { keytab: keytab(name) });
  }
  principals['svc-short'] = await kdc.addPrincipal('svc-short', {
    keytab: keytab('svc-short'),
    maxLife: '3 seconds',
  });
  principals['svc-steady'] = await kdc.addPrincipal('svc-steady', {
    keytab: keytab('svc-steady'),
    maxLife: '3 seconds',
  });
  await kdc.rekey(principals['svc-stale']!); // its keytab now holds an old kvno
  kdcSetupMs = Date.now() - started;
  // The IdP's side: its krb5.conf and service keytab, as a Windows service account would have.
  process.env.KRB5_CONFIG = kdc.krb5Conf;
  process.env.KRB5_KTNAME = `FILE:${keytab('http')}`;
  const user = (username: string, roleArn = ROLE_ARN) => ({
    username,
    roles: [rolePair(roleArn)],
    principal: principals[username] ?? `${username}@${kdc.realm}`,
  });
  world = await startSamlWorld(
    [
      user('svc-billing'),
      user('svc-reports', REPORTS_ROLE_ARN),
      user('svc-short'),
      user('svc-steady'),
      user('svc-stale'),
    ],
    'HTTP@localhost',
  );
});
after(async () => {
  if (unavailable) return;
  await world.close();
  await kdc.close();
  if (kdcSetupMs) console.log(`# KDC setup (realm, 7 principals, keytabs): ${kdcSetupMs} ms`);
});

/** A kerberos profile; the IdP is reached as "localhost" so the SPN defaults to HTTP/localhost. */
function kerberosProfile(principal: string, auth: Record<string, unknown> = {}, roleArn = ROLE_ARN) {
  return {
    source: {
      type: 'saml',
      idpUrl: world.idp.urls.negotiate.replace('127.0.0.1', 'localhost'),
      auth: {
        method: 'kerberos',
        principal: principal.split('@')[0],
        realm: kdc.realm,
        keytab: keytab(principal.split('@')[0]!),
        krb5Conf: kdc.krb5Conf,
        ...auth,
      },
      timeout: '5s',
    },
    role: { arn: roleArn },
  };
}

describe('kerberos (SPNEGO) login to the SAML IdP, with a real MIT KDC', { skip: unavailable }, () => {
  it('end to end: the AWS SDK gets credentials of the role mapped to the keytab’s principal', async () => {
    const { app, broker } = await world.broker(world.config({ billing: kerberosProfile('svc-billing') }));
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const out = await consumeWithSdk(world, base, 'billing');
    assert.equal(out.json?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-billing`);
    assert.deepEqual(world.idp.logins.at(-1), { method: 'negotiate', username: 'svc-billing' });
    // The broker's environment is left as it was (no KRB5CCNAME leaking to other code).
    assert.equal(process.env.KRB5CCNAME, undefined);
  });

  it('two profiles with two principals, concurrently: each gets its own role, from its own private cache', async () => {
    const { broker } = await world.broker(
      world.config({
        billing2: kerberosProfile('svc-billing'),
        reports: kerberosProfile('svc-reports', {}, REPORTS_ROLE_ARN),
      }),
    );
    const [billing, reports] = await Promise.all([broker.fetchOnce('billing2'), broker.fetchOnce('reports')]);
    assert.equal(billing.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-billing`);
    assert.equal(reports.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/reports/svc-reports`);
    const dir = path.join(runtimeDir, 'krb5');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const caches = (await readdir(dir)).filter((f) => /^krb5cc-(billing2|reports)-/.test(f));
    assert.equal(caches.length, 2);
    for (const cache of caches) {
      const { stdout } = await run('klist', ['-c', `FILE:${path.join(dir, cache)}`], { env: kdc.env() });
      const expected = cache.startsWith('krb5cc-reports')
        ? principals['svc-reports']
        : principals['svc-billing'];
      assert.match(stdout, new RegExp(`Default principal: ${expected}`));
    }
  });

  it('tickets are re-acquired from the keytab after they expire (3 s ticket lifetime)', async () => {
    const asReqs = async () =>
      (await kdc.log()).filter(
        (l) => l.includes('AS_REQ') && l.includes('ISSUE') && l.includes(principals['svc-short']!),
      ).length;
    const { broker } = await world.broker(world.config({ short: kerberosProfile('svc-short') }));
    await broker.fetchOnce('short');
    const first = await asReqs();
    assert.ok(first >= 1);
    await new Promise((r) => setTimeout(r, 3500));
    const creds = await broker.fetchOnce('short');
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.ok((await asReqs()) > first, 'a new TGT was obtained from the keytab, with no kinit');
  });

  describe('failures name the profile, the cause and the fix', () => {
    it('KDC unreachable → KERBEROS_KDC_UNREACHABLE, retryable', async () => {
      const err = await world.failureOf(
        kerberosProfile('svc-billing', { krb5Conf: await deadKdcConf(kdc) }),
        'deadkdc',
      );
      assert.equal(err.code, 'KERBEROS_KDC_UNREACHABLE');
      assert.equal(err.retryable, true);
      assert.match(describeError(err), /^profile "deadkdc": .*Cannot contact any KDC/);
    });

    it('principal not in the keytab → KERBEROS_KEYTAB', async () => {
      const err = await world.failureOf(
        kerberosProfile('svc-billing', { keytab: keytab('svc-nokeys') }),
        'nokey',
      );
      assert.equal(err.code, 'KERBEROS_KEYTAB');
      assert.match(err.message, /klist -k/);
    });

    it('keytab file missing → KERBEROS_KEYTAB naming the file', async () => {
      const err = await world.failureOf(
        kerberosProfile('svc-billing', { keytab: '/nonexistent/broker.keytab' }),
        'nofile',
      );
      assert.equal(err.code, 'KERBEROS_KEYTAB');
      assert.match(err.message, /\/nonexistent\/broker\.keytab \(no such file\)/);
    });

    it('stale keytab (wrong kvno after a password change) → KERBEROS_KVNO', async () => {
      const err = await world.failureOf(kerberosProfile('svc-stale'), 'stale');
      assert.equal(err.code, 'KERBEROS_KVNO');
      assert.match(err.message, /export a new keytab/);
    });

    it('unknown SPN → KERBEROS_SPN_UNKNOWN with the setspn fix', async () => {
      const err = await world.failureOf(kerberosProfile('svc-billing', { spn: 'HTTP/adfs-old' }), 'spn');
      assert.equal(err.code, 'KERBEROS_SPN_UNKNOWN');
      assert.match(err.message, /setspn -S HTTP\/adfs-old/);
    });

    it('an IdP that shows its login form instead of a Negotiate challenge (ADFS without the user agent in WIASupportedUserAgents) → KERBEROS_NOT_OFFERED', async () => {
      const profile = kerberosProfile('svc-billing');
      profile.source.idpUrl = world.idp.urls.form.replace('127.0.0.1', 'localhost');
      const err = await world.failureOf(profile, 'formpage');
      assert.equal(err.code, 'KERBEROS_NOT_OFFERED');
      assert.match(err.message, /a login form .*instead of a Negotiate challenge/);
      assert.match(err.message, /WIASupportedUserAgents.*"aws-credential-broker"/);
    });

    it("with MIT's default hostname canonicalization, the error names the SPN krb5 actually asked for", async () => {
      // A realm where only the configured SPN exists: HTTP/127.0.0.1. With dns_canonicalize_hostname
      // and rdns on (MIT's defaults), 127.0.0.1 becomes localhost, and HTTP/localhost is unknown.
      const canon = await Kdc.start({ realm: 'CANON.TEST' });
      try {
        await canon.addPrincipal('HTTP/127.0.0.1');
        const principal = await canon.addPrincipal('svc-canon', {
          keytab: path.join(canon.dir, 'svc.keytab'),
        });
        const conf = path.join(canon.dir, 'canonicalizing.conf');
        await writeFile(
          conf,
          (await readFile(canon.krb5Conf, 'utf8')).replace(
            / *rdns = false\n *dns_canonicalize_hostname = false\n/,
            '',
          ),
        );
        const profile = kerberosProfile('svc-billing', {
          principal,
          realm: undefined,
          keytab: path.join(canon.dir, 'svc.keytab'),
          krb5Conf: conf,
        });
        profile.source.idpUrl = world.idp.urls.negotiate; // http://127.0.0.1:…: the SPN defaults to HTTP/127.0.0.1
        const err = await world.failureOf(profile, 'canon');
        assert.equal(err.code, 'KERBEROS_SPN_UNKNOWN');
        assert.match(
          err.message,
          /knows no service principal HTTP\/localhost@CANON\.TEST, which is what krb5 asked for/,
        );
        assert.match(err.message, /configured HTTP\/127\.0\.0\.1/);
        assert.match(err.message, /dns_canonicalize_hostname = false and rdns = false/);
      } finally {
        await canon.close();
      }
    });

    it('auth.spn HTTP/host@REALM: the host is mapped to that realm (krb5.conf maps it nowhere)', async () => {
      const conf = path.join(kdc.dir, 'elsewhere.conf');
      await writeFile(
        conf,
        (await readFile(kdc.krb5Conf, 'utf8'))
          .replace(`default_realm = ${kdc.realm}`, 'default_realm = ELSEWHERE.TEST')
          .replace(/\[domain_realm\][\s\S]*$/, ''),
      );
      const { broker } = await world.broker(
        world.config({
          spnrealm: kerberosProfile('svc-billing', { spn: `HTTP/localhost@${kdc.realm}`, krb5Conf: conf }),
        }),
      );
      const creds = await broker.fetchOnce('spnrealm');
      assert.equal(creds.assumedRoleArn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/svc-billing`);
      // The realm is really used: another realm there (which the KDC has no trust with) is asked for.
      const err = await world.failureOf(
        kerberosProfile('svc-billing', { spn: 'HTTP/localhost@NOSUCH.TEST', krb5Conf: conf }),
        'spnrealm2',
      );
      assert.equal(err.code, 'KERBEROS_SPN_UNKNOWN');
      assert.match(err.message, /no cross-realm key for realm NOSUCH\.TEST, the realm auth\.spn names/);
    });

    it('IdP not offering Negotiate → KERBEROS_NOT_OFFERED', async () => {
      world.idp.offerNegotiate = false;
      try {
        const err = await world.failureOf(kerberosProfile('svc-billing'), 'nonego');
        assert.equal(err.code, 'KERBEROS_NOT_OFFERED');
        assert.match(err.message, /it offers: Basic/);
      } finally {
        world.idp.offerNegotiate = true;
      }
    });

    it('a redirect of the sign-on URL to another origin that asks for Negotiate → SAML_ORIGIN_REFUSED, no ticket sent there (issue #16)', async () => {
      // The same IdP under its other name: a host the SPN (HTTP/localhost) is not for.
      const other = world.idp.url;
      world.idp.redirectLogin = { status: 302, origin: other };
      try {
        const err = await world.failureOf(kerberosProfile('svc-billing'), 'redirected');
        assert.equal(err.code, 'SAML_ORIGIN_REFUSED');
        assert.ok(
          err.message.includes(`redirected to ${other}, which asks for Negotiate credentials`),
          err.message,
        );
        assert.ok(err.message.includes(`set source.idpUrl to ${other}/adfs/ls/wia`), err.message);
        const host = new URL(other).host;
        assert.deepEqual(
          world.idp.authorizationsSeen.filter((seen) => seen.startsWith(`${host} `)),
          [],
        );
      } finally {
        world.idp.redirectLogin = undefined;
      }
    });

    it('an IdP whose mutual-authentication token does not verify → refused, no credentials', async () => {
      world.idp.corruptMutualToken = true;
      try {
        const calls = world.sts.calls('AssumeRoleWithSAML');
        const err = await world.failureOf(kerberosProfile('svc-billing'), 'impostor');
        assert.equal(err.code, 'KERBEROS_MUTUAL_AUTH_FAILED');
        assert.match(err.message, /did not verify as HTTP\/localhost/);
        assert.equal(world.sts.calls('AssumeRoleWithSAML'), calls, 'its assertion is not used');
      } finally {
        world.idp.corruptMutualToken = false;
      }
    });

    it('clock skew with the KDC → KERBEROS_CLOCK_SKEW (a KDC running 1 h ahead under faketime)', async () => {
      const skewed = await Kdc.start({ realm: 'SKEW.TEST', clockOffset: '+1h', kdcTimesync: false });
      try {
        const principal = await skewed.addPrincipal('svc-skew', {
          keytab: path.join(skewed.dir, 'skew.keytab'),
        });
        const err = await world.failureOf(
          kerberosProfile('svc-billing', {
            principal,
            realm: undefined,
            keytab: path.join(skewed.dir, 'skew.keytab'),
            krb5Conf: skewed.krb5Conf,
          }),
          'skew',
        );
        assert.equal(err.code, 'KERBEROS_CLOCK_SKEW');
        assert.match(err.message, /NTP/);
      } finally {
        await skewed.close();
      }
    });
  });

  it('KDC stopped while the cached AWS credentials are valid: zero failed requests', async () => {
    const { app, broker } = await world.broker(world.config({ steady: kerberosProfile('svc-steady') }));
    await broker.start();
    const token = await world.token();
    const first = await app.inject({ url: '/v1/credentials/steady', headers: { authorization: token } });
    assert.equal(first.statusCode, 200);
    await kdc.stop();
    try {
      await new Promise((r) => setTimeout(r, 4500)); // the 3 s tickets are gone: a login now needs the KDC
      // MIT reports either the unreachable KDC or the expired ticket it could not replace.
      await assert.rejects(
        broker.refreshNow('steady'),
        (err: { code: string; retryable: boolean }) =>
          /^KERBEROS_(KDC_UNREACHABLE|TICKET_EXPIRED)$/.test(err.code) && err.retryable,
      );
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          app.inject({ url: '/v1/credentials/steady', headers: { authorization: token } }),
        ),
      );
      assert.deepEqual(new Set(answers.map((a) => a.statusCode)), new Set([200]));
      assert.ok(answers.every((a) => a.json().AccessKeyId === first.json().AccessKeyId));
      assert.equal(broker.readiness().profiles.steady?.state, 'stale');
    } finally {
      await kdc.restart();
    }
  });
});
