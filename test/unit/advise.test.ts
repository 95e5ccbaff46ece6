// `advise`: every path of the decision helper, and starter files that are valid as written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseArgs } from 'node:util';
import { decide, type Facts, MECHANISMS, type MechanismId } from '../../src/cli/advise/decide.ts';
import { adviseCommand } from '../../src/cli/advise/index.ts';
import { DEFAULT_PARAMS, starterFor } from '../../src/cli/advise/starter.ts';
import { parseOptions } from '../../src/cli/command.ts';
import { ADVISE } from '../../src/cli/index.ts';
import { parseConfig } from '../../src/config/load.ts';
import { captured, cli } from '../harness/cli.ts';

const NOTHING: Facts = {
  oidc: false,
  saml: false,
  kerberos: false,
  pki: false,
  kubernetes: false,
  awsKeys: false,
  runsOn: 'server',
};

function advise(argv: string[], stdin?: NodeJS.ReadableStream) {
  // Parsed with the table's options, as main.ts does.
  const { values } = parseArgs({ args: argv, strict: true, options: parseOptions(ADVISE) });
  return captured((io) => adviseCommand(values, io, stdin));
}

describe('advise: the decision helper', () => {
  const cases: [string, Partial<Facts>, MechanismId | undefined, MechanismId[]][] = [
    [
      'Kubernetes app with a reachable SA issuer',
      { kubernetes: true, runsOn: 'kubernetes', oidc: true },
      'kubernetes',
      ['oidc'],
    ],
    ['OIDC provider', { oidc: true, saml: true, kerberos: true }, 'oidc', ['saml', 'kerberos']],
    ['certificate process, no OIDC', { pki: true, saml: true }, 'mtls', ['saml']],
    ['SAML only', { saml: true }, 'saml', []],
    ['Kerberos with a SAML IdP, nothing else', { kerberos: true, saml: true }, 'saml', ['kerberos']],
    [
      'Kerberos with a SAML IdP that allows password accounts (said explicitly)',
      { kerberos: true, saml: true, samlLogin: 'password' },
      'saml',
      ['kerberos'],
    ],
    [
      'Kerberos with a SAML IdP that allows only Windows Integrated Authentication',
      { kerberos: true, saml: true, samlLogin: 'kerberos' },
      'kerberos',
      [],
    ],
    [
      'a Windows-auth-only SAML IdP still ranks below OIDC and certificates',
      { kerberos: true, saml: true, samlLogin: 'kerberos', oidc: true, pki: true, awsKeys: true },
      'oidc',
      ['mtls', 'kerberos', 'sigv4'],
    ],
    [
      'a Windows-auth-only SAML IdP without keytabs fits nothing',
      { saml: true, samlLogin: 'kerberos' },
      undefined,
      [],
    ],
    ['AWS keys only', { awsKeys: true }, 'sigv4', []],
    ['AWS keys and OIDC: OIDC first, keys last', { awsKeys: true, oidc: true }, 'oidc', ['sigv4']],
    ['nothing', {}, undefined, []],
    ['Kerberos without a SAML IdP does not fit', { kerberos: true }, undefined, []],
    ['Kubernetes issuer but the app runs on a server', { kubernetes: true }, undefined, []],
  ];
  for (const [name, facts, expected, alternatives] of cases) {
    it(name, () => {
      const advice = decide({ ...NOTHING, ...facts });
      assert.equal(advice.recommended?.id, expected);
      assert.deepEqual(
        advice.alternatives.map((a) => a.id),
        alternatives,
      );
      assert.ok(advice.why.length > 40, 'says why');
    });
  }

  it('explains why Kerberos alone or AD cannot reach AWS', () => {
    const advice = decide({ ...NOTHING, kerberos: true });
    assert.match(
      advice.notes.join(' '),
      /STS does not accept Kerberos tickets.*SAML IdP that accepts SPNEGO/,
    );
    assert.match(advice.why, /OIDC provider/);
  });

  it('a Windows-auth-only SAML IdP without keytabs: says what would make it fit', () => {
    const advice = decide({ ...NOTHING, saml: true, samlLogin: 'kerberos' });
    assert.match(advice.notes.join(' '), /only with Windows Integrated Authentication.*keytab/);
  });

  it('carries the guidance’s complexity/convenience table', () => {
    assert.deepEqual(
      Object.values(MECHANISMS).map((m) => [m.id, m.complexity, m.convenience]),
      [
        ['kubernetes', 'medium', 'high'],
        ['oidc', 'medium', 'high'],
        ['mtls', 'medium', 'high'],
        ['saml', 'high', 'medium'],
        ['kerberos', 'very high', 'low'],
        ['sigv4', 'low', 'very high'],
      ],
    );
  });
});

