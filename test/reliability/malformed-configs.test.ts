// Reliability: 100 malformed config files from a deterministic generator (wrong types, unknown
// keys, missing settings, bad durations and URLs, inline secrets, YAML syntax errors, empty and
// binary files, duplicate keys, deep nesting, wrong enum values, contradictions). For each,
// `serve` and `check` must exit 78 with a message naming the file and the setting (or the YAML
// line), without a stack trace, and without echoing a secret written inline by mistake.
//
// All 100 run through run() from src/main.ts in-process, serve and check (a process per file
// would cost 1-2 s each); 10 of them also run as real processes (5 serve, 5 check), to prove the
// process prints and exits the same way.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.ts';
import { cli } from '../harness/cli.ts';
import { seeded } from '../harness/seeded-random.ts';
import { brokerEntry, spawnBroker } from '../harness/serve-process.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

/** Inline secrets the generator writes where a reference belongs: none may be printed. */
const INLINE_SECRETS = [
  'inline-client-secret-4b1d9e',
  'inline-password-77c2aa',
  'inline-passphrase-0e5f31',
  '-----BEGIN PRIVATE KEY-----',
] as const;

interface Case {
  name: string;
  content: string | Buffer;
  /** What the message must name: a setting path, or the YAML line / "(top level)". */
  names: string;
}

type Doc = Record<string, unknown>;

/** A valid config (no network needed to validate it), which each case then breaks. */
function validDoc(tokenFile: string): Doc {
  return {
    server: { listen: '127.0.0.1:0', tokenFile, limits: { maxConcurrent: 100 } },
    sts: { region: 'eu-west-1', timeout: '10s' },
    logging: { level: 'info', format: 'json' },
    reload: { watch: false },
    profiles: {
      default: {
        source: {
          type: 'oidc',
          issuer: 'https://idp.example.com/realms/machines',
          clientId: 'billing',
          clientAuth: { method: 'client_secret_basic', clientSecret: 'file:/etc/credential-broker/secret' },
        },
        role: { arn: 'arn:aws:iam::123456789012:role/billing', durationSeconds: 3600 },
        refresh: { before: '30m', minRemaining: '20m', jitter: 0.1 },
      },
      k8s: {
        source: { type: 'web-identity-file', tokenFile: '/var/run/secrets/token' },
        role: { arn: 'arn:aws:iam::123456789012:role/k8s' },
        lazy: true,
      },
    },
  };
}

/** A copy of `doc` with `value` at the dotted `at` (undefined removes the setting). */
function withSetting(doc: Doc, at: string, value: unknown): Doc {
  const copy = structuredClone(doc);
  const keys = at.split('.');
  let node = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) {
    node[k] ??= {};
    node = node[k] as Record<string, unknown>;
  }
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return copy;
}

function nested(depth: number): unknown {
  let node: unknown = 'bottom';
  for (let i = 0; i < depth; i++) node = { [`k${i % 7}`]: node, list: [i] };
  return node;
}

