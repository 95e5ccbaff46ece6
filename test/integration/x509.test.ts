// The x509 source end to end: certificates from a CA made at run time, CreateSession signed with
// SigV4-X509 and verified by the Roles Anywhere emulator (signature with the certificate's key,
// chain to the trust anchor, validity, profile), session credentials that the STS emulator's
// GetCallerIdentity accepts when the real AWS SDK uses them through the broker.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { describeError } from '../../src/errors.ts';
import { listenOnLoopback } from '../harness/listen.ts';
import { RolesAnywhereEmulator } from '../harness/roles-anywhere-emulator.ts';
import { consumeWithSdk } from '../harness/sdk-consume.ts';
import { reencodeKey, TestCa } from '../harness/test-ca.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const ROLE = `arn:aws:iam::${ACCOUNT}:role/x509-app`;
const DAY = 86_400_000;

let world: World;
let ra: RolesAnywhereEmulator;
let root: TestCa;
let issuing: TestCa;
let anchorArn: string;
let profileArn: string;

before(async () => {
  world = await startWorld();
  ra = await RolesAnywhereEmulator.start({ sts: world.sts });
  root = await TestCa.root('Broker Test Root CA', 'rsa');
  issuing = await root.intermediate('Broker Test Issuing CA', 'ec');
  anchorArn = ra.createTrustAnchor(root.certPem);
  profileArn = ra.createProfile({ roleArns: [ROLE], acceptRoleSessionName: true });
});
after(async () => {
  await ra.close();
  await world.close();
});

/** Writes cert (+ chain) and key files for a fresh certificate; returns the profile for them. */
async function x509Profile(
  name: string,
  opts: {
    kind?: 'rsa' | 'ec';
    ca?: TestCa;
    key?: string;
    passphrase?: string;
    source?: object;
    role?: object;
  } = {},
) {
  const leaf = await (opts.ca ?? issuing).issue(`${name}.hosts.example`, { kind: opts.kind });
  const cert = await world.file(`${name}.crt`, leaf.certPem, 0o644);
  const chain = await world.file(`${name}-chain.crt`, (opts.ca ?? issuing).certPem, 0o644);
  const key = await world.file(`${name}.key`, opts.key ?? leaf.keyPem);
  return {
    leaf,
    files: { cert, chain, key },
    profile: {
      source: {
        type: 'x509',
        certificateFile: cert,
        chainFile: chain,
        privateKey: `file:${key}`,
        trustAnchorArn: anchorArn,
        profileArn,
        endpoint: ra.url,
        ...opts.source,
      },
      role: { arn: ROLE, ...opts.role },
    },
  };
}

