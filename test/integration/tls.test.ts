// The TLS listener: config validation (any non-loopback bind needs TLS), a test CA made with the
// openssl CLI at run time, the JS SDK over https trusting it through NODE_EXTRA_CA_CERTS,
// certificate rotation picked up without a restart, and the optional client-certificate rule.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { buildApp } from '../../src/server/app.ts';
import { loadTls } from '../../src/server/tls.ts';
import { consume } from '../harness/consumer.ts';
import { until } from '../harness/serve-process.ts';
import { ACCOUNT, startWorld, type World } from '../harness/world.ts';

const exec = promisify(execFile);
const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/main.ts');

let world: World;
let pki: string;
const apps: FastifyInstance[] = [];

/** A CA, and certificates it signs; files under the world's folder. */
async function openssl(...args: string[]) {
  await exec('openssl', args, { cwd: pki });
}
async function issue(name: string, san: string, key: 'ec' | 'rsa' = 'ec') {
  await openssl(
    'req',
    '-newkey',
    ...(key === 'ec' ? ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['rsa:2048']),
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  );
  await writeFile(path.join(pki, `${name}.ext`), `subjectAltName=${san}\n`);
  await openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  );
}

before(async () => {
  world = await startWorld();
  pki = world.dir;
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=credential-broker test CA',
    '-days',
    '1',
  );
  await issue('server', 'DNS:localhost,DNS:broker.test,IP:127.0.0.1');
  await issue('client', 'DNS:app.test');
});
after(async () => {
  for (const a of apps) await a.close();
  await world.close();
});

function tlsSettings(extra: Record<string, unknown> = {}) {
  return {
    certificate: path.join(pki, 'server.crt'),
    privateKey: `file:${path.join(pki, 'server.key')}`,
    ...extra,
  };
}

