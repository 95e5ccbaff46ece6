// Interactive `advise`: the starter values it asks for when it writes files, answers it asks
// again, input that ends early, and aws-setup.sh run from another directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseArgs } from 'node:util';
import { MECHANISMS, type MechanismId } from '../../src/cli/advise/decide.ts';
import { adviseCommand } from '../../src/cli/advise/index.ts';
import { DEFAULT_PARAMS, starterFor } from '../../src/cli/advise/starter.ts';
import { parseOptions } from '../../src/cli/command.ts';
import { ADVISE } from '../../src/cli/index.ts';
import { parseConfig } from '../../src/config/load.ts';
import { captured } from '../harness/cli.ts';

/** `advise --interactive ARGV` with these lines on stdin, all piped ahead of the questions. */
function advise(argv: string[], answers: string[]) {
  const { values } = parseArgs({
    args: ['--interactive', ...argv],
    strict: true,
    options: parseOptions(ADVISE),
  });
  return captured((io) => adviseCommand(values, io, Readable.from([answers.map((a) => `${a}\n`).join('')])));
}

// The yes/no answers, in the order asked: kubernetes, oidc, pki, saml, kerberos, aws-keys.
const OIDC = ['n', 'y', 'n', 'n', 'n', 'n'];
const KUBERNETES = ['y', 'n', 'n', 'n', 'n', 'n'];
const SAML = ['n', 'n', 'n', 'y', 'n', 'n'];

const tempDir = () => mkdtemp(path.join(tmpdir(), 'cb-advise-ask-'));

async function written(dir: string) {
  const read = (f: string) => readFile(path.join(dir, f), 'utf8');
  const configText = await read('config.yaml');
  return {
    configText,
    config: parseConfig(configText, path.join(dir, 'config.yaml')),
    trust: await read('trust-policy.json'),
    setup: await read('aws-setup.sh'),
  };
}

