// Reliability: 10,000 generated requests over real sockets against the real serve process (the
// credentials, IMDS and metrics listeners), and 1,500 more against one logging at trace. Most go
// through keep-alive connections (undici Pool): fuzzed methods, paths, headers, near-miss tokens, bodies and encodings; the rest are raw bytes
// on a net.Socket, where no HTTP client would let them through: malformed request lines, bad
// versions, obs-fold, smuggling-style Content-Length/Transfer-Encoding pairs, oversized headers,
// bare LF, binary garbage. The properties: never a 5xx, never a stack trace, never a secret
// (served keys, client tokens, the OIDC client secret) in an answer the request had no right
// to, and none at all in the process's stdout/stderr; the process is alive at the end and
// serves a valid request. test/integration/fuzz.test.ts covers the routes in-process; this
// covers the Node HTTP parser, sockets and logging of the running daemon.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { type BrokerProcess, brokerEntry, serveProcess, waitReady } from '../harness/serve-process.ts';
import { CLIENT_SECRET, startWorld, type World } from '../harness/world.ts';

const CONCURRENCY = 16;
const RAW_TIMEOUT_MS = 2000;
const SEED = 20_261_125;

let world: World;
const processes: BrokerProcess[] = [];

before(async () => {
  world = await startWorld();
});
after(async () => {
  for (const p of processes) await p.stop();
  await world.close();
});

type Listener = 'credentials' | 'imds' | 'metrics';

/** What the generators need from the running broker; filled in once it is ready. */
interface Known {
  token: string;
  paymentsToken: string;
}

/** Strings over a small alphabet (fc.stringMatching is slow to generate). */
const chars = (alphabet: string, minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });

const PATHS = [
  '/v1/credentials',
  '/v1/credentials/default',
  '/v1/credentials/payments',
  '/v1/credentials/nope',
  '/latest/api/token',
  '/latest/meta-data/iam/security-credentials/',
  '/latest/meta-data/iam/security-credentials/app',
  '/latest/meta-data/iam/security-credentials-extended/app',
  '/healthz',
  '/readyz',
  '/metrics',
  '/',
  '',
];
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', '%2e%2e', '%00', '%', '%zz', '%c0%ae', 'default', '~', ';x=1', '%2F', '\\'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 6 }).map(encodeURIComponent),
  chars('ABCZabcxyz0189_.-', 1, 80),
);
const fuzzedPathArb = fc
  .tuple(
    fc.constantFrom(...PATHS),
    fc.array(segment, { maxLength: 4 }),
    fc.option(fc.string({ maxLength: 30 }).map(encodeURIComponent)),
    fc.nat({ max: 19 }),
  )
  .map(([prefix, segs, query, long]) => {
    let p = `${prefix}/${segs.join('/')}`.replace(/^\/?/, '/');
    if (query !== null) p += `?${query}`;
    if (long === 0) p += `?pad=${'a'.repeat(1100)}`; // beyond server.limits.maxUrlLength
    return p;
  });
/** Half the requests name one of the listener's routes exactly, so that the checks behind
 * routing (guard, tokens, IMDS sessions) are reached; the others are fuzzed. */
const pathArb = (listener: Listener) =>
  fc.oneof(
    fc.constantFrom(...PATHS.filter((p) => p && (listener === 'imds') === p.startsWith('/latest'))),
    fuzzedPathArb,
  );

/** Near misses of a real token: what a confused app or a guesser sends. */
const nearMiss = (token: string) =>
  fc.oneof(
    fc.constant(token),
    fc.nat({ max: token.length - 1 }).map((n) => token.slice(0, n)),
    // A trailing newline (a token file written with one) only goes raw (see rawArb): undici sends
    // a LF in a header value as is, which splits the request, and then waits forever on the pool.
    chars('x= ', 1, 2).map((s) => `${token}${s}`),
    fc.nat({ max: token.length - 1 }).map((i) => {
      const c = token[i]!;
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return token.slice(0, i) + (flipped === c ? '0' : flipped) + token.slice(i + 1);
    }),
    fc.constantFrom(`Bearer ${token}`, ` ${token}`, `${token}, ${token}`, token.replace(/[-_]/g, '+')),
  );

