// Request hardening on a real listening server (and app.inject where no socket is needed):
// header and URL size, slow clients, the concurrency bound, the source allow-list, the
// failed-token rate limit and the audit line for each credential response.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput, ImdsConfig } from '../../src/config/schema/index.ts';
import { perAddressLimit } from '../../src/server/base.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { buildOpsApp } from '../../src/server/ops-app.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

function server(extra: Record<string, unknown>): ConfigInput['server'] {
  return { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'token'), ...extra };
}

/** Sends raw bytes; resolves with what came back and how long until the server closed. */
function raw(port: number, data: string, opts: { end?: boolean } = {}) {
  return new Promise<{ text: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(data);
      if (opts.end) socket.end();
    });
    let text = '';
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
  });
}

describe('listener limits', () => {
  it('431 for headers beyond limits.maxHeaderBytes; 414 for a URL beyond maxUrlLength', async () => {
    const { app } = await world.broker(
      world.config(
        { default: world.oidcProfile({ lazy: true }) },
        { server: server({ limits: { maxHeaderBytes: 2048, maxUrlLength: 128 } }) },
      ),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const big = await raw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(3000)}\r\n\r\n`,
    );
    assert.match(big.text, /^HTTP\/1\.1 431 /);
    const small = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.match(small.text, /^HTTP\/1\.1 200 /, 'an ordinary request passes');
    const long = await app.inject({ url: `/v1/credentials/default?pad=${'a'.repeat(200)}` });
    assert.equal(long.statusCode, 414);
    assert.equal(long.json().code, 'URL_TOO_LONG');
  });

  it('a client that never finishes its headers is cut off after limits.headersTimeout', async () => {
    const { app } = await world.broker(
      world.config(
        { default: world.oidcProfile({ lazy: true }) },
        { server: server({ limits: { headersTimeout: '1s', requestTimeout: '2s' } }) },
      ),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const slow = await raw(port, 'GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    assert.ok(slow.ms >= 900 && slow.ms < 3000, `closed after ${slow.ms} ms`);
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
  });

  it('beyond limits.maxConcurrent requests in progress: 503 TOO_BUSY + Retry-After', async () => {
    const { app } = await world.broker(
      world.config(
        { default: world.oidcProfile({ lazy: true }) },
        { server: server({ limits: { maxConcurrent: 2 } }) },
      ),
    );
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: await world.token() };
    world.sts.faults.delayMs = 1500; // the lazy profile's first fetch holds the first two requests
    try {
      const first = [
        fetch(`${base}/v1/credentials`, { headers }),
        fetch(`${base}/v1/credentials`, { headers }),
      ];
      await new Promise((r) => setTimeout(r, 300));
      const third = await fetch(`${base}/v1/credentials`, { headers });
      assert.equal(third.status, 503);
      assert.equal(third.headers.get('retry-after'), '1');
      assert.equal(((await third.json()) as { code: string }).code, 'TOO_BUSY');
      const statuses = (await Promise.all(first)).map((r) => r.status);
      assert.deepEqual(statuses, [200, 200]);
      const after = await fetch(`${base}/v1/credentials`, { headers });
      assert.equal(after.status, 200, 'the slots are given back');
    } finally {
      world.sts.faults.delayMs = 0;
    }
  });
});

describe('idle connections', () => {
  it('beyond limits.maxConnections a new connection is closed at once, the open ones are served; idle ones close after keepAliveTimeout', async () => {
    const { broker, app } = await world.broker(
      world.config(
        { default: world.oidcProfile() },
        {
          server: server({
            limits: {
              maxConnections: 8,
              keepAliveTimeout: '1s',
              headersTimeout: '30s',
              requestTimeout: '30s',
            },
          }),
        },
      ),
    );
    await broker.start();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    const closed = (s: Socket) =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        s.on('close', () => resolve(Date.now() - started));
        s.on('error', () => undefined);
      });
    // seven idle sockets and one that will ask: the cap is full
    const idle = await Promise.all(Array.from({ length: 7 }, open));
    const asking = await open();
    await new Promise((r) => setTimeout(r, 200));
    const extra = await open();
    const extraClosed = closed(extra);
    const extraData: Buffer[] = [];
    extra.on('data', (d) => extraData.push(d));
    assert.ok((await extraClosed) < 5000, 'the connection beyond the cap is closed at once');
    assert.equal(Buffer.concat(extraData).length, 0, 'closed without an answer');
    // a legitimate request on an open connection is answered
    const answer = new Promise<string>((resolve) => {
      let text = '';
      asking.on('data', (d) => {
        text += d;
        if (text.includes('\r\n\r\n') && /"Expiration"/.test(text)) resolve(text);
      });
    });
    asking.write(
      `GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${await world.token()}\r\n\r\n`,
    );
    assert.match(await answer, /^HTTP\/1\.1 200 /);
    // kept alive after its answer, then closed once idle for keepAliveTimeout
    const idleFor = await closed(asking);
    assert.ok(idleFor >= 800 && idleFor < 5000, `closed ${idleFor} ms after its answer`);
    for (const s of idle) s.destroy();
  });

  it("limits.maxConnectionsPerAddress closes a remote address's connections beyond it, never loopback ones", () => {
    const limit = perAddressLimit(2);
    const socket = (remoteAddress: string) => {
      const s = Object.assign(new EventEmitter(), {
        remoteAddress,
        destroyed: false,
        destroy() {
          s.destroyed = true;
        },
      });
      limit(s as unknown as Socket);
      return s;
    };
    const remote = [socket('10.0.0.9'), socket('10.0.0.9'), socket('10.0.0.9')];
    assert.deepEqual(
      remote.map((s) => s.destroyed),
      [false, false, true],
    );
    assert.equal(socket('10.0.0.10').destroyed, false, 'another address has its own count');
    remote[0]!.emit('close');
    assert.equal(socket('10.0.0.9').destroyed, false, 'a closed connection frees its place');
    const local = Array.from({ length: 5 }, () => socket('127.0.0.1'));
    assert.ok(
      local.every((s) => !s.destroyed),
      'loopback is bounded by maxConnections only',
    );
    assert.equal(socket('::ffff:127.0.0.1').destroyed, false);
  });
});

describe('requests Node cannot parse', () => {
  it('at logging.level trace every listener answers them 400/431 and keeps serving (its logging does not throw)', async () => {
    const config = world.config(
      { default: world.oidcProfile({ lazy: true }) },
      { imds: { listen: '127.0.0.1:0', profile: 'default' } as ImdsConfig },
    );
    const { broker, app, logger, metrics } = await world.broker(config, { logLevel: 'trace' });
    const listeners = {
      credentials: app,
      imds: buildImdsApp({
        broker,
        imds: config.imds as ImdsConfig,
        limits: config.server.limits,
        logger,
        metrics,
      }),
      metrics: buildOpsApp({
        broker,
        listener: config.metrics,
        limits: config.server.limits,
        logger,
        metrics,
      }),
    };
    try {
      const token = await world.token();
      // fastify logs each with the parser's rawPacket, the raw request with its Authorization header
      const malformed = {
        'bad header name': `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${token}\r\nBad Header: x\r\n\r\n`,
        'obs-fold': 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n folded\r\n\r\n',
        'bad method': 'G@T /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        'oversized headers': `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
      };
      const logsBefore = world.logs.length;
      for (const [name, listener] of Object.entries(listeners)) {
        await listener.listen({ host: '127.0.0.1', port: 0 });
        const { port } = listener.server.address() as { port: number };
        for (const [what, bytes] of Object.entries(malformed)) {
          const { text } = await raw(port, bytes);
          assert.match(text, /^HTTP\/1\.1 (400|431) /, `${name}: ${what}`);
        }
        const ok = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
        assert.match(ok.text, /^HTTP\/1\.1 (200|404) /, `${name} still answers`);
      }
      const lines = world.logs.slice(logsBefore);
      const clientErrors = lines.map((l) => JSON.parse(l)).filter((l) => /^client /.test(l.msg));
      assert.equal(clientErrors.length, 12, 'each logged at trace');
      for (const l of clientErrors) assert.match(l.err.rawPacket, /^\[Buffer of \d+ bytes\]$/);
      assert.ok(!lines.some((l) => l.includes(token)), 'the raw request is not in the log');
    } finally {
      await Promise.all([listeners.imds.close(), listeners.metrics.close()]);
    }
  });
});