describe('x509 source → IAM Roles Anywhere CreateSession', () => {
  it('EC key: the AWS SDK gets credentials through the broker that GetCallerIdentity accepts', async () => {
    const { leaf, profile } = await x509Profile('ec-host');
    const { broker, app } = await world.broker(world.config({ 'ec-host': profile }));
    await broker.start();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const calls = world.sts.calls('GetCallerIdentity');

    const out = await consumeWithSdk(world, base, 'ec-host');

    assert.equal(out.stderr.trim(), '');
    // Roles Anywhere names the session after the certificate's serial number (hex).
    assert.equal(
      out.json?.arn,
      `arn:aws:sts::${ACCOUNT}:assumed-role/x509-app/${leaf.cert.serialNumber.toLowerCase()}`,
    );
    assert.equal(world.sts.calls('GetCallerIdentity'), calls + 1);
    assert.equal(ra.log.at(-1)?.status, 201);
  });

  it('RSA key in PKCS#1 form, with the intermediate bundled after the certificate (fullchain.pem)', async () => {
    const leaf = await issuing.issue('rsa-host', { kind: 'rsa' });
    const fullchain = await world.file('fullchain.pem', `${leaf.certPem}\n${issuing.certPem}`, 0o644);
    const key = await world.file('rsa-host.key', reencodeKey(leaf.keyPem, { legacy: true }));
    assert.match(
      await import('node:fs/promises').then((fs) => fs.readFile(key, 'utf8')),
      /BEGIN RSA PRIVATE KEY/,
    );
    const { broker } = await world.broker(
      world.config({
        app: {
          source: {
            type: 'x509',
            certificateFile: fullchain,
            privateKey: `file:${key}`,
            trustAnchorArn: anchorArn,
            profileArn,
            endpoint: ra.url,
          },
          role: { arn: ROLE },
        },
      }),
    );
    const creds = await broker.fetchOnce('app');
    const who = await broker.callerIdentity('app', creds);
    assert.match(who.arn, /assumed-role\/x509-app\//);
    assert.match(ra.log.at(-1)?.serial ?? '', /^\d+$/);
  });

  it('an encrypted PKCS#8 key with a passphrase file; clear errors without it or with a wrong one', async () => {
    const leaf = await issuing.issue('enc-host', { kind: 'ec' });
    const encrypted = reencodeKey(leaf.keyPem, { passphrase: 'correct horse' });
    assert.match(encrypted, /BEGIN ENCRYPTED PRIVATE KEY/);
    const { profile } = await x509Profile('enc-host', { key: encrypted });
    // The certificate x509Profile issued does not match `leaf`'s key: use leaf's certificate.
    profile.source.certificateFile = await world.file('enc-host.crt', leaf.certPem, 0o644);

    const missing = await world.failureOf(profile);
    assert.equal(missing.code, 'X509_KEY_INVALID');
    assert.match(describeError(missing), /profile "app".*encrypted.*source\.passphrase/);

    const wrong = await world.file('wrong-pass', 'battery staple\n');
    const bad = await world.failureOf({
      ...profile,
      source: { ...profile.source, passphrase: `file:${wrong}` },
    });
    assert.equal(bad.code, 'X509_KEY_INVALID');
    assert.match(bad.message, /cannot be decrypted: check source\.passphrase/);

    const right = await world.file('right-pass', 'correct horse\n');
    const { broker } = await world.broker(
      world.config({ app: { ...profile, source: { ...profile.source, passphrase: `file:${right}` } } }),
    );
    assert.match((await broker.fetchOnce('app')).accessKeyId, /^ASIA/);
  });

  it('a PKCS#12 bundle made by `openssl pkcs12 -export` (AES-256/PBKDF2); a legacy 3DES one is refused with the fix', async () => {
    const leaf = await issuing.issue('p12-host', { kind: 'rsa' });
    const pem = (name: string, text: string) => world.file(name, text, 0o600);
    const [cert, key, chain] = await Promise.all([
      pem('p12-host.crt', leaf.certPem),
      pem('p12-host.key', leaf.keyPem),
      pem('p12-chain.crt', issuing.certPem),
    ]);
    const bundle = `${world.dir}/host.p12`;
    const legacy = `${world.dir}/legacy.p12`;
    const openssl = (...args: string[]) => promisify(execFile)('openssl', args);
    const common = [
      'pkcs12',
      '-export',
      '-in',
      cert,
      '-inkey',
      key,
      '-certfile',
      chain,
      '-passout',
      'pass:p12 pass',
    ];
    await openssl(...common, '-out', bundle);
    await openssl(...common, '-out', legacy, '-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES');
    const pass = await world.file('p12-pass', 'p12 pass\n');
    const source = {
      type: 'x509',
      pkcs12File: bundle,
      passphrase: `file:${pass}`,
      trustAnchorArn: anchorArn,
      profileArn,
      endpoint: ra.url,
    };
    const { broker } = await world.broker(world.config({ app: { source, role: { arn: ROLE } } }));
    assert.match((await broker.fetchOnce('app')).accessKeyId, /^ASIA/);
    // The intermediate came from the bundle: without it the chain would not reach the anchor.
    assert.equal(ra.log.at(-1)?.serial, BigInt(`0x${leaf.cert.serialNumber}`).toString(10));

    const old = await world.failureOf({ source: { ...source, pkcs12File: legacy }, role: { arn: ROLE } });
    assert.equal(old.code, 'X509_CERT_INVALID');
    assert.match(old.message, /legacy algorithm .*openssl pkcs12 -export/);

    const wrong = await world.file('p12-wrong', 'nope');
    const bad = await world.failureOf({
      source: { ...source, passphrase: `file:${wrong}` },
      role: { arn: ROLE },
    });
    assert.equal(bad.code, 'X509_KEY_INVALID');
    assert.match(bad.message, /check source\.passphrase/);
  });

  it('a renewed certificate and key on disk are used by the next exchange, without a restart', async () => {
    const { leaf, files, profile } = await x509Profile('renew-host', {
      role: { sessionName: '{sub}' },
      source: { sendSessionName: true },
    });
    const { broker } = await world.broker(world.config({ app: profile }));
    const first = await broker.fetchOnce('app');
    assert.equal(ra.log.at(-1)?.serial, BigInt(`0x${leaf.cert.serialNumber}`).toString(10));
    assert.match(first.assumedRoleArn ?? '', /\/renew-host\.hosts\.example$/);

    // Renewal the way certbot/cert-manager do it: new files moved into place.
    const renewed = await issuing.issue('renewed-host.hosts.example', { kind: 'rsa' });
    await writeFile(`${files.cert}.new`, renewed.certPem);
    await writeFile(`${files.key}.new`, renewed.keyPem);
    await rename(`${files.cert}.new`, files.cert);
    await rename(`${files.key}.new`, files.key);

    const second = await broker.fetchOnce('app');
    assert.equal(ra.log.at(-1)?.serial, BigInt(`0x${renewed.cert.serialNumber}`).toString(10));
    assert.match(second.assumedRoleArn ?? '', /\/renewed-host\.hosts\.example$/);
    assert.notEqual(second.accessKeyId, first.accessKeyId);
  });

  it('a certificate from another CA is refused by Roles Anywhere: ROLES_ANYWHERE_DENIED naming the trust anchor', async () => {
    const otherRoot = await TestCa.root('Some Other CA', 'ec');
    const { profile } = await x509Profile('rogue-host', { ca: otherRoot });
    const err = await world.failureOf(profile);
    assert.equal(err.code, 'ROLES_ANYWHERE_DENIED');
    assert.match(err.message, /Untrusted certificate/);
    assert.match(err.message, /trust anchor holds the CA/);
    assert.equal(ra.log.at(-1)?.status, 403);
  });

  it('an endpoint that streams an endless answer is cut at 1 MiB: STS_UNREACHABLE, bounded memory', async () => {
    let streamed = 0;
    const endless = http.createServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (streamed < 64 * 1024 * 1024 && res.write(chunk)) streamed += chunk.length;
        if (streamed < 64 * 1024 * 1024) res.once('drain', pump);
        else res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await listenOnLoopback(endless);
    try {
      const rssBefore = process.memoryUsage().rss;
      const { profile } = await x509Profile('endless-host', {
        source: { endpoint: `http://127.0.0.1:${(endless.address() as AddressInfo).port}` },
      });
      const err = await world.failureOf(profile);
      assert.equal(err.code, 'STS_UNREACHABLE');
      assert.match(err.message, /larger than 1048576 bytes/);
      assert.ok(streamed < 16 * 1024 * 1024, `the broker hung up early (${streamed} bytes sent)`);
      assert.ok(process.memoryUsage().rss - rssBefore < 32 * 1024 * 1024, 'memory stayed bounded');
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });

  it('a certificate without its intermediate does not chain to the anchor', async () => {
    const { profile } = await x509Profile('no-chain');
    const { chainFile: _, ...source } = profile.source;
    const err = await world.failureOf({ ...profile, source });
    assert.equal(err.code, 'ROLES_ANYWHERE_DENIED');
  });

  it('an expired certificate on disk is refused before any request, with the date and the fix', async () => {
    const leaf = await issuing.issue('old-host', {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const { profile } = await x509Profile('old-host', { key: leaf.keyPem });
    profile.source.certificateFile = await world.file('old-host.crt', leaf.certPem, 0o644);
    const before = ra.log.length;
    const err = await world.failureOf(profile);
    assert.equal(err.code, 'X509_CERT_EXPIRED');
    assert.equal(err.retryable, true);
    assert.match(err.message, /expired at .*renew it/);
    assert.equal(ra.log.length, before);
  });

  it('a key that does not belong to the certificate: X509_KEY_MISMATCH', async () => {
    const stranger = await issuing.issue('stranger');
    const { profile } = await x509Profile('mismatch-host', { key: stranger.keyPem });
    const err = await world.failureOf(profile);
    assert.equal(err.code, 'X509_KEY_MISMATCH');
  });

  it('a role the Roles Anywhere profile does not list is denied', async () => {
    const { profile } = await x509Profile('other-role', {
      role: { arn: `arn:aws:iam::${ACCOUNT}:role/not-listed` },
    });
    const err = await world.failureOf(profile);
    assert.equal(err.code, 'ROLES_ANYWHERE_DENIED');
    assert.match(err.message, /not in the profile/);
  });

  it('a certificate near expiry: a warning log line and the seconds-to-expiry metric', async () => {
    const leaf = await issuing.issue('soon-host', { notAfter: new Date(Date.now() + 3 * DAY) });
    const { profile } = await x509Profile('soon-host', {
      key: leaf.keyPem,
      source: { certExpiryWarning: '14d' },
    });
    profile.source.certificateFile = await world.file('soon-host.crt', leaf.certPem, 0o644);
    const { broker, metrics } = await world.broker(world.config({ soon: profile }));
    const logsBefore = world.logs.length;
    await broker.fetchOnce('soon');

    const warning = world.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 'warn' && /client certificate expires/.test(String(l.msg)));
    assert.ok(warning, 'expected a certificate-expiry warning');
    assert.equal(warning.profile, 'soon');
    assert.equal(warning.daysLeft, 2);
    const text = await metrics.registry.getSingleMetricAsString(
      'credential_broker_certificate_expiry_seconds',
    );
    const seconds = Number(/profile="soon"\} (\d+)/.exec(text)?.[1]);
    assert.ok(Math.abs(seconds - 3 * 86_400) < 120, `expected ~3 days, got ${seconds} s`);
  });

  it('never logs the private key or the session secret', () => {
    const all = world.logs.join('\n');
    assert.doesNotMatch(all, /PRIVATE KEY/);
    assert.doesNotMatch(all, /secretAccessKey":"[^[]/);
  });
});
