import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/config/duration.ts';
import { loadConfigFile, parseConfig } from '../../src/config/load.ts';
import { readSecret } from '../../src/config/secrets.ts';
import { ConfigError } from '../../src/errors.ts';

const FILE = '/etc/credential-broker/config.yaml';
const MINIMAL = `
profiles:
  default:
    source:
      type: oidc
      issuer: https://idp.example.com/realms/machines
      clientId: billing
      clientAuth:
        method: client_secret_basic
        clientSecret: file:secrets/billing
    role:
      arn: arn:aws:iam::123456789012:role/billing
`;

function configError(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err.message;
  }
  return assert.fail('the config should have been rejected');
}

describe('config', () => {
  it('fills the documented defaults and resolves relative paths against the config folder', () => {
    const c = parseConfig(MINIMAL, FILE);
    assert.equal(c.server.listen, '127.0.0.1:9911');
    assert.equal(c.logging.level, 'info');
    const p = c.profiles.default!;
    assert.equal(p.role.durationSeconds, 3600);
    assert.equal(p.role.sessionName, 'credential-broker-{profile}');
    assert.equal(p.lazy, false);
    assert.deepEqual(p.refresh, {
      before: 30 * 60_000,
      minRemaining: 20 * 60_000,
      jitter: 0.1,
      backoff: { initial: 1000, max: 5 * 60_000 },
    });
    assert.ok(p.source.type === 'oidc');
    assert.equal(p.source.token, 'access_token');
    assert.equal(
      p.source.clientAuth.method === 'client_secret_basic' && p.source.clientAuth.clientSecret,
      'file:/etc/credential-broker/secrets/billing',
    );
  });

  it('resolves every path-type setting against the config folder, and only those', () => {
    const text = `
server:
  tokenFile: run/token
  tls: { certificate: tls/tls.crt, privateKey: file:tls/tls.key, clientCa: /abs/ca.pem }
network:
  caFile: ca/extra.pem
profiles:
  saml:
    source:
      type: saml
      idpUrl: https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx
      auth: { method: kerberos, principal: svc@EXAMPLE.COM, keytab: svc.keytab, krb5Conf: krb5.conf }
    role: { arn: arn:aws:iam::123456789012:role/a }
  form:
    tokenFile: tokens/form.token
    source:
      type: saml
      idpUrl: https://idp.example.com/sso
      auth: { method: form, username: svc, password: env:PW, formFields: { org: file:org.txt, lang: en } }
    role: { arn: arn:aws:iam::123456789012:role/a }
  cert:
    source:
      type: x509
      pkcs12File: pki/host.p12
      passphrase: credential:p12
      trustAnchorArn: arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta
      profileArn: arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p
    role: { arn: arn:aws:iam::123456789012:role/a }
  k8s:
    source: { type: web-identity-file, tokenFile: sa/token }
    role: { arn: arn:aws:iam::123456789012:role/a }
  aws:
    source: { type: aws, credentialsFile: aws/credentials, configFile: aws/config, profile: file:not-a-path }
    role: { arn: arn:aws:iam::123456789012:role/a }
  oidc:
    source:
      type: oidc
      issuer: https://idp.example.com
      clientId: file:not-a-path
      clientAuth: { method: tls_client_auth, certificateFile: c.crt, chainFile: chain.pem, privateKey: file:c.key }
      extraParams: { hint: file:not-a-path }
    role: { arn: arn:aws:iam::123456789012:role/a }
`;
    const c = parseConfig(text, FILE);
    const at = (p: string) => `/etc/credential-broker/${p}`;
    assert.equal(c.server.tokenFile, at('run/token'));
    assert.deepEqual(c.server.tls, {
      certificate: at('tls/tls.crt'),
      privateKey: `file:${at('tls/tls.key')}`,
      clientCa: '/abs/ca.pem',
    });
    assert.equal(c.network.caFile, at('ca/extra.pem'));
    const p = c.profiles;
    assert.ok(p.saml?.source.type === 'saml' && p.saml.source.auth.method === 'kerberos');
    assert.deepEqual(
      [p.saml.source.auth.keytab, p.saml.source.auth.krb5Conf],
      [at('svc.keytab'), at('krb5.conf')],
    );
    assert.equal(p.form?.tokenFile, at('tokens/form.token'));
    assert.ok(p.form?.source.type === 'saml' && p.form.source.auth.method === 'form');
    assert.deepEqual(p.form.source.auth.formFields, { org: `file:${at('org.txt')}`, lang: 'en' });
    assert.equal(p.form.source.auth.password, 'env:PW');
    assert.ok(p.cert?.source.type === 'x509');
    assert.deepEqual(
      [p.cert.source.pkcs12File, p.cert.source.passphrase],
      [at('pki/host.p12'), 'credential:p12'],
    );
    assert.ok(p.k8s?.source.type === 'web-identity-file');
    assert.equal(p.k8s.source.tokenFile, at('sa/token'));
    assert.ok(p.aws?.source.type === 'aws');
    assert.deepEqual(
      [p.aws.source.credentialsFile, p.aws.source.configFile, p.aws.source.profile],
      [at('aws/credentials'), at('aws/config'), 'file:not-a-path'],
    );
    assert.ok(p.oidc?.source.type === 'oidc' && p.oidc.source.clientAuth.method === 'tls_client_auth');
    const auth = p.oidc.source.clientAuth;
    assert.deepEqual(
      [auth.certificateFile, auth.chainFile, auth.privateKey],
      [at('c.crt'), at('chain.pem'), `file:${at('c.key')}`],
    );
    // Settings that are not paths keep a `file:` prefix as written (an OAuth parameter, a client ID).
    assert.equal(p.oidc.source.clientId, 'file:not-a-path');
    assert.deepEqual(p.oidc.source.extraParams, { hint: 'file:not-a-path' });
  });

  it('refuses an inline secret and says where secrets go', () => {
    const msg = configError(MINIMAL.replace('file:secrets/billing', 'hunter2'));
    assert.match(
      msg,
      /^\/etc\/credential-broker\/config\.yaml: profiles\.default\.source\.clientAuth\.clientSecret: secrets are never written inline: use file:/,
    );
    assert.doesNotMatch(msg, /hunter2/, 'the rejected value is not echoed');
  });

  it('refuses proxy credentials inline in network.proxy, names proxyAuth, never echoes the password', () => {
    const msg = configError(
      `network:\n  proxy: http://svc-broker:Pr0xyPa55@proxy.corp.example:3128\n${MINIMAL}`,
    );
    assert.match(
      msg,
      /^\/etc\/credential-broker\/config\.yaml: network\.proxy: the proxy URL carries credentials \(user:password@\): secrets are never written inline; .*network\.proxyAuth: \{ username: NAME, password: file:\/path \}/,
    );
    assert.doesNotMatch(msg, /Pr0xyPa55|svc-broker/, 'neither the password nor the URL is echoed');
    // A profile's network section is held to the same rule.
    const inProfile = configError(
      MINIMAL.replace(
        '    role:',
        '    network:\n      proxy: https://u:Pr0xyPa55@proxy.corp.example\n    role:',
      ),
    );
    assert.match(inProfile, /profiles\.default\.network\.proxy: the proxy URL carries credentials/);
    assert.doesNotMatch(inProfile, /Pr0xyPa55/);
  });

  it('takes proxy credentials as a secret reference, for the proxy of the same section only', () => {
    const auth = '  proxyAuth:\n    username: svc-broker\n    password: file:secrets/proxy\n';
    const c = parseConfig(`network:\n  proxy: http://proxy.corp.example:3128\n${auth}${MINIMAL}`, FILE);
    assert.deepEqual(c.network.proxyAuth, {
      username: 'svc-broker',
      password: 'file:/etc/credential-broker/secrets/proxy',
    });
    assert.match(
      configError(`network:\n${auth}${MINIMAL}`),
      /network\.proxyAuth: proxyAuth needs a proxy in the same network section/,
    );
    assert.match(
      configError(
        `network:\n  proxy: http://p.example:3128\n${auth.replace('file:secrets/proxy', 'hunter2')}${MINIMAL}`,
      ),
      /network\.proxyAuth\.password: secrets are never written inline/,
    );
  });

  it('names the path and the fix for a bad role ARN, an unknown key and a bad duration, all at once', () => {
    const msg = configError(
      MINIMAL.replace('arn:aws:iam::123456789012:role/billing', 'billing-role').replace(
        '    role:',
        '    lazzy: true\n    refresh:\n      before: soon\n    role:',
      ),
    );
    assert.match(msg, /^3 problems in the config:/);
    assert.match(
      msg,
      /profiles\.default\.role\.arn: expected an IAM role ARN, like arn:aws:iam::123456789012:role\/NAME/,
    );
    assert.match(msg, /profiles\.default: unknown setting "lazzy": remove it or check the spelling/);
    assert.match(msg, /profiles\.default\.refresh\.before: "soon" is not a duration such as 90s, 15m or 1h/);
  });

  it('requires https for a non-loopback issuer and loopback for the listener', () => {
    assert.match(
      configError(MINIMAL.replace('https://idp', 'http://idp')),
      /source\.issuer: use https: plain http is only allowed to a loopback address/,
    );
    assert.doesNotMatch(configError(`server:\n  listen: 0.0.0.0:9911\n${MINIMAL}`), /source\.issuer/);
    assert.match(
      configError(`server:\n  listen: 0.0.0.0:9911\n${MINIMAL}`),
      /server\.listen: credentials are served over plain http only on loopback/,
    );
    assert.doesNotThrow(() =>
      parseConfig(MINIMAL.replace('https://idp.example.com', 'http://127.0.0.1:8080'), FILE),
    );
  });

  it('rejects an unknown source type, a missing field and an empty profile list', () => {
    assert.match(
      configError(MINIMAL.replace('type: oidc', 'type: ldap')),
      /profiles\.default\.source\.type: source\.type must be one of: oidc/,
    );
    assert.match(
      configError(MINIMAL.replace('      clientId: billing\n', '')),
      /profiles\.default\.source\.clientId: required/,
    );
    assert.match(configError('profiles: {}\n'), /profiles: define at least one profile/);
    assert.match(configError('logging:\n  level: loud\n'), /logging\.level: /);
  });

  it('reports YAML syntax errors with the line', () => {
    assert.match(
      configError('profiles:\n  default: [unclosed\n'),
      /^\/etc\/credential-broker\/config\.yaml: line \d+: not valid YAML/,
    );
  });

  it('reports a missing config file with the flag to use', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/config.yaml'), (err: ConfigError) => {
      assert.match(
        err.message,
        /\/nonexistent\/config\.yaml: cannot read the config file \(no such file\); pass --config PATH/,
      );
      return true;
    });
  });

  it('parses durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration(60), 60_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('15 minutes'), undefined);
    assert.equal(parseDuration('m'), undefined);
  });
});

