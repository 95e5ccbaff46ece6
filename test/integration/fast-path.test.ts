// The cached-credentials fast path (src/server/fast-path.ts) over a real socket: it answers a warm
// GET without fastify, and every request it must not answer reaches fastify and gets exactly the
// answer app.inject() (fastify alone) gives.
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(base: string, url: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .request(`${base}${url}`, { method, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject)
      .end();
  });
}

/** One raw HTTP/1.1 request (for what http.request will not send); the status code. */
function raw(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (d) => {
      data += d;
      if (data.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(Number(data.split(' ')[1]));
      }
    });
    socket.on('error', reject);
  });
}

/** A listening broker app whose fastify counts the requests it sees (the fast path bypasses it). */
async function listening(profiles: Record<string, unknown>, server: Record<string, unknown> = {}) {
  const config = world.config(profiles, {
    server: { listen: '127.0.0.1:0', tokenFile: `${world.dir}/token`, ...server },
  } as never);
  const built = await world.broker(config);
  let seenByFastify = 0;
  // onResponse: it runs for every answer fastify sends, refusals by earlier hooks included.
  built.app.addHook('onResponse', (_req, _reply, done) => {
    seenByFastify += 1;
    done();
  });
  const base = await built.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...built, base, port: Number(new URL(base).port), seen: () => seenByFastify };
}

/**
 * `n` warm GETs answered 200, with fastify seeing at most one per second they took: the token
 * file is re-read at most once a second, and that request goes through fastify (client-tokens.ts).
 */
async function warmGets(base: string, token: string, n: number, seen: () => number): Promise<void> {
  const seenBefore = seen();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await get(base, '/v1/credentials', { authorization: token });
    assert.equal(res.status, 200, res.body);
  }
  const allowed = Math.ceil((performance.now() - started) / 1000);
  assert.ok(seen() - seenBefore <= allowed, `${seen() - seenBefore} of ${n} warm GETs reached fastify`);
}