describe('advise: starter files', () => {
  for (const id of Object.keys(MECHANISMS) as MechanismId[]) {
    it(`${id}: the config validates against the schema and the trust policy names the right action`, () => {
      const starter = starterFor(id, DEFAULT_PARAMS);
      const config = parseConfig(starter.config, '/tmp/advise/config.yaml');
      assert.equal(config.profiles.default?.role.arn, 'arn:aws:iam::123456789012:role/my-app');
      const policy = JSON.parse(starter.trustPolicy);
      const action = [policy.Statement[0].Action].flat();
      const expected = {
        kubernetes: 'sts:AssumeRoleWithWebIdentity',
        oidc: 'sts:AssumeRoleWithWebIdentity',
        mtls: 'sts:AssumeRole',
        saml: 'sts:AssumeRoleWithSAML',
        kerberos: 'sts:AssumeRoleWithSAML',
        sigv4: 'sts:AssumeRole',
      }[id];
      assert.ok(action.includes(expected), `${action} includes ${expected}`);
      assert.match(starter.awsSetup, /^#!\/bin\/sh\n/);
      assert.match(
        starter.awsSetup,
        /aws iam create-role --role-name my-app --assume-role-policy-document file:\/\/trust-policy\.json/,
      );
    });
  }

  it('OIDC and Kubernetes trust policies pin aud and sub', () => {
    const k8s = JSON.parse(
      starterFor('kubernetes', {
        ...DEFAULT_PARAMS,
        issuer: 'https://oidc.example.com/c1',
        namespace: 'shop',
        serviceAccount: 'checkout',
      }).trustPolicy,
    );
    assert.deepEqual(k8s.Statement[0].Condition.StringEquals, {
      'oidc.example.com/c1:aud': 'sts.amazonaws.com',
      'oidc.example.com/c1:sub': 'system:serviceaccount:shop:checkout',
    });
    assert.equal(
      k8s.Statement[0].Principal.Federated,
      'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/c1',
    );
    const saml = JSON.parse(starterFor('saml', DEFAULT_PARAMS).trustPolicy);
    assert.equal(saml.Statement[0].Condition.StringEquals['SAML:aud'], 'https://signin.aws.amazon.com/saml');
  });
});

describe('credential-broker advise (command)', () => {
  it('prints the recommendation, the alternatives, the table and the starter files; deterministic', async () => {
    const a = await advise(['--has', 'oidc,saml']);
    assert.equal(a.code, 0);
    assert.match(
      a.stdout,
      /^Recommended: OIDC {2}→ {2}source\.type: oidc\n {2}complexity medium, convenience high/,
    );
    assert.match(
      a.stdout,
      /Alternatives you could also use:\n {2}- SAML \(saml; complexity high, convenience medium\)/,
    );
    assert.match(a.stdout, /Active Directory \(without Kerberos keytabs\).*not a fit for machine-to-machine/);
    assert.match(a.stdout, /--- config\.yaml\n# starter config/);
    assert.match(a.stdout, /--- aws-setup\.sh\n#!\/bin\/sh/);
    assert.equal((await advise(['--has', 'oidc,saml'])).stdout, a.stdout);
  });

  it('--out writes the three files; --json gives the same advice', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-advise-'));
    const out = await advise([
      '--has',
      'pki',
      '--account-id',
      '111122223333',
      '--role-name',
      'backup',
      '--out',
      dir,
    ]);
    assert.equal(out.code, 0);
    assert.match(out.stderr, /wrote .*config\.yaml, .*trust-policy\.json, .*aws-setup\.sh/);
    const config = parseConfig(
      await readFile(path.join(dir, 'config.yaml'), 'utf8'),
      path.join(dir, 'config.yaml'),
    );
    assert.equal(config.profiles.default?.role.arn, 'arn:aws:iam::111122223333:role/backup');
    assert.equal((await stat(path.join(dir, 'aws-setup.sh'))).mode & 0o111, 0o111);

    // A second run does not overwrite (the operator may have edited them) unless --force.
    await writeFile(path.join(dir, 'config.yaml'), '# edited\n');
    const again = await advise(['--has', 'oidc', '--out', dir]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /config\.yaml, .*trust-policy\.json, .*aws-setup\.sh already exist; nothing written: pass --force/,
    );
    assert.equal(await readFile(path.join(dir, 'config.yaml'), 'utf8'), '# edited\n');
    assert.equal((await advise(['--has', 'oidc', '--out', dir, '--force'])).code, 0);
    assert.match(await readFile(path.join(dir, 'config.yaml'), 'utf8'), /type: oidc/);

    // aws-setup.sh runs from any directory: it finds trust-policy.json beside itself. A stand-in
    // `aws` on PATH reads the file:// documents the way the AWS CLI does (relative to the cwd).
    const bin = await mkdtemp(path.join(tmpdir(), 'cb-aws-'));
    await writeFile(
      path.join(bin, 'aws'),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      '#!/bin/sh\nfor a in "$@"; do case "$a" in file://*) cat "${a#file://}" >/dev/null || exit 9;; esac; done\necho "aws $*"\n',
      { mode: 0o755 },
    );
    const run = spawnSync('sh', [path.join(dir, 'aws-setup.sh')], {
      cwd: tmpdir(),
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /aws iam create-role .*file:\/\/trust-policy\.json/);
    const json = JSON.parse((await advise(['--has', 'pki', '--json'])).stdout);
    assert.equal(json.recommended.id, 'mtls');
    assert.equal(json.facts.pki, true);
  });

  it('asks the questions when told to be interactive', async () => {
    // The last answer is to how the IdP logs machines in (asked with SAML and Kerberos).
    const answers = Readable.from(['n\n', 'n\n', 'n\n', 'yes\n', 'y\n', 'n\n', 'n\n']);
    const out = await advise(['--interactive'], answers);
    assert.equal(out.code, 0);
    assert.match(out.stderr, /Do you have a SAML IdP/);
    assert.match(out.stdout, /^Recommended: SAML/);
    assert.match(out.stdout, /- Kerberos \(saml \(auth\.method: kerberos\)/);
  });

  it('--saml-login kerberos: the Kerberos starter (config, SAML provider and trust, CLI)', async () => {
    const out = await advise(['--has', 'saml,kerberos', '--saml-login', 'kerberos', '--name', 'ADFS']);
    assert.equal(out.code, 0);
    assert.match(
      out.stdout,
      /^Recommended: Kerberos {2}→ {2}source\.type: saml \(auth\.method: kerberos\)\n/,
    );
    assert.match(out.stdout, /Why: Your SAML IdP allows this machine no password account/);
    assert.doesNotMatch(out.stdout, /Alternatives you could also use/);
    assert.match(
      out.stdout,
      /\n {2}SAML {2,}high {8}medium {7}-\n {2}Kerberos {2,}very high {3}low {10}yes\n/,
    );
    const starter = out.stdout.slice(out.stdout.indexOf('--- config.yaml\n') + '--- config.yaml\n'.length);
    const config = parseConfig(starter.slice(0, starter.indexOf('\n--- ')), '/tmp/advise/config.yaml');
    const source = config.profiles.default?.source;
    assert.equal(source?.type, 'saml');
    assert.equal(source.type === 'saml' && source.auth.method, 'kerberos');
    assert.match(out.stdout, /"Federated": "arn:aws:iam::123456789012:saml-provider\/ADFS"/);
    assert.match(out.stdout, /"sts:AssumeRoleWithSAML"/);
    assert.match(
      out.stdout,
      /aws iam create-saml-provider --name ADFS --saml-metadata-document file:\/\/metadata\.xml/,
    );
    assert.match(out.stdout, /keytab of the service account/);
    const json = JSON.parse(
      (await advise(['--has', 'saml,kerberos', '--saml-login', 'kerberos', '--json'])).stdout,
    );
    assert.equal(json.recommended.id, 'kerberos');
    assert.equal(json.facts.samlLogin, 'kerberos');
    assert.equal(json.starter.config, starterFor('kerberos', DEFAULT_PARAMS).config);
  });

  it('--saml-login password keeps SAML first, as without it', async () => {
    const plain = await advise(['--has', 'saml,kerberos']);
    const password = await advise(['--has', 'saml,kerberos', '--saml-login', 'password']);
    assert.match(password.stdout, /^Recommended: SAML/);
    assert.equal(password.stdout, plain.stdout);
    assert.equal(
      JSON.parse((await advise(['--has', 'saml,kerberos', '--json'])).stdout).facts.samlLogin,
      undefined,
    );
  });

  it('asks how the IdP logs machines in only when SAML and Kerberos are both there', async () => {
    // kubernetes, oidc, pki, saml, kerberos, aws-keys, then the Windows-auth question.
    const wia = await advise(
      ['--interactive'],
      Readable.from(['n\n', 'n\n', 'n\n', 'y\n', 'y\n', 'n\n', 'y\n']),
    );
    assert.equal(wia.code, 0);
    assert.match(wia.stderr, /only Windows Integrated Authentication/);
    assert.match(wia.stdout, /^Recommended: Kerberos/);
    const password = await advise(
      ['--interactive'],
      Readable.from(['n\n', 'n\n', 'n\n', 'y\n', 'y\n', 'n\n', 'n\n']),
    );
    assert.match(password.stdout, /^Recommended: SAML/);
    const samlOnly = await advise(
      ['--interactive'],
      Readable.from(['n\n', 'n\n', 'n\n', 'y\n', 'n\n', 'n\n']),
    );
    assert.doesNotMatch(samlOnly.stderr, /Windows Integrated Authentication/);
    assert.match(samlOnly.stdout, /^Recommended: SAML/);
  });

  it('usage errors exit 64 and say what to write', async () => {
    const bad = await advise(['--has', 'ldap']);
    assert.equal(bad.code, 64);
    assert.match(
      bad.stderr,
      /unknown --has value "ldap"; use oidc, saml, kerberos, pki, kubernetes, aws-keys or none/,
    );
    assert.equal((await advise(['--runs-on', 'mainframe', '--has', 'oidc'])).code, 64);
    const none = await advise([], Readable.from([]));
    assert.equal(none.code, 64);
    assert.match(none.stderr, /say what you have with --has/);
    assert.match((await cli('advise', '--help')).stdout, /credential-broker advise --has oidc,saml/);
    for (const id of ['12345', '1111222233334', '11112222333x']) {
      const badId = await advise(['--has', 'oidc', '--account-id', id]);
      assert.equal(badId.code, 64, id);
      assert.match(badId.stderr, /--account-id: an AWS account id is 12 digits, like 111122223333, not "/);
    }
    // The other starter options keep the rules of the interactive answers (most land in aws-setup.sh).
    for (const [option, bad, problem] of [
      ['--issuer', 'http://idp.example.com', /--issuer: the issuer must be an https URL/],
      ['--issuer', 'https://idp.example.com/$(id)', /--issuer: the issuer must be a plain URL/],
      ['--role-name', 'my app', /--role-name: a role name is 1 to 64 letters/],
      ['--region', 'Frankfurt', /--region: a region looks like eu-west-1/],
      // The config schema's own rule: a starter config.yaml it would refuse is never written.
      ['--region', 'eu-west-10', /--region: a region looks like eu-west-1/],
    ] as const) {
      const badOption = await advise(['--has', 'oidc', option, bad]);
      assert.equal(badOption.code, 64, `${option} ${bad}`);
      assert.match(badOption.stderr, problem);
    }
    const how = await advise(['--has', 'saml', '--saml-login', 'ntlm']);
    assert.equal(how.code, 64);
    assert.match(how.stderr, /--saml-login must be password or kerberos, not "ntlm"/);
    const noSaml = await advise(['--has', 'kerberos', '--saml-login', 'kerberos']);
    assert.equal(noSaml.code, 64);
    assert.match(noSaml.stderr, /--saml-login says how the SAML IdP logs this machine in: add saml to --has/);
  });
});