describe('secret references', () => {
  it('reads file:, env: and credential: on every use, and names the reference (never the value) on failure', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-secret-'));
    await writeFile(path.join(dir, 's'), 'first\n');
    assert.equal(await readSecret(`file:${dir}/s`), 'first', 'one trailing newline is dropped');
    await writeFile(path.join(dir, 's'), 'second');
    assert.equal(await readSecret(`file:${dir}/s`), 'second', 'rotation is picked up');
    process.env.CB_TEST_SECRET = 'from-env';
    assert.equal(await readSecret('env:CB_TEST_SECRET'), 'from-env');
    await assert.rejects(
      readSecret('env:CB_TEST_UNSET'),
      /secret env:CB_TEST_UNSET: environment variable CB_TEST_UNSET is not set/,
    );
    const saved = process.env.CREDENTIALS_DIRECTORY;
    process.env.CREDENTIALS_DIRECTORY = dir;
    try {
      assert.equal(await readSecret('credential:s'), 'second');
    } finally {
      if (saved === undefined) delete process.env.CREDENTIALS_DIRECTORY;
      else process.env.CREDENTIALS_DIRECTORY = saved;
    }
    await writeFile(path.join(dir, 'empty'), '');
    await assert.rejects(readSecret(`file:${dir}/empty`), /is empty/);
    await assert.rejects(readSecret(`file:${dir}/missing`), /cannot read .*missing \(no such file\)/);
  });
});