describe('who may ask', () => {
  it('server.allow: addresses outside the list get 403 ADDRESS_REFUSED before anything else', async () => {
    const { broker, app } = await world.broker(
      world.config({ default: world.oidcProfile() }, { server: server({ allow: ['10.0.0.0/8', '::1'] }) }),
    );
    await broker.start();
    const headers = { authorization: await world.token() };
    const refused = await app.inject({ url: '/v1/credentials', headers, remoteAddress: '127.0.0.1' });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'ADDRESS_REFUSED');
    assert.doesNotMatch(refused.body, /ASIA/);
    const health = await app.inject({ url: '/healthz', remoteAddress: '192.168.0.1' });
    assert.equal(health.statusCode, 403, 'the whole listener, health included');
    const ok = await app.inject({ url: '/v1/credentials', headers, remoteAddress: '10.20.30.40' });
    assert.equal(ok.statusCode, 200);
  });

  it('failed tokens: an SDK call with its retries is one mistake; beyond the budget 429, each attempt counted in a summary', async () => {
    const { broker, app } = await world.broker(
      world.config(
        { default: world.oidcProfile() },
        { server: server({ limits: { failedTokenMistakes: 1, failedTokenWindow: '10m' } }) },
      ),
    );
    await broker.start();
    const remoteAddress = '10.9.9.9';
    const logsBefore = world.logs.length;
    const attempt = (authorization: string, from = remoteAddress) =>
      app.inject({ url: '/v1/credentials', headers: { authorization }, remoteAddress: from });
    // the JS SDK's four tries of one call
    for (let i = 0; i < 4; i++) assert.equal((await attempt('wrong')).statusCode, 401);
    const limited = await attempt('wrong'); // a second mistake: over the budget of 1
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'TOO_MANY_FAILED_TOKENS');
    assert.ok(Number(limited.headers['retry-after']) > 500);
    assert.equal((await attempt('wrong', '10.9.9.10')).statusCode, 401, 'another source is not limited');
    const valid = await attempt(await world.token());
    assert.equal(valid.statusCode, 200, 'a valid token is still served: all local apps share 127.0.0.1');

    await app.close(); // ends the refusal window: its summary is written
    const lines = world.logs.slice(logsBefore).map((l) => JSON.parse(l));
    const refusals = lines.filter(
      (l) => l.msg === 'credential request refused' && l.remote === remoteAddress,
    );
    assert.equal(refusals.length, 1, 'the first failed attempt of the window in full');
    assert.equal(refusals[0].outcome, 'invalid');
    assert.equal(refusals[0].tokenFile, path.join(world.dir, 'token'));
    const summary = lines.filter((l) => l.outcome === 'REFUSALS_SUMMARISED' && l.remote === remoteAddress);
    assert.equal(summary.length, 1, 'the other four in one summary line');
    assert.equal(summary[0].count, 4);
    assert.deepEqual(summary[0].codes, { invalid: 3, RATE_LIMITED: 1 });
    assert.equal(
      lines.filter((l) => l.msg === 'credential request refused' && l.remote === '10.9.9.10').length,
      1,
      "another source's refusal is logged in full",
    );
    const served = lines.filter((l) => l.msg === 'credentials served');
    assert.equal(served.length, 1, 'one audit line for the served response');
    assert.equal(served[0].profile, 'default');
    assert.equal(served[0].remote, remoteAddress);
    assert.match(served[0].accessKeyId, /^ASIA/);
    const secret = valid.json().SecretAccessKey as string;
    assert.ok(
      !world.logs.some((l) => l.includes(secret) || l.includes('wrong')),
      'no secret or token in any log',
    );
  });
});

