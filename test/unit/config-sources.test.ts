// Schema for the web-identity-file, x509 and aws sources, role chaining and network settings:
// valid configs parse with their defaults and resolved paths; each mistake is one line that names
// the setting and the fix.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/config/duration.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const FILE = '/etc/credential-broker/config.yaml';
const ROLE = 'arn:aws:iam::123456789012:role/app';
const TA = 'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0b5e1d9c-1b7a-4b8e-9f0e-2d1c3b4a5e6f';
const RP = 'arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f5e4d3c-2b1a-4c9d-8e7f-0a1b2c3d4e5f';

function parse(yaml: string) {
  return parseConfig(yaml, FILE);
}

function problems(yaml: string): string {
  try {
    parse(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

const x509 = (extra = '', role = '') => `
profiles:
  host:
    source:
      type: x509
      certificateFile: pki/host.crt
      privateKey: file:pki/host.key
      trustAnchorArn: ${TA}
      profileArn: ${RP}
${extra}
    role:
      arn: ${ROLE}
${role}
`;

describe('config: new sources', () => {
  it('x509: relative files resolved against the config folder, defaults filled in', () => {
    const source = parse(x509()).profiles.host!.source;
    assert.ok(source.type === 'x509');
    assert.equal(source.certificateFile, '/etc/credential-broker/pki/host.crt');
    assert.equal(source.privateKey, 'file:/etc/credential-broker/pki/host.key');
    assert.equal(source.certExpiryWarning, 14 * 86_400_000);
    assert.equal(source.sendSessionName, false);
  });

  it('x509: certExpiryWarning may be months (a threshold), while a timer such as timeout stops at 24d', () => {
    const source = parse(x509('      certExpiryWarning: 30d')).profiles.host!.source;
    assert.ok(source.type === 'x509');
    assert.equal(source.certExpiryWarning, 30 * 86_400_000);
    assert.match(
      problems(x509('      certExpiryWarning: 401d')),
      /source\.certExpiryWarning: "401d" is too long: this duration is at most 400d/,
    );
    assert.match(
      problems(x509('      timeout: 30d')),
      /source\.timeout: "30d" is too long: this duration is at most 24d/,
    );
  });

  it('x509: either certificateFile + privateKey or pkcs12File', () => {
    assert.match(
      problems(x509().replace('      privateKey: file:pki/host.key\n', '')),
      /source\.privateKey: required: set certificateFile and privateKey \(PEM\), or pkcs12File/,
    );
    assert.match(
      problems(
        x509().replace(
          '      privateKey: file:pki/host.key\n',
          '      privateKey: file:k\n      pkcs12File: host.p12\n',
        ),
      ),
      /source\.pkcs12File: pkcs12File holds the certificate and the key: remove certificateFile and privateKey/,
    );
    const ok = parse(
      x509().replace(
        '      certificateFile: pki/host.crt\n      privateKey: file:pki/host.key\n',
        '      pkcs12File: pki/host.p12\n',
      ),
    );
    const source = ok.profiles.host!.source;
    assert.ok(source.type === 'x509');
    assert.equal(source.pkcs12File, '/etc/credential-broker/pki/host.p12');
  });

  it('x509: a malformed trust anchor ARN names the setting and shows the form', () => {
    const msg = problems(x509().replace(TA, 'arn:aws:rolesanywhere:eu-west-1:123:trust-anchor/x'));
    assert.match(
      msg,
      /profiles\.host\.source\.trustAnchorArn: expected an IAM Roles Anywhere trust-anchor ARN, like arn:aws:rolesanywhere:/,
    );
  });

  it('x509: an inline private key is refused as an inline secret', () => {
    const msg = problems(x509().replace('file:pki/host.key', '"-----BEGIN PRIVATE KEY-----"'));
    assert.match(msg, /source\.privateKey: secrets are never written inline/);
  });

  it('x509: session policies are set on the Roles Anywhere profile, not here', () => {
    const msg = problems(x509('', `      policyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]`));
    assert.match(msg, /role\.policyArns: IAM Roles Anywhere takes session policies from its profile/);
  });

  it('web-identity-file needs tokenFile; the unknown-type message lists every source type', () => {
    assert.match(
      problems(`profiles:\n  k:\n    source: { type: web-identity-file }\n    role: { arn: ${ROLE} }\n`),
      /source\.tokenFile: required/,
    );
    assert.match(
      problems(`profiles:\n  k:\n    source: { type: ldap }\n    role: { arn: ${ROLE} }\n`),
      /source\.type must be one of: oidc, web-identity-file, x509, aws/,
    );
  });

  it('aws: all settings optional (the SDK default chain)', () => {
    const source = parse(
      `profiles:\n  a:\n    source: { type: aws }\n    role: { arn: ${ROLE}, externalId: ext-1 }\n`,
    ).profiles.a!.source;
    assert.deepEqual(source, { type: 'aws' });
  });

  it('durations accept days: 14d', () => {
    assert.equal(parseDuration('14d'), 14 * 86_400_000);
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
  });
});

describe('config: role chaining', () => {
  const chained = (chain: string, source = `{ type: aws }`) => `
profiles:
  etl:
    source: ${source}
    role: { arn: ${ROLE} }
    chain:
${chain}
`;

  it('a chain with ExternalId, tags, transitive keys and source identity parses', () => {
    const p = parse(
      chained(`      - arn: arn:aws:iam::210987654321:role/partner
        externalId: partner-7f3a
        tags: [{ key: team, value: data }]
        transitiveTagKeys: [team]
        sourceIdentity: "{hostname}"
        durationSeconds: 7200`),
    ).profiles.etl!;
    assert.equal(p.chain?.[0]?.externalId, 'partner-7f3a');
    assert.equal(p.chain?.[0]?.durationSeconds, 7200); // capped (with a warning) when used
    assert.equal(p.chain?.[0]?.sessionName, 'credential-broker-{profile}');
  });

  it('a transitive key that is not a tag is refused', () => {
    const msg = problems(
      chained(
        `      - arn: ${ROLE}\n        tags: [{ key: team, value: data }]\n        transitiveTagKeys: [project]`,
      ),
    );
    assert.match(
      msg,
      /chain\.0\.transitiveTagKeys: transitive tag key "project" is not one of this role's tags/,
    );
  });

  it('externalId on the first role of a non-aws source points to chain:', () => {
    const msg = problems(x509('', '      externalId: abc123'));
    assert.match(
      msg,
      /role\.externalId: only AssumeRole takes externalId, and a x509 source does not call it: move the role that needs it to a chain: entry/,
    );
  });
});

describe('config: network', () => {
  it('top-level and per-profile settings; caFile resolved against the config folder', () => {
    const c = parse(
      `network: { proxy: "http://proxy.corp:3128", noProxy: [.internal], caFile: pki/corp-ca.pem }\n${x509('    network: { proxy: none }').replace('\n    role:', '\n    role:')}`,
    );
    assert.equal(c.network.caFile, '/etc/credential-broker/pki/corp-ca.pem');
    assert.equal(c.profiles.host!.network?.proxy, 'none');
  });

  it('a proxy that is not a URL is refused', () => {
    assert.match(
      problems(`network: { proxy: "proxy.corp:3128" }\n${x509()}`),
      /network\.proxy: proxy must be an http\(s\):\/\/host:port URL or "none"/,
    );
  });
});