function malformedConfigs(tokenFile: string): Case[] {
  const base = validDoc(tokenFile);
  const P = 'profiles.default';
  const S = `${P}.source`;
  const set = (name: string, at: string, value: unknown, names = at): Case => ({
    name,
    content: stringify(withSetting(base, at, value)),
    names,
  });
  const cases: Case[] = [];

  // wrong types
  cases.push(
    set('listen as a number', 'server.listen', 9911),
    set('tokenFile as a number', 'server.tokenFile', 5),
    set('lazy as a string', `${P}.lazy`, 'yes'),
    set('durationSeconds as a string', `${P}.role.durationSeconds`, '3600'),
    set('jitter as a percentage string', `${P}.refresh.jitter`, '10%'),
    set('maxConcurrent fractional', 'server.limits.maxConcurrent', 1.5),
    set('reload.watch as a string', 'reload.watch', 'true'),
    set('logging.level as a number', 'logging.level', 3),
    set('profiles as a list', 'profiles', ['default']),
    set('chain as a map', `${P}.chain`, { arn: 'arn:aws:iam::123456789012:role/x' }),
    set('sts as a string', 'sts', 'eu-west-1'),
    set('imds as a boolean', 'imds', true),
    set('source as a string', `${P}.source`, 'oidc'),
    set(
      'tags as a map',
      `${P}.chain`,
      [{ arn: 'arn:aws:iam::123456789012:role/x', tags: { team: 'a' } }],
      `${P}.chain.0.tags`,
    ),
  );
  // unknown keys (typos, misplaced settings)
  cases.push(
    set('top-level typo', 'profile', {}, '(top level): unknown setting "profile"'),
    set('server.port', 'server.port', 9911, 'server: unknown setting "port"'),
    set('clientSecret on the source', `${S}.clientSecret`, 'file:/x', `${S}: unknown setting "clientSecret"`),
    set('refresh.befor', `${P}.refresh.befor`, '30m', `${P}.refresh: unknown setting "befor"`),
    set('sts.regoin', 'sts.regoin', 'eu-west-1', 'sts: unknown setting "regoin"'),
  );
  // missing required settings
  cases.push(
    set('no profiles', 'profiles', undefined),
    set('no role', `${P}.role`, undefined),
    set('no role arn', `${P}.role.arn`, undefined),
    set('no source', `${P}.source`, undefined),
    set('no source type', `${S}.type`, undefined),
    set('no issuer', `${S}.issuer`, undefined),
    set('no clientId', `${S}.clientId`, undefined),
    set('no clientAuth', `${S}.clientAuth`, undefined),
    set('no clientSecret', `${S}.clientAuth.clientSecret`, undefined),
    set('no web-identity tokenFile', 'profiles.k8s.source.tokenFile', undefined),
    set('imds without profile', 'imds', { listen: '127.0.0.1:0' }, 'imds.profile'),
    set('tls without privateKey', 'server.tls', { certificate: '/etc/tls.pem' }, 'server.tls.privateKey'),
    set(
      'x509 without trust anchor',
      `${P}.source`,
      {
        type: 'x509',
        certificateFile: '/etc/c.pem',
        privateKey: 'file:/etc/k.pem',
        profileArn: 'arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p',
      },
      `${S}.trustAnchorArn`,
    ),
  );
  // bad durations
  for (const [at, value] of [
    ['sts.timeout', '10 minutes'],
    ['sts.timeout', '-5s'],
    ['sts.timeout', 0],
    ['server.shutdownTimeout', '1h30'],
    ['server.shutdownTimeout', ''],
    ['server.limits.requestTimeout', '5sec'],
    [`${P}.refresh.before`, '1y'],
    [`${P}.refresh.backoff.initial`, 'NaN'],
    [`${S}.timeout`, []],
    ['sts.timeout', '30d'], // past what a Node timer can wait: it would fire after 1 ms
  ] as const) {
    cases.push(set(`duration ${at}=${JSON.stringify(value)}`, at, value));
  }
  // bad URLs
  for (const [at, value] of [
    [`${S}.issuer`, 'idp.example.com'],
    [`${S}.issuer`, 'http://idp.example.com'],
    [`${S}.issuer`, 'ftp://idp.example.com'],
    ['sts.endpoint', 'http://sts.amazonaws.com'],
    ['sts.endpoint', 'javascript:alert(1)'],
    [`${S}.resource`, 'not a uri'],
    ['network.proxy', 'socks5://proxy:1080'],
  ] as const) {
    cases.push(set(`url ${at}=${value}`, at, value));
  }
  // secrets written inline
  cases.push(
    set('inline client secret', `${S}.clientAuth.clientSecret`, INLINE_SECRETS[0]),
    set(
      'inline private key',
      `${S}.clientAuth`,
      {
        method: 'private_key_jwt',
        privateKey: `${INLINE_SECRETS[3]}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n`,
      },
      `${S}.clientAuth.privateKey`,
    ),
    set(
      'inline SAML password',
      `${P}.source`,
      {
        type: 'saml',
        idpUrl: 'https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx',
        auth: { method: 'basic', username: 'svc', password: INLINE_SECRETS[1] },
      },
      `${S}.auth.password`,
    ),
    set(
      'inline x509 passphrase',
      `${P}.source`,
      {
        type: 'x509',
        pkcs12File: '/etc/id.p12',
        passphrase: INLINE_SECRETS[2],
        trustAnchorArn: 'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/t',
        profileArn: 'arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p',
      },
      `${S}.passphrase`,
    ),
    set(
      'inline TLS key',
      'server.tls',
      { certificate: '/etc/tls.pem', privateKey: INLINE_SECRETS[3] },
      'server.tls.privateKey',
    ),
  );
  // wrong enum values
  cases.push(
    set('logging.level verbose', 'logging.level', 'verbose'),
    set('logging.format text', 'logging.format', 'text'),
    set('source.type ldap', `${S}.type`, 'ldap', `${S}`),
    set('clientAuth.method password', `${S}.clientAuth.method`, 'password', `${S}.clientAuth`),
    set('token refresh_token', `${S}.token`, 'refresh_token'),
    set(
      'private_key_jwt alg HS256',
      `${S}.clientAuth`,
      {
        method: 'private_key_jwt',
        privateKey: 'file:/k.pem',
        alg: 'HS256',
      },
      `${S}.clientAuth.alg`,
    ),
  );
  // values out of range or contradicting each other
  cases.push(
    set(
      'profile name with spaces',
      'profiles',
      { 'my profile!': (base.profiles as Doc).default },
      'profiles.my profile!: profile names use',
    ),
    set('role arn malformed', `${P}.role.arn`, 'arn:aws:iam::12345:role/x'),
    set('plain http on all interfaces', 'server.listen', '0.0.0.0:9911'),
    set('port out of range', 'server.listen', '127.0.0.1:70000'),
    set('empty allow-list', 'server.allow', []),
    set('bad CIDR', 'server.allow', ['10.0.0.0/33'], 'server.allow.0'),
    set('IMDS on a public address', 'imds', { listen: '0.0.0.0:1338', profile: 'default' }, 'imds.listen'),
    set('IMDS for an unknown profile', 'imds', { listen: '127.0.0.1:0', profile: 'nope' }, 'imds.profile'),
    set('durationSeconds below STS minimum', `${P}.role.durationSeconds`, 100),
    set('minRemaining not below before', `${P}.refresh`, { before: '10m', minRemaining: '20m' }),
    set('externalId on an oidc source', `${P}.role.externalId`, 'ext-123'),
    set('policy not JSON', `${P}.role.policy`, '{not json'),
    set(
      'eleven chained roles',
      `${P}.chain`,
      Array.from({ length: 11 }, () => ({ arn: 'arn:aws:iam::123456789012:role/x' })),
    ),
  );
  // YAML that does not parse
  const valid = stringify(base);
  cases.push(
    { name: 'unclosed flow sequence', content: 'profiles: [\n', names: 'line 2' },
    { name: 'tab indentation', content: 'server:\n\tlisten: 127.0.0.1:9911\n', names: 'line 2' },
    { name: 'unterminated quote', content: `${valid}extra: "never closed\n`, names: 'not valid YAML' },
    { name: 'bad indentation', content: 'server:\n  listen: a\n tokenFile: b\n', names: 'line 3' },
    { name: 'undefined alias', content: `${valid}extra: *nope\n`, names: 'not valid YAML' },
    {
      name: 'alias bomb',
      content: `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 12 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ).join('\n')}\n`,
      names: 'not valid YAML',
    },
    { name: 'two documents', content: `${valid}---\n${valid}`, names: 'not valid YAML' },
    {
      name: 'duplicate top-level key',
      content: `${valid}server:\n  listen: 127.0.0.1:1\n`,
      names: 'not valid YAML',
    },
    { name: 'duplicate profile', content: valid.replace('  k8s:', '  default:'), names: 'not valid YAML' },
    {
      name: 'duplicate role key',
      content: valid.replace(
        '      arn: arn:aws:iam::123456789012:role/billing',
        '      arn: arn:aws:iam::123456789012:role/billing\n      arn: arn:aws:iam::123456789012:role/other',
      ),
      names: 'not valid YAML',
    },
    { name: 'mapping in a scalar', content: 'server: listen: 127.0.0.1:9911\n', names: 'not valid YAML' },
    {
      name: 'flow sequence 5000 deep',
      content: `profiles: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      names: 'not valid YAML',
    },
    {
      // yaml would warn on stderr quoting the line, secret and all
      name: 'unknown tag on an inline secret',
      content: valid.replace('file:/etc/credential-broker/secret', `!secret ${INLINE_SECRETS[0]}`),
      names: `${S}.clientAuth.clientSecret`,
    },
  );
  // not a config at all
  const random = seeded(7);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  cases.push(
    { name: 'empty file', content: '', names: 'profiles: required' },
    { name: 'only whitespace', content: '  \n\n\t\n', names: 'profiles: required' },
    { name: 'bare document marker', content: '---\n', names: 'profiles' },
    { name: 'null', content: 'null\n', names: 'profiles' },
    { name: 'a list', content: '- a\n- b\n', names: '(top level)' },
    { name: 'a number', content: '42\n', names: '(top level)' },
    { name: 'binary garbage', content: bytes(512), names: 'not a text file' },
    { name: 'NUL bytes', content: Buffer.alloc(64), names: 'not a text file' },
    { name: 'UTF-16 with BOM', content: Buffer.from(`\ufeff${valid}`, 'utf16le'), names: 'UTF-16' },
    {
      name: 'gzip header',
      content: Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), bytes(100)]),
      names: 'not a text file',
    },
    {
      name: 'ELF header',
      content: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), bytes(200)]),
      names: 'not a text file',
    },
    {
      name: 'deep junk under an unknown key',
      content: stringify({ ...base, junk: nested(300) }),
      names: 'junk',
    },
    {
      name: 'deep junk as the role',
      content: stringify(withSetting(base, `${P}.role`, nested(200))),
      names: `${P}.role`,
    },
    {
      name: 'deep junk as profiles',
      content: stringify({ ...base, profiles: nested(200) }),
      names: 'profiles',
    },
  );
  return cases;
}

interface Outcome {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

function assertRefused(c: Case, file: string, command: string, out: Outcome): void {
  const all = `${out.stdout}${out.stderr}`;
  const label = `${c.name} (${command}): ${JSON.stringify(all.slice(0, 400))}`;
  assert.equal(out.code, 78, label);
  assert.ok(out.stderr.startsWith('credential-broker: '), `one message on stderr: ${label}`);
  assert.ok(out.stderr.includes(`${file}:`), `names the config file: ${label}`);
  assert.ok(out.stderr.includes(c.names), `names "${c.names}": ${label}`);
  assert.doesNotMatch(all, /^\s+at /m, `no stack trace: ${label}`);
  assert.ok(!all.includes('node:internal'), `no stack trace: ${label}`);
  for (const secret of INLINE_SECRETS)
    assert.ok(!all.includes(secret), `an inline secret is echoed: ${label}`);
}

describe('malformed config files', () => {
  let cases: Case[];
  const files: string[] = [];

  before(async () => {
    cases = malformedConfigs(path.join(world.dir, 'token'));
    for (const [i, c] of cases.entries()) {
      const file = path.join(world.dir, `bad-${String(i).padStart(3, '0')}.yaml`);
      await writeFile(file, c.content, { mode: 0o644 });
      files.push(file);
    }
  });

  it('the generator makes 100 distinct files, every one refused by the loader', async () => {
    assert.equal(cases.length, 100);
    assert.equal(new Set(cases.map((c) => c.name)).size, 100, 'distinct names');
    assert.equal(new Set(cases.map((c) => String(c.content))).size, 100, 'distinct contents');
    // guard for the in-process runs below: a config that loads would start a real server there
    for (const [i, c] of cases.entries()) {
      await assert.rejects(loadConfigFile(files[i]!), { code: 'CONFIG_INVALID' }, `${c.name} must not load`);
    }
  });

  it('serve and check in-process: exit 78, file and setting named, no stack trace, no inline secret', async () => {
    for (const [i, c] of cases.entries()) {
      for (const command of ['serve', 'check']) {
        assertRefused(c, files[i]!, command, await cli(command, '--config', files[i]!));
      }
    }
  });

  // A hang guard, not a speed bound: several times what this takes on a loaded 2-core machine.
  it('serve and check as real processes (10 of the files): the same', { timeout: 300_000 }, async (t) => {
    t.diagnostic(`broker entry: ${brokerEntry().label}`);
    const sample = cases.map((c, i) => ({ c, file: files[i]! })).filter((_, i) => i % 10 === 3);
    assert.equal(sample.length, 10);
    // serve for half of them, check for the other half: both commands, 10 node starts
    const jobs = sample.map(({ c, file }, i) => ({ c, file, command: i % 2 === 0 ? 'serve' : 'check' }));
    const started = Date.now();
    // two at a time: the machine is shared, and a node start costs about a core-second
    const queue = [...jobs];
    await Promise.all(
      [0, 1].map(async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          const p = spawnBroker([job.command, '--config', job.file]);
          const code = await p.exited;
          assertRefused(job.c, job.file, `${job.command} process`, {
            code,
            stdout: [...p.rawStdout, ...p.logs.map((l) => JSON.stringify(l))].join('\n'),
            stderr: p.stderr,
          });
        }
      }),
    );
    t.diagnostic(`${jobs.length} processes in ${Date.now() - started} ms`);
  });
});