describe('refusal log (security review #17, finding 9)', () => {
  const refusalLines = <T extends { remote?: unknown; msg?: unknown }>(lines: T[], remote: string) =>
    lines.filter((l) => l.remote === remote && /refus/.test(String(l.msg)));

  it('a flood of 500 wrong tokens from one address: one full line and one summary with the exact count; metrics count each', async () => {
    const { broker, app, metrics } = await world.broker(world.config({ default: world.oidcProfile() }));
    await broker.start();
    const logsBefore = world.logs.length;
    const flooder = '10.66.0.1';
    const statuses = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const res = await app.inject({
        url: '/v1/credentials',
        headers: { authorization: `wrong-${i}` },
        remoteAddress: flooder,
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    // Host refusals count in the same window as the wrong tokens.
    for (let i = 0; i < 20; i++) {
      const res = await app.inject({
        url: '/healthz',
        headers: { host: 'evil.example' },
        remoteAddress: flooder,
      });
      assert.equal(res.statusCode, 403);
    }
    const other = await app.inject({ url: '/v1/credentials', remoteAddress: '10.66.0.2' });
    assert.equal(other.statusCode, 401);
    const during = world.logs.slice(logsBefore).map((l) => JSON.parse(l));
    assert.equal(refusalLines(during, flooder).length, 1, 'during the window: the first refusal only');
    const first = refusalLines(during, '10.66.0.2');
    assert.equal(first.length, 1, "another address's first refusal is logged in full");
    assert.equal(first[0].outcome, 'missing');
    assert.equal(first[0].tokenFile, path.join(world.dir, 'token'));

    const counted = await metrics.registry.getSingleMetricAsString('credential_broker_http_requests_total');
    const sum = (status: number) =>
      [...counted.matchAll(new RegExp(`status="${status}"\\} (\\d+)`, 'g'))].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    assert.equal(sum(401) + sum(429), 501, 'every refused request is counted in the metrics');
    assert.equal(
      sum(401) + sum(429) - 1,
      [...statuses.values()].reduce((a, b) => a + b, 0),
    );

    await app.close(); // the window ends: pending summaries are written
    const lines = world.logs.slice(logsBefore).map((l) => JSON.parse(l));
    const flood = refusalLines(lines, flooder);
    assert.equal(flood.length, 2, 'a bounded number of lines: the first refusal and one summary');
    const summary = flood[1];
    assert.equal(summary.outcome, 'REFUSALS_SUMMARISED');
    assert.equal(summary.count, 519, 'the exact number of further refusals');
    assert.equal(summary.windowSeconds, 60);
    assert.equal(
      Object.values(summary.codes as Record<string, number>).reduce((a, b) => a + b, 0),
      519,
      'codes add up to the count',
    );
    assert.equal((summary.codes as Record<string, number>).HOST_REFUSED, 20);
    assert.match(
      summary.msg,
      /^519 more refusals from 10\.66\.0\.1 in the last 60 s \(codes: .*HOST_REFUSED ×20/,
    );
    assert.equal(refusalLines(lines, '10.66.0.2').length, 1, 'nothing to summarise for the other address');
  });

  it('addresses beyond the tracked table share one "other addresses" entry: lines stay bounded under IPv6 rotation', async () => {
    const { MAX_REFUSAL_ADDRESSES, OTHER_ADDRESSES } = await import('../../src/server/refusal-log.ts');
    const { app } = await world.broker(world.config({ default: world.oidcProfile({ lazy: true }) }));
    const logsBefore = world.logs.length;
    const sources = MAX_REFUSAL_ADDRESSES + 300;
    for (let i = 0; i < sources; i++) {
      for (let n = 0; n < 2; n++) {
        const res = await app.inject({
          url: '/healthz',
          headers: { origin: 'https://evil.example' },
          remoteAddress: `2001:db8::${i.toString(16)}`,
        });
        assert.equal(res.statusCode, 403);
      }
    }
    await app.close();
    const lines = world.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l))
      .filter((l) => /refus/.test(String(l.msg)));
    const full = lines.filter((l) => l.outcome === 'BROWSER_REQUEST_REFUSED');
    assert.equal(full.length, MAX_REFUSAL_ADDRESSES + 1, 'one per tracked address, one for the rest');
    assert.equal(full.at(-1).summarisedAs, OTHER_ADDRESSES);
    const summaries = lines.filter((l) => l.outcome === 'REFUSALS_SUMMARISED');
    assert.equal(summaries.length, MAX_REFUSAL_ADDRESSES + 1);
    const rest = summaries.find((l) => l.remote === OTHER_ADDRESSES);
    assert.equal(rest?.count, 300 * 2 - 1, 'every refusal from untracked addresses is counted');
    assert.equal(
      summaries.reduce((n, l) => n + l.count, 0) + full.length,
      sources * 2,
      'lines + counts = refusals: none lost',
    );
  });
});