describe('cached credentials fast path', () => {
  it('answers warm GETs without fastify: the same body and headers, counted and audited once per client', async () => {
    const { broker, app, base, metrics, seen } = await listening({
      default: world.oidcProfile(),
      other: world.oidcProfile(),
    });
    await broker.start();
    const token = await world.token();
    const logsBefore = world.logs.length;
    for (const url of ['/v1/credentials', '/v1/credentials/default', '/v1/credentials/other']) {
      const fast = await get(base, url, { authorization: token });
      const viaFastify = await app.inject({ url, headers: { authorization: token } });
      assert.equal(fast.status, 200, fast.body);
      assert.equal(fast.body, viaFastify.body, 'the same JSON as fastify sends');
      assert.equal(fast.headers['cache-control'], 'no-store');
      assert.equal(fast.headers['content-type'], viaFastify.headers['content-type']);
      assert.equal(Number(fast.headers['content-length']), Buffer.byteLength(fast.body));
      assert.match(JSON.parse(fast.body).AccessKeyId, /^ASIA/);
    }
    // The first request after a token file is (re-)read may go through fastify; these do not.
    const before = seen();
    for (let i = 0; i < 5; i++)
      assert.equal((await get(base, '/v1/credentials', { authorization: token })).status, 200);
    assert.equal(seen(), before, 'no warm GET over the socket reached fastify');

    const served = world.logs
      .slice(logsBefore)
      .map((l) => JSON.parse(l) as { msg: string; profile?: string; remote?: string })
      .filter((l) => l.msg === 'credentials served');
    // default over the socket and through inject (remote 127.0.0.1 both), other likewise: one line
    // per credential set and client address, whichever path served it.
    assert.deepEqual(served.map((l) => `${l.profile} ${l.remote}`).sort(), [
      'default 127.0.0.1',
      'other 127.0.0.1',
    ]);

    const scrape = await metrics.registry.getSingleMetricAsString('credential_broker_http_requests_total');
    // 6 over the socket + 1 inject on /v1/credentials; 2 + 2 on /:profile.
    assert.match(scrape, /route="\/v1\/credentials",status="200"\} 7$/m);
    assert.match(scrape, /route="\/v1\/credentials\/:profile",status="200"\} 4$/m);
  });

  it('leaves every other request to fastify, which answers it as app.inject() does', async () => {
    const { broker, app, base, port, seen } = await listening({ default: world.oidcProfile() });
    await broker.start();
    const token = await world.token();
    const cases: [string, Record<string, string>, number][] = [
      ['/v1/credentials', {}, 401],
      ['/v1/credentials', { authorization: 'wrong' }, 401],
      ['/v1/credentials/nosuch', { authorization: token }, 404],
      ['/v1/credentials/nosuch', { authorization: 'wrong' }, 401], // the token before the profile
      ['/v1/credentials', { authorization: token, host: 'evil.example' }, 403],
      ['/v1/credentials', { authorization: token, origin: 'https://evil.example' }, 403],
      ['/v1/credentials/bad%20name', { authorization: token }, 400],
      ['/v1/credentials?x=1', { authorization: token }, 200],
      ['/v1/credentials/', { authorization: token }, 400],
    ];
    let expectedSeen = 0;
    for (const [url, headers, status] of cases) {
      const res = await get(base, url, { host: `127.0.0.1:${port}`, ...headers });
      const viaFastify = await app.inject({ url, headers: { host: `127.0.0.1:${port}`, ...headers } });
      expectedSeen += 2; // the socket request and the inject both reach fastify
      assert.equal(res.status, status, `${url} ${JSON.stringify(headers)}: ${res.body}`);
      assert.equal(res.status, viaFastify.statusCode, url);
      assert.equal(res.body, viaFastify.body, url);
      assert.equal(seen(), expectedSeen, `${url} ${JSON.stringify(headers)} went through fastify`);
    }
    // HEAD is fastify's (exposeHeadRoutes).
    assert.equal((await get(base, '/v1/credentials', { authorization: token }, 'HEAD')).status, 200);
    // What http.request does not send: two Host headers, an absolute-form target.
    const twoHosts = `GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nAuthorization: ${token}\r\n\r\n`;
    assert.equal(await raw(port, twoHosts), 400);
    const absolute = `GET http://evil.example/v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${token}\r\n\r\n`;
    assert.equal(await raw(port, absolute), 400);
    assert.equal(seen(), expectedSeen + 3);
  });

  it('leaves credentials not yet held to fastify, which fetches them', async () => {
    const { base, seen } = await listening({ default: world.oidcProfile({ lazy: true }) });
    const token = await world.token();
    const first = await get(base, '/v1/credentials', { authorization: token });
    assert.equal(first.status, 200, first.body);
    assert.equal(seen(), 1, 'the first request fetched through fastify');
    await warmGets(base, token, 10, seen);
  });

  it('applies the listener allow-list before answering', async () => {
    const { broker, base, seen } = await listening(
      { default: world.oidcProfile() },
      { allow: ['10.0.0.0/8'] },
    );
    await broker.start();
    const res = await get(base, '/v1/credentials', { authorization: await world.token() });
    assert.equal(res.status, 403);
    assert.equal(JSON.parse(res.body).code, 'ADDRESS_REFUSED');
    assert.equal(seen(), 1);
  });

  it('a rotated token file: the old token is refused without a restart', async () => {
    const { broker, base } = await listening({ default: world.oidcProfile() });
    await broker.start();
    const old = await world.token();
    assert.equal((await get(base, '/v1/credentials', { authorization: old })).status, 200);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${world.dir}/token`, 'rotated-token-value-for-the-fast-path', { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 1100)); // token files are re-read at most once a second
    assert.equal((await get(base, '/v1/credentials', { authorization: old })).status, 401);
    const rotated = await get(base, '/v1/credentials', {
      authorization: 'rotated-token-value-for-the-fast-path',
    });
    assert.equal(rotated.status, 200);
  });
});
