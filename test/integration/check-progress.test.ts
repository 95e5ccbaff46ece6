// `check` on a terminal shows each step as it starts ("waiting for STS at URL (timeout 10 s)…") and
// completes it with ok/failed; in a pipe its output is the report alone, as before. A step that
// fails on the way to its endpoint (nothing listening, no answer in time, a certificate this host
// does not trust) names that endpoint and the setting to change. The terminal is a real
// pseudo-terminal (python3's pty module); the IdP is the real OpenID Provider, STS the emulator.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { cli } from '../harness/cli.ts';
import { brokerEntry } from '../harness/serve-process.ts';
import { TestCa } from '../harness/test-ca.ts';
import { startWorld, type World } from '../harness/world.ts';

const run = promisify(execFile);
let world: World;
const servers: net.Server[] = [];

before(async () => {
  world = await startWorld();
});
after(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  await world?.close();
});

async function configFile(name: string, sts: Record<string, unknown>): Promise<string> {
  return world.file(
    name,
    stringify({
      server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, `${name}.token`) },
      sts: { region: 'us-east-1', timeout: '10s', ...sts },
      profiles: { app: world.oidcProfile() },
    }),
    0o644,
  );
}

async function listening(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `credential-broker ARGS` with its stdin, stdout and stderr on a pseudo-terminal. */
async function onTerminal(...args: string[]): Promise<{ code: number; output: string }> {
  const argv = [process.execPath, ...brokerEntry().args, ...args];
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
  // pty.spawn returns the child's wait status; the script exits with its exit code.
  const script = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';
  try {
    const { stdout } = await run('python3', ['-c', script, ...argv], { env, timeout: 60_000 });
    return { code: 0, output: stdout.replace(/\r\n/g, '\n') };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; message: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: (e.stdout ?? '').replace(/\r\n/g, '\n') };
  }
}

describe('check progress on a terminal', () => {
  it('each step appears as it starts, naming where it goes, and is completed with ok', async () => {
    const file = await configFile('tty.yaml', { endpoint: world.sts.url });
    const { code, output } = await onTerminal('check', '--config', file);
    assert.equal(code, 0, output);
    const sts = new URL(world.sts.url).href;
    const lines = output.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const idp = at(
      new RegExp(`^  … asking the IdP at ${literal(world.op.issuer)} \\(timeout 10 s\\)… ok \\(\\d+ ms\\)$`),
    );
    const exchange = at(
      new RegExp(`^  … waiting for STS at ${literal(sts)} \\(timeout 10 s\\)… ok \\(\\d+ ms\\)$`),
    );
    const who = at(/^ {2}… asking STS at .* who the credentials are \(timeout 10 s\)… ok \(\d+ ms\)$/);
    assert.ok(idp >= 0 && exchange > idp && who > exchange, output);
    // Then the report, as in a pipe.
    assert.ok(at(/^ok {3}app {2}source=oidc/) > who, output);
    assert.match(output, /1 of 1 profiles ok/);
  });

  it('a failing step is completed with "failed" on the terminal', async () => {
    const port = await closedPort();
    const file = await configFile('tty-fail.yaml', { endpoint: `http://127.0.0.1:${port}` });
    const { code, output } = await onTerminal('check', '--config', file);
    assert.equal(code, 1, output);
    assert.match(
      output,
      /… waiting for STS at http:\/\/127\.0\.0\.1:\d+\/ \(timeout 10 s\)… failed \(\d+ ms\)/,
    );
  });
});

describe('check in a pipe', () => {
  it('prints the report alone: no progress lines, nothing on stderr', async () => {
    const file = await configFile('pipe.yaml', { endpoint: world.sts.url });
    const { stdout, stderr } = await run(
      process.execPath,
      [...brokerEntry().args, 'check', '--config', file],
      {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    assert.equal(stderr, '');
    assert.doesNotMatch(stdout, /…|waiting for STS/);
    assert.match(stdout, /^ok {3}app /);
    assert.match(stdout, /✓ STS exchange/);
  });
});

describe('check names the endpoint and the setting when the network fails', () => {
  it('nothing listening at sts.endpoint', async () => {
    const port = await closedPort();
    const out = await cli(
      'check',
      '--config',
      await configFile('refused.yaml', { endpoint: `http://127.0.0.1:${port}` }),
    );
    assert.equal(out.code, 1);
    assert.match(
      out.stdout,
      new RegExp(
        `✗ STS exchange .*STS_UNREACHABLE: .*ECONNREFUSED.*; http://127\\.0\\.0\\.1:${port}/ could not be reached: check sts\\.endpoint or sts\\.region`,
      ),
    );
  });

  it('an STS that accepts the connection and never answers: the timeout and sts.timeout', async () => {
    const held: net.Socket[] = [];
    const port = await listening(net.createServer((socket) => held.push(socket)));
    const out = await cli(
      'check',
      '--config',
      await configFile('silent.yaml', { endpoint: `http://127.0.0.1:${port}`, timeout: '1s' }),
    );
    for (const s of held) s.destroy();
    assert.equal(out.code, 1);
    assert.match(
      out.stdout,
      new RegExp(
        `✗ STS exchange .*STS_UNREACHABLE: .*; http://127\\.0\\.0\\.1:${port}/ did not answer in time: check sts\\.endpoint .* or raise sts\\.timeout`,
      ),
    );
  });

  it('an STS certificate from a CA this host does not trust: network.caFile', async () => {
    const ca = await TestCa.root('Untrusted check CA', 'ec');
    const leaf = await ca.issue('localhost', { san: { type: 'dns', value: 'localhost' } });
    const port = await listening(
      tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.destroy()),
    );
    const endpoint = `https://localhost:${port}`;
    const out = await cli('check', '--config', await configFile('untrusted.yaml', { endpoint }));
    assert.equal(out.code, 1);
    assert.match(
      out.stdout,
      new RegExp(
        `✗ STS exchange .*STS_UNREACHABLE: .*TLS certificate not accepted.*; the certificate of https://localhost:${port}/ is not trusted: name its CA in network\\.caFile`,
      ),
    );
  });

  it('an IdP that is not there: the issuer URL and source.issuer', async () => {
    const port = await closedPort();
    const issuer = `http://127.0.0.1:${port}/idp`;
    const file = await world.file(
      'idp-gone.yaml',
      stringify({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'idp-gone.token') },
        sts: { region: 'us-east-1', endpoint: world.sts.url },
        profiles: { app: world.oidcProfile({ source: { issuer } }) },
      }),
      0o644,
    );
    const out = await cli('check', '--config', file);
    assert.equal(out.code, 1);
    assert.match(
      out.stdout,
      new RegExp(
        `✗ identity source .*OIDC_UNREACHABLE: .*; ${issuer.replace(/[./]/g, '\\$&')} could not be reached: check source\\.issuer`,
      ),
    );
  });
});