describe('advise --interactive --out: asks for what the files need', () => {
  it('OIDC: account, role, region, issuer and client id; an empty answer takes the default', async () => {
    const dir = await tempDir();
    const out = await advise(
      ['--out', dir],
      [...OIDC, '111122223333', 'billing', 'eu-central-1', 'https://idp.example.org/realms/m', ''],
    );
    assert.equal(out.code, 0, out.stderr);
    // No default account id is offered: the next question follows at once.
    assert.match(out.stderr, /The AWS account id \(12 digits\) the role is in\? The name of the IAM role/);
    assert.match(out.stderr, /The name of the IAM role the app gets\? \[my-app\] /);
    assert.match(out.stderr, /The app's client id at the OIDC provider\? \[billing\] /);
    assert.doesNotMatch(out.stderr, /namespace|SAML IdP's sign-on URL/, 'asks only what OIDC uses');
    const { config, configText, trust, setup } = await written(dir);
    assert.equal(config.profiles.default?.role.arn, 'arn:aws:iam::111122223333:role/billing');
    const source = config.profiles.default?.source;
    assert.equal(source?.type, 'oidc');
    assert.equal(source.type === 'oidc' && source.issuer, 'https://idp.example.org/realms/m');
    assert.equal(source.type === 'oidc' && source.clientId, 'billing');
    assert.equal(config.sts.region, 'eu-central-1');
    assert.match(trust, /"idp\.example\.org\/realms\/m:sub": "billing"/);
    assert.match(setup, /create-open-id-connect-provider --url https:\/\/idp\.example\.org\/realms\/m /);
    for (const text of [configText, trust, setup]) assert.doesNotMatch(text, /123456789012|example\.com/);
  });

  it('Kubernetes: issuer, namespace and service account; values given as options are not asked', async () => {
    const dir = await tempDir();
    const out = await advise(
      ['--out', dir, '--account-id', '444455556666', '--role-name', 'orders', '--region', 'us-east-1'],
      [...KUBERNETES, 'https://oidc.example.org/c1', 'shop', ''],
    );
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /account id|IAM role|region/);
    assert.match(out.stderr, /The app's Kubernetes namespace\? \[default\] /);
    assert.match(out.stderr, /The app's Kubernetes service account\? \[orders\] /);
    const { config, trust } = await written(dir);
    assert.equal(config.profiles.default?.source.type, 'web-identity-file');
    assert.equal(config.profiles.default?.role.arn, 'arn:aws:iam::444455556666:role/orders');
    assert.match(trust, /"oidc\.example\.org\/c1:sub": "system:serviceaccount:shop:orders"/);
  });

  it('SAML: the IdP URL, and the IAM provider name defaulting to its host', async () => {
    const dir = await tempDir();
    const idp =
      'https://adfs.corp.example.org/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices';
    const out = await advise(['--out', dir], [...SAML, '777788889999', 'reports', 'eu-west-2', idp, '']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /IAM SAML provider for that IdP[^\n]*\[adfs\.corp\.example\.org\] /);
    const { config, trust, setup } = await written(dir);
    const source = config.profiles.default?.source;
    assert.equal(source?.type === 'saml' && source.idpUrl, idp);
    assert.match(trust, /arn:aws:iam::777788889999:saml-provider\/adfs\.corp\.example\.org/);
    assert.match(setup, /create-saml-provider --name adfs\.corp\.example\.org /);
  });

  it('without --out nothing is asked beyond the facts (the files are printed as a sample)', async () => {
    const out = await advise([], OIDC);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /account id/);
    assert.match(out.stdout, /--- config\.yaml\n/);
  });
});

describe('advise --interactive: answers it cannot read are asked again', () => {
  it('a yes/no answer, an account id and an issuer that do not fit: says why and asks again', async () => {
    const dir = await tempDir();
    const out = await advise(
      ['--out', dir, '--region', 'eu-west-1', '--role-name', 'app'],
      [
        'n',
        'maybe',
        'YES',
        ...OIDC.slice(2),
        '1234',
        '1111-2222-3333',
        '111122223333',
        'http://idp.example.org/realms/m',
        'https://idp.example.org/realms/m?x=1',
        'https://idp.example.org/realms/m',
        '',
      ],
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /answer y or n \(an empty answer is no\), not "maybe"\n/);
    assert.match(out.stderr, /an AWS account id is 12 digits, like 111122223333, not "1234"\n/);
    assert.match(out.stderr, /not "1111-2222-3333"\n/);
    assert.match(
      out.stderr,
      /the issuer must be an https URL \(plain http only to 127\.0\.0\.1, ::1 or localhost\), not "http:\/\/idp\.example\.org\/realms\/m"\n/,
    );
    assert.match(out.stderr, /the issuer must be a plain URL: no query/);
    const { config } = await written(dir);
    assert.equal(config.profiles.default?.role.arn, 'arn:aws:iam::111122223333:role/app');
    assert.equal(config.profiles.default?.source.type, 'oidc');
  });

  it('a loopback http issuer is accepted (a test provider)', async () => {
    const dir = await tempDir();
    const out = await advise(
      ['--out', dir, '--account-id', '111122223333', '--role-name', 'app', '--region', 'eu-west-1'],
      [...OIDC, 'http://127.0.0.1:8443/realms/m', 'app'],
    );
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /must be/);
  });

  it('three answers that do not fit: exit 64 naming the question, nothing written', async () => {
    const dir = path.join(await tempDir(), 'out');
    const out = await advise(['--out', dir], [...OIDC, '1', '22', '333', '111122223333']);
    assert.equal(out.code, 64);
    assert.match(
      out.stderr,
      /credential-broker advise: no usable answer to "The AWS account id \(12 digits\) the role is in\?" in 3 tries \(an AWS account id is 12 digits, like 111122223333, not "333"\); nothing written\n$/,
    );
    assert.equal(out.stdout, '');
    assert.equal(existsSync(dir), false);
    const yesNo = await advise([], ['a', 'b', 'c', ...OIDC]);
    assert.equal(yesNo.code, 64);
    assert.match(yesNo.stderr, /no usable answer to "Does the app run in Kubernetes[^"]*\?" in 3 tries/);
  });
});

describe('advise --interactive: input that ends stops it', () => {
  it('ends before a fact: exit 64 naming the unanswered question; nothing printed or written', async () => {
    const dir = path.join(await tempDir(), 'out');
    const out = await advise(['--out', dir], ['n', 'y', 'n']);
    assert.equal(out.code, 64);
    assert.match(
      out.stderr,
      /credential-broker advise: input ended before an answer to "Do you have a SAML IdP \(ADFS, Keycloak, Shibboleth, Okta, \.\.\.\)\?"; nothing written/,
    );
    assert.equal(out.stdout, '');
    assert.equal(existsSync(dir), false);
    // No input at all is not "no" to everything either.
    assert.equal((await advise([], [])).code, 64);
  });

  it('ends before a starter value: nothing written', async () => {
    const dir = path.join(await tempDir(), 'out');
    const out = await advise(['--out', dir], [...OIDC, '111122223333', 'billing']);
    assert.equal(out.code, 64);
    assert.match(out.stderr, /input ended before an answer to "The AWS region for STS\?"/);
    assert.equal(existsSync(dir), false);
  });

  it('answers may arrive one line at a time or all at once', async () => {
    const { values } = parseArgs({ args: ['--interactive'], strict: true, options: parseOptions(ADVISE) });
    const slow = await captured((io) => adviseCommand(values, io, Readable.from(OIDC.map((a) => `${a}\n`))));
    assert.equal(slow.code, 0, slow.stderr);
    assert.equal(slow.stdout, (await advise([], OIDC)).stdout);
    assert.match(slow.stdout, /^Recommended: OIDC/);
  });
});

describe('aws-setup.sh', () => {
  const ids = Object.keys(MECHANISMS) as MechanismId[];
  it('parses in bash and sh, for every mechanism', () => {
    for (const id of ids) {
      const script = starterFor(id, DEFAULT_PARAMS).awsSetup;
      for (const shell of ['bash', 'sh']) {
        const check = spawnSync(shell, ['-n'], { input: script, encoding: 'utf8' });
        assert.equal(check.status, 0, `${id} (${shell}): ${check.stderr}`);
      }
    }
  });

  it('reads trust-policy.json beside itself when run by a relative path from another directory', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'starter files');
    const elsewhere = path.join(root, 'elsewhere');
    await mkdir(elsewhere);
    const out = await advise(
      ['--out', dir, '--role-name', 'app', '--region', 'eu-west-1'],
      [...OIDC, '111122223333', 'https://idp.example.org/realms/m', ''],
    );
    assert.equal(out.code, 0, out.stderr);
    // A stand-in `aws` records its arguments and the documents its file:// arguments name, read
    // relative to its working directory as the AWS CLI reads them.
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    await writeFile(
      path.join(bin, 'aws'),
      [
        '#!/bin/sh',
        'echo "aws $*" >> "$AWS_LOG"',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
        'for a in "$@"; do case "$a" in file://*) cat "${a#file://}" >> "$AWS_LOG" || exit 9;; esac; done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const log = path.join(root, 'aws.log');
    for (const shell of ['sh', 'bash']) {
      await writeFile(log, '');
      const run = spawnSync(shell, [path.join('..', 'starter files', 'aws-setup.sh')], {
        cwd: elsewhere,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, AWS_LOG: log },
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, `${shell}: ${run.stderr}`);
      const calls = await readFile(log, 'utf8');
      assert.match(
        calls,
        /^aws iam create-role --role-name app --assume-role-policy-document file:\/\/trust-policy\.json/m,
      );
      assert.ok(calls.includes(await readFile(path.join(dir, 'trust-policy.json'), 'utf8')), calls);
    }
    assert.deepEqual(await readdir(elsewhere), [], 'the script leaves the caller’s directory alone');
  });
});