async function tlsBroker(tls: Record<string, unknown>) {
  const config = world.config(
    { default: world.oidcProfile() },
    { server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'token'), tls } as never },
  );
  const { broker, logger, metrics, tokens } = await world.broker(config);
  await broker.start();
  const material = await loadTls(config.server.tls as never);
  const app = buildApp({
    broker,
    server: config.server,
    tokens: () => tokens.current,
    logger,
    metrics,
    listenHost: '127.0.0.1',
    tls: material,
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { app, port, material, logger };
}

describe('config: where TLS is required', () => {
  const profiles = {
    default: {
      source: {
        type: 'oidc',
        issuer: 'https://idp.example.com',
        clientId: 'c',
        clientAuth: { method: 'client_secret_basic', clientSecret: 'env:S' },
      },
      role: { arn: 'arn:aws:iam::123456789012:role/x' },
    },
  };
  it('a non-loopback listen without server.tls is refused with the fix; with it, accepted', () => {
    const plain = ConfigSchema.safeParse({ server: { listen: '0.0.0.0:9911' }, profiles });
    assert.equal(plain.success, false);
    assert.match(String(plain.error?.issues[0]?.message), /add server\.tls \(certificate, privateKey\)/);
    assert.deepEqual(plain.error?.issues[0]?.path, ['server', 'listen']);
    const secured = ConfigSchema.safeParse({
      server: { listen: '0.0.0.0:9911', tls: tlsSettings() },
      profiles,
    });
    assert.equal(secured.success, true, JSON.stringify(secured.error?.issues));
    const inline = ConfigSchema.safeParse({
      server: { listen: '0.0.0.0:9911', tls: { certificate: 'c.pem', privateKey: '-----BEGIN' } },
      profiles,
    });
    assert.equal(inline.success, false, 'the key is a secret reference, never inline');
    const imds = ConfigSchema.safeParse({ imds: { listen: '10.0.0.1:80', profile: 'default' }, profiles });
    assert.match(
      String(imds.error?.issues[0]?.message),
      /IMDS has no client token, so it listens on loopback only/,
    );
    const cidr = ConfigSchema.safeParse({ server: { allow: ['10.0.0.0/33'] }, profiles });
    assert.match(String(cidr.error?.issues[0]?.message), /expected an IP address or CIDR/);
  });

  it('an unusable key fails at startup as a config error naming server.tls', async () => {
    await assert.rejects(
      loadTls(tlsSettings({ privateKey: `file:${path.join(pki, 'client.key')}` }) as never),
      {
        code: 'CONFIG_INVALID',
        message: /server\.tls: the certificate or private key is unusable/,
      },
    );
    // A key of another type than the certificate's (RSA for EC): createSecureContext() alone takes
    // it, and every handshake would fail.
    await otherTypeKey();
    await assert.rejects(
      loadTls(tlsSettings({ privateKey: `file:${path.join(pki, 'other-type.key')}` }) as never),
      { code: 'CONFIG_INVALID', message: /private key is not the key of the certificate/ },
    );
  });
});

describe('https listener', () => {
  it('the JS SDK reaches it over https when NODE_EXTRA_CA_CERTS trusts the CA, and not otherwise', async () => {
    const { port } = await tlsBroker(tlsSettings());
    const env = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `https://localhost:${port}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(world.dir, 'token'),
    };
    const trusted = await consume(world, 'from-http', {
      ...env,
      NODE_EXTRA_CA_CERTS: path.join(pki, 'ca.crt'),
    });
    assert.equal(trusted.stderr.trim(), '');
    assert.match(String(trusted.json?.arn), new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/app/`));
    const untrusted = await consume(world, 'from-http', env);
    assert.equal(untrusted.json, undefined);
  });

  it('accepts the certificate’s names as Host (a rebinding page cannot pass TLS for them)', async () => {
    const { app } = await tlsBroker(tlsSettings());
    const named = await app.inject({
      url: '/v1/credentials',
      headers: { host: 'broker.test:443', authorization: await world.token() },
    });
    assert.equal(named.statusCode, 200);
    const other = await app.inject({ url: '/v1/credentials', headers: { host: 'evil.test' } });
    assert.equal(other.statusCode, 403);
  });

  it('a renewed certificate is served without a restart', async () => {
    const { app, port, material, logger } = await rotating();
    const serial = () => servedSerial(port);
    const first = await serial();
    const reloaded = () => logged('TLS certificate reloaded');
    const before = reloaded();
    const stop = material.watch(app, logger, 100);
    await issue('rot', 'DNS:localhost,IP:127.0.0.1');
    await until('the renewed pair to be loaded', () => reloaded() > before, 10_000);
    const second = await serial();
    stop();
    assert.notEqual(second, first);
  });

  it('a renewal caught half-written (a key of another type, an empty certificate) is not swapped in; the complete one is', async () => {
    const { app, port, material, logger } = await rotating();
    const serial = () => servedSerial(port);
    const first = await serial();
    const failed = () => logged('TLS certificate reload failed');
    const reloaded = () => logged('TLS certificate reloaded');
    const [failedBefore, reloadedBefore] = [failed(), reloaded()];
    const stop = material.watch(app, logger, 50);
    try {
      // The moments of a renewal that writes the key first: a new key of another type (RSA) beside
      // the old (EC) certificate, then the certificate file truncated before it is written.
      // createSecureContext() throws on neither.
      await otherTypeKey();
      const moments: [string, string][] = [
        ['rot.key', await readFile(path.join(pki, 'other-type.key'), 'utf8')],
        ['rot.crt', ''],
      ];
      for (const [file, text] of moments) {
        const seen = failed();
        await writeFile(path.join(pki, file), text);
        await until(`the watcher to refuse ${file}`, () => failed() > seen, 10_000);
        assert.equal(await serial(), first, 'the previous pair is still served, handshakes succeed');
      }
      assert.equal(reloaded(), reloadedBefore, 'nothing was swapped in');
      await issue('rot', 'DNS:localhost,IP:127.0.0.1');
      await until('the complete renewal to be loaded', () => reloaded() > reloadedBefore, 10_000);
      assert.notEqual(await serial(), first, 'the renewed certificate is served');
      assert.ok(failed() > failedBefore);
    } finally {
      stop();
    }
  });

  it('with clientCa, a client without a certificate signed by it cannot connect', async () => {
    const { port } = await tlsBroker(tlsSettings({ clientCa: path.join(pki, 'ca.crt') }));
    const [ca, cert, key] = await Promise.all(
      ['ca.crt', 'client.crt', 'client.key'].map((f) => readFile(path.join(pki, f), 'utf8')),
    );
    const get = (withCert: boolean) =>
      httpsStatus(Number(port), { ca, token, ...(withCert ? { cert, key } : {}) });
    const token = await world.token();
    assert.equal(await get(true), 200);
    await assert.rejects(get(false));
  });
});

describe('TLS versions and cipher suites', () => {
  // An RSA certificate: only with one can a client ask for static-RSA key exchange at all.
  it('TLS 1.3, or 1.2 with ECDHE and an AEAD cipher; a client offering no forward secrecy is refused, also after a reload', async () => {
    await issue('rsa', 'DNS:localhost,IP:127.0.0.1', 'rsa');
    const { app, port, material, logger } = await tlsBroker(
      tlsSettings({
        certificate: path.join(pki, 'rsa.crt'),
        privateKey: `file:${path.join(pki, 'rsa.key')}`,
      }),
    );
    const ca = await readFile(path.join(pki, 'ca.crt'), 'utf8');
    const handshake = (opts: { maxVersion?: 'TLSv1.2'; ciphers?: string } = {}) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: [ca], ...opts }, () => {
          resolve(`${s.getProtocol()} ${s.getCipher().standardName}`);
          s.end();
        });
        s.on('error', reject);
      });
    const policyHolds = async (when: string) => {
      await assert.rejects(
        handshake({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }),
        `${when}: static RSA key exchange (no forward secrecy) is refused`,
      );
      await assert.rejects(
        handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256' }),
        `${when}: a CBC suite is refused`,
      );
      assert.equal(
        await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
        'TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
        when,
      );
      assert.match(await handshake(), /^TLSv1\.3 TLS_/, when);
    };
    await policyHolds('at start');
    const reloads = () => logged('TLS certificate reloaded');
    const before = reloads();
    const stop = material.watch(app, logger, 100);
    await issue('rsa', 'DNS:localhost,IP:127.0.0.1', 'rsa');
    const deadline = Date.now() + 10_000;
    while (reloads() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stop();
    assert.equal(reloads(), before + 1, 'the renewed pair was loaded');
    await policyHolds('after a reload');
  });
});