const headerValue = fc.string({ maxLength: 64 });

function requestArb(known: Known) {
  const tokenArb = fc.oneof(
    { weight: 3, arbitrary: nearMiss(known.token) },
    { weight: 1, arbitrary: nearMiss(known.paymentsToken) },
    { weight: 1, arbitrary: headerValue },
  );
  // Each header is left out most of the time: with all of them present nearly every request would
  // stop at the browser/rebinding guard, and the token check behind it would hardly be reached.
  /** `arb` in `percent` of the cases, absent otherwise. */
  const maybe = <T>(arb: fc.Arbitrary<T>, percent = 30) =>
    fc.oneof(
      { weight: 100 - percent, arbitrary: fc.constant(undefined) },
      { weight: percent, arbitrary: arb },
    );
  const headersArb = fc.record({
    authorization: maybe(tokenArb, 85),
    host: maybe(
      fc.constantFrom('127.0.0.1', 'localhost', '[::1]:1', 'evil.example', '127.0.0.1.nip.io', '0x7f.1'),
    ),
    origin: maybe(fc.constantFrom('null', 'http://127.0.0.1', 'https://evil.example'), 4),
    'sec-fetch-site': maybe(fc.constantFrom('same-origin', 'cross-site', 'none'), 4),
    'sec-fetch-dest': maybe(headerValue, 4),
    'x-aws-ec2-metadata-token': maybe(tokenArb, 50),
    'x-aws-ec2-metadata-token-ttl-seconds': maybe(
      fc.oneof(headerValue, fc.integer({ min: -5, max: 30_000 }).map(String)),
      50,
    ),
    'x-forwarded-for': maybe(headerValue),
    accept: maybe(fc.constantFrom('*/*', 'application/json', 'text/html', '', '\t')),
    'accept-encoding': maybe(fc.constantFrom('gzip', 'br, deflate', 'identity;q=0', '*', 'x')),
    'content-type': maybe(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-16',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'x/y',
      ),
      15,
    ),
    'content-encoding': maybe(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-garbage'), 15),
    'x-fuzz': maybe(headerValue),
  });
  const bodyArb = fc.option(
    fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.json({ maxDepth: 3 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.constant(Buffer.alloc(4096, 0x7b)), // beyond the 1 KiB body limit
    ),
    { nil: undefined },
  );
  const methodArb = fc.constantFrom(
    'GET',
    'GET',
    'GET',
    'PUT',
    'PUT',
    'POST',
    'DELETE',
    'HEAD',
    'OPTIONS',
    'PATCH',
    'PROPFIND',
    'QUERY',
  );
  return fc
    .constantFrom<Listener>('credentials', 'credentials', 'credentials', 'imds', 'imds', 'metrics')
    .chain((listener) =>
      fc.record({
        kind: fc.constant('http' as const),
        listener: fc.constant(listener),
        method: methodArb,
        path: pathArb(listener),
        headers: headersArb,
        body: bodyArb,
      }),
    );
}

/** Raw request bytes that no HTTP client would send. */
function rawArb(known: Known) {
  const eol = fc.constantFrom('\r\n', '\r\n', '\n', '\r');
  const line = fc.oneof(
    fc.constantFrom(
      'Host: 127.0.0.1',
      'Host: evil.example',
      'Host:',
      `Authorization: ${known.token}`,
      `Authorization: ${known.token.slice(0, 20)}`,
      `Authorization: ${known.token}\n`,
      `Authorization : ${known.token}`,
      `X-aws-ec2-metadata-token: ${known.token}`,
      'X-aws-ec2-metadata-token-ttl-seconds: 21600',
      'Content-Length: 5',
      'Content-Length: -1',
      'Content-Length: 5, 6',
      'Content-Length: 99999999999999999999',
      'Transfer-Encoding: chunked',
      'Transfer-Encoding: chunked, identity',
      'Transfer-Encoding: xchunked',
      'Connection: keep-alive',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Upgrade: h2c',
      'Expect: 100-continue',
      ' folded continuation',
      '\tfolded with tab',
      'NoColonHere',
      ': empty-name',
      'Bad Header: space in name',
      'X-Nul: a\0b',
      `X-Big: ${'b'.repeat(9000)}`,
      'X-Latin: caf\xe9',
    ),
    chars('abcxyz:-_ \t', 0, 40),
  );
  const requestLine = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('GET', 'PUT', 'POST', 'get', 'G ET', 'GET\t', '', 'CONNECT', 'PRI', '\x00GET', 'ĜET'),
        fc.oneof(
          fc.constantFrom(...PATHS),
          fc.constantFrom(
            'http://127.0.0.1/v1/credentials',
            'http://evil.example/v1/credentials/default',
            '127.0.0.1:80',
            '*',
            '/v1/credentials/default#frag',
            '/v1/cred entials',
            '/v1/crédentials',
            '/\x00',
            `/v1/credentials/${'x'.repeat(2000)}`,
          ),
        ),
        fc.constantFrom(
          ' HTTP/1.1',
          ' HTTP/1.0',
          ' HTTP/0.9',
          ' HTTP/2.0',
          ' HTTP/1.2',
          ' HTTP/9',
          ' HTTP/1.1 x',
          '',
        ),
      )
      .map(([m, target, version]) => `${m} ${target}${version}`),
    fc.constantFrom('PRI * HTTP/2.0', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 'SSH-2.0-OpenSSH_9.6'),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );
  const bodyArb = fc.oneof(
    fc.constant(''),
    fc.constantFrom(
      'hello',
      '5\r\nhello\r\n0\r\n\r\n',
      'zz\r\nhello\r\n0\r\n\r\n',
      '0\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n',
    ),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );
  return fc.record({
    kind: fc.constant('raw' as const),
    listener: fc.constantFrom<Listener>('credentials', 'credentials', 'imds', 'metrics'),
    requestLine,
    lines: fc.array(line, { maxLength: 6 }),
    eol,
    body: bodyArb,
    pipelined: fc.boolean(),
  });
}

type HttpCase = ReturnType<ReturnType<typeof requestArb>['generate']>['value'];
type RawCase = ReturnType<ReturnType<typeof rawArb>['generate']>['value'];

function rawBytes(c: RawCase): Buffer {
  const head = [c.requestLine, ...c.lines].join(c.eol);
  let text = `${head}${c.eol}${c.eol}${c.body}`;
  if (c.pipelined) text += 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  return Buffer.from(text, 'latin1');
}

/** Sends raw bytes, half-closes, and collects whatever comes back until the server closes (or a timeout). */
function sendRaw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, RAW_TIMEOUT_MS);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

interface FuzzRun {
  /** logging.level of the serve process. */
  level: 'info' | 'trace';
  total: number;
  /** Share of raw-byte requests (the ones Node's parser refuses, which fastify logs at trace). */
  rawShare: number;
}

/** `total` generated requests against a fresh serve process; asserts the properties above. */
async function fuzzServe(t: TestContext, run: FuzzRun): Promise<void> {
  t.diagnostic(`broker entry: ${brokerEntry().label}`);
  const output: string[] = [];
  const paymentsTokenFile = path.join(world.dir, 'payments.token');
  const file = await world.file(
    `fuzz-${run.level}.yaml`,
    stringify({
      server: { listen: '127.0.0.1:0', tokenFile: path.join(world.dir, 'token') },
      sts: { endpoint: world.sts.url, timeout: '10s' },
      imds: { listen: '127.0.0.1:0', profile: 'default' },
      metrics: { listen: '127.0.0.1:0' },
      logging: { level: run.level },
      profiles: {
        default: world.oidcProfile(),
        payments: world.oidcProfile({ tokenFile: paymentsTokenFile }),
      },
    }),
    0o644,
  );
  const served = serveProcess(file, { output });
  processes.push(served);
  const listening = await served.waitFor((e) => e.msg === 'credential broker listening', 'listening', 30_000);
  const bases: Record<Listener, string> = {
    credentials: String(listening.address),
    imds: String(listening.imdsAddress),
    metrics: String(listening.metricsAddress),
  };
  for (const b of Object.values(bases)) assert.match(b, /^http:\/\/127\.0\.0\.1:\d+$/);
  await waitReady(bases.credentials);
  const known: Known = {
    token: await readFile(path.join(world.dir, 'token'), 'utf8'),
    paymentsToken: await readFile(paymentsTokenFile, 'utf8'),
  };
  const creds = async (profile: string, token: string) => {
    const res = await fetch(`${bases.credentials}/v1/credentials/${profile}`, {
      headers: { authorization: token },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Record<string, string>;
  };
  const before = {
    default: await creds('default', known.token),
    payments: await creds('payments', known.paymentsToken),
  };
  /** A served secret may only be in a 200 answer to a request that carried this token. */
  const servedSecrets = new Map<string, string>();
  for (const [profile, c] of Object.entries(before)) {
    for (const s of [c.SecretAccessKey!, c.Token!])
      servedSecrets.set(s, profile === 'payments' ? known.paymentsToken : known.token);
  }
  const clientTokens = [known.token, known.paymentsToken];

  const rawCount = Math.round(run.total * run.rawShare);
  // the raw cases interleaved among the others, in a stable order
  const cases: (HttpCase | RawCase)[] = [
    ...fc.sample(requestArb(known), { numRuns: run.total - rawCount, seed: SEED }),
    ...fc.sample(rawArb(known), { numRuns: rawCount, seed: SEED + 1 }),
  ]
    .map((c) => ({ c, h: hash(c) }))
    .sort((a, b) => a.h - b.h)
    .map(({ c }) => c);
  assert.equal(cases.length, run.total);

  const pools = Object.fromEntries(
    Object.entries(bases).map(([name, base]) => [
      name,
      new Pool(base, { connections: CONCURRENCY, keepAliveTimeout: 10_000, headersTimeout: 10_000 }),
    ]),
  ) as Record<Listener, Pool>;
  const ports = Object.fromEntries(
    Object.entries(bases).map(([name, base]) => [name, Number(new URL(base).port)]),
  ) as Record<Listener, number>;

  const problems: string[] = [];
  const statuses = new Map<string, number>();
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  /** A header line carrying exactly this token (raw requests spell the name as they like). */
  const carries = (sent: string, token: string) =>
    new RegExp(`(^|\\n)authorization:[ \\t]*${token}[ \\t]*(\\r|\\n|$)`, 'i').test(sent);
  /** `codes`: every status in the answer (several when requests were pipelined; none when cut). */
  const check = (listener: Listener, what: string, sent: string, codes: number[], body: string) => {
    if (codes.length === 0) count(`${listener} no answer`);
    for (const code of codes) {
      count(`${listener} ${code}`);
      if (code >= 500) problems.push(`${what} → ${code} ${body.slice(0, 200)}`);
    }
    if (/\n\s+at \S+ \(|node:internal/.test(body)) problems.push(`${what}: a stack trace in the answer`);
    if (body.includes(CLIENT_SECRET)) problems.push(`${what}: the OIDC client secret in the answer`);
    for (const tk of clientTokens) {
      if (body.includes(tk) && !sent.includes(tk)) problems.push(`${what}: a client token it did not send`);
    }
    for (const [secret, grantedBy] of servedSecrets) {
      if (body.includes(secret) && !(codes.includes(200) && carries(sent, grantedBy))) {
        problems.push(`${what} → ${codes.join(',')}: served credentials without their token`);
      }
    }
  };

  const runOne = async (c: HttpCase | RawCase) => {
    if (c.kind === 'raw') {
      const bytes = rawBytes(c);
      const answer = await sendRaw(ports[c.listener], bytes);
      const what = `raw ${c.listener} ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}`;
      const codes = [...answer.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      check(c.listener, what, bytes.toString('latin1'), codes, answer);
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(c.headers).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    const sent = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join('');
    const what = `${c.method} ${c.listener} ${c.path.slice(0, 100)} ${JSON.stringify(headers).slice(0, 300)}`;
    try {
      const res = await pools[c.listener].request({
        method: c.method,
        path: c.path,
        headers,
        body: c.method === 'GET' || c.method === 'HEAD' ? undefined : c.body,
      });
      check(c.listener, what, sent, [res.statusCode], await res.body.text());
    } catch (err) {
      // the server closed the connection on a request it refused at the parser: no status
      check(c.listener, what, sent, [], String((err as Error).message));
    }
  };

  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) await runOne(cases[next++]!);
    }),
  );
  const took = Date.now() - started;
  await Promise.all(Object.values(pools).map((p) => p.close()));
  t.diagnostic(
    `${run.total} requests (${rawCount} raw) in ${took} ms; statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
  );

  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`);
  assert.equal(served.child.exitCode, null, 'the process is alive');
  const afterwards = await creds('default', known.token);
  assert.equal(afterwards.AccessKeyId, before.default.AccessKeyId, 'still serving the same credentials');
  assert.equal((await fetch(`${bases.metrics}/healthz`)).status, 200);
  const tokenRes = await fetch(`${bases.imds}/latest/api/token`, {
    method: 'PUT',
    headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
  });
  assert.equal(tokenRes.status, 200, 'IMDS still issues session tokens');

  served.child.kill('SIGTERM');
  assert.equal(await served.exited, 0);
  assert.equal(served.stderr, '', 'nothing on stderr');
  assert.deepEqual(served.rawStdout, [], 'stdout is JSON log lines only');
  const log = output.join('\n');
  if (run.level === 'trace') {
    assert.ok(served.logs.length > 100, `the fuzz was logged (${served.logs.length} lines)`);
  } else {
    // At info a flood from one address is one full refusal line and a summary with its count
    // (src/server/refusal-log.ts), written at the latest at shutdown: told, not dropped.
    const summarised = served.logs
      .filter((l) => l.outcome === 'REFUSALS_SUMMARISED')
      .reduce((sum, l) => sum + Number(l.count), 0);
    assert.ok(summarised > 1000, `the refusals were summarised with their count (${summarised})`);
  }
  for (const secret of [CLIENT_SECRET, ...servedSecrets.keys()]) {
    assert.ok(!log.includes(secret), `a secret (${secret.slice(0, 4)}…) in the process output`);
  }
  // near misses are mostly prefixes of the real tokens: no 16-character piece of one is logged
  for (const tk of clientTokens) {
    for (let i = 0; i + 16 <= tk.length; i++) {
      assert.ok(!log.includes(tk.slice(i, i + 16)), `part of a client token (${tk.slice(0, 4)}…) in the log`);
    }
  }
  assert.doesNotMatch(log, /\n\s+at \S+ \(|node:internal/, 'no stack trace in the log');
}

describe('fuzz: generated requests over real sockets to the serve process', () => {
  // A hang guard, not a speed bound: several times what this takes on a loaded 2-core machine.
  it(
    '10,000 at logging.level info: no 5xx, no stack trace, no secret in answers or logs; alive and serving at the end',
    {
      timeout: 300_000,
    },
    (t) => fuzzServe(t, { level: 'info', total: 10_000, rawShare: 0.15 }),
  );
  // At trace fastify logs every request the parser refuses with the raw packet; that logging once
  // ended the process (a Buffer broke the redaction). Fewer requests: trace writes more per request.
  it(
    '1,500 at logging.level trace, a third of them raw: the same properties',
    {
      timeout: 300_000,
    },
    (t) => fuzzServe(t, { level: 'trace', total: 1500, rawShare: 0.35 }),
  );
});

/** A stable order that mixes raw and HTTP cases. */
function hash(value: unknown): number {
  const text = JSON.stringify(value);
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}