/** The serial number of the certificate the listener on `port` presents (trusting the test CA). */
/** How many log lines so far contain `text`. */
function logged(text: string): number {
  return world.logs.filter((l) => l.includes(text)).length;
}

async function servedSerial(port: number): Promise<string> {
  const ca = await readFile(path.join(pki, 'ca.crt'), 'utf8');
  return new Promise<string>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: [ca] }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

/** An RSA key in other-type.key: of another type than the test certificates' EC keys. */
async function otherTypeKey() {
  await openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other-type.key');
}

/** Copies the server certificate to rot.* so that the rotation test can replace it. */
async function rotating() {
  for (const ext of ['crt', 'key'])
    await writeFile(path.join(pki, `rot.${ext}`), await readFile(path.join(pki, `server.${ext}`)));
  return tlsBroker(
    tlsSettings({ certificate: path.join(pki, 'rot.crt'), privateKey: `file:${path.join(pki, 'rot.key')}` }),
  );
}

describe('serve with server.tls and imds', () => {
  it('listens on https and on the IMDS port from the config file, and drains both on SIGTERM', async () => {
    const file = await world.file(
      'serve-tls.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'serve.token'), tls: tlsSettings() },
        imds: { listen: '127.0.0.1:0', profile: 'default' },
        sts: { endpoint: world.sts.url },
        profiles: { default: world.oidcProfile() },
      }),
      0o644,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const listening = await new Promise<{ address: string; imdsAddress: string }>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (d) => {
        buffered += d;
        for (const line of buffered.split('\n').slice(0, -1)) {
          const entry = JSON.parse(line);
          if (entry.msg === 'credential broker listening') resolve(entry);
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    try {
      assert.match(listening.address, /^https:\/\/127\.0\.0\.1:\d+$/);
      const { port } = new URL(listening.address);
      const ca = await readFile(path.join(pki, 'ca.crt'), 'utf8');
      const token = await readFile(path.join(world.dir, 'serve.token'), 'utf8');
      const get = () => httpsStatus(Number(port), { ca, token });
      let status = await get();
      // the first fetch may still be running
      for (let i = 0; status === 503 && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await get();
      }
      assert.equal(status, 200);
      const imdsToken = await fetch(`${listening.imdsAddress}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
      });
      assert.equal(imdsToken.status, 200);
      const list = await fetch(`${listening.imdsAddress}/latest/meta-data/iam/security-credentials/`, {
        headers: { 'x-aws-ec2-metadata-token': await imdsToken.text() },
      });
      assert.equal(await list.text(), 'app');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.equal(stderr, '');
  });

  it('an imds.profile that does not exist exits 78 before anything listens', async () => {
    const file = await world.file(
      'serve-bad-imds.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'bad.token') },
        imds: { listen: '127.0.0.1:0', profile: 'nope' },
        sts: { endpoint: world.sts.url },
        profiles: { default: world.oidcProfile() },
      }),
      0o644,
    );
    const out = await exec(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--config', file]).catch(
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    assert.equal((out as { code?: number }).code, 78);
    assert.match(out.stderr, /imds\.profile: no profile "nope"/);
    assert.doesNotMatch(out.stdout, /credential broker listening/);
  });

  it('an unusable server.tls key exits 78 before any credentials are fetched', async () => {
    // serve starts its first fetches while it builds the listeners; a config error found while
    // loading the certificate comes before that: no secret is sent, no STS call made.
    const before = world.sts.calls();
    const file = await world.file(
      'serve-bad-tls.yaml',
      stringify({
        server: {
          listen: '127.0.0.1:0',
          tokenFile: path.join(world.dir, 'bad-tls.token'),
          tls: tlsSettings({ privateKey: `file:${path.join(pki, 'client.key')}` }),
        },
        sts: { endpoint: world.sts.url },
        profiles: { default: world.oidcProfile() },
      }),
      0o644,
    );
    const out = await exec(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--config', file]).catch(
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    assert.equal((out as { code?: number }).code, 78, out.stderr);
    assert.match(out.stderr, /server\.tls: the certificate or private key is unusable/);
    assert.doesNotMatch(out.stdout, /credentials refreshed|credential broker listening/);
    assert.equal(world.sts.calls(), before);
  });
});

/** The status of GET /v1/credentials over https to 127.0.0.1, checking the name `localhost`. */
function httpsStatus(
  port: number,
  opts: { ca: string | undefined; token: string; cert?: string | undefined; key?: string | undefined },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const { token, ...tls } = opts;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        path: '/v1/credentials',
        ...tls,
        headers: { authorization: token },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
