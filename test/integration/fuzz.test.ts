// Property: whatever method, path and headers a client sends to either listener (credentials or
// IMDS), the answer is never a 5xx, never carries a secret (the served keys, the client token) and
// never a stack trace. Near-miss tokens (prefixes, suffixes) are part of the input.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { ImdsConfig } from '../../src/config/schema/index.ts';
import { buildImdsApp } from '../../src/server/imds-app.ts';
import { startWorld, type World } from '../harness/world.ts';

let world: World;
let token: string;

interface Target {
  app: FastifyInstance;
  imdsApp: FastifyInstance;
  /** What no answer may carry: the served keys and the client token. */
  secrets: string[];
}
const targets: Partial<Record<'debug' | 'trace', Target>> = {};

/** A broker logging at `level` with its credentials and IMDS apps, credentials fetched. */
async function target(level: 'debug' | 'trace'): Promise<Target> {
  const config = world.config(
    {
      default: world.oidcProfile(),
      payments: world.oidcProfile({ tokenFile: path.join(world.dir, 'payments.token') }),
    },
    { imds: { listen: '127.0.0.1:0', profile: 'default' } as ImdsConfig },
  );
  const built = await world.broker(config, { logLevel: level });
  await built.broker.start();
  const imdsApp = buildImdsApp({
    broker: built.broker,
    imds: config.imds as ImdsConfig,
    limits: config.server.limits,
    logger: built.logger,
    metrics: built.metrics,
  });
  token = await world.token();
  const served = (
    await built.app.inject({ url: '/v1/credentials', headers: { authorization: token } })
  ).json();
  const secrets = [served.SecretAccessKey, served.Token, token];
  assert.ok(secrets.every((s) => typeof s === 'string' && s.length > 20));
  return { app: built.app, imdsApp, secrets };
}

before(async () => {
  world = await startWorld();
  targets.debug = await target('debug');
  targets.trace = await target('trace');
});
after(async () => {
  for (const t of Object.values(targets)) await t.imdsApp.close();
  await world.close();
});

/** Strings over a small alphabet (fc.stringMatching is slow to generate). */
const chars = (alphabet: string, minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'] as const;
const PREFIXES = [
  '/v1/credentials',
  '/v1/credentials/default',
  '/v1/credentials/payments',
  '/latest/api/token',
  '/latest/meta-data/iam/security-credentials',
  '/latest/meta-data/iam/security-credentials-extended/app',
  '/healthz',
  '/readyz',
  '/metrics',
  '',
];
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', '%2e%2e', '%00', '%', '%zz', 'default', 'app', '~', ';', '?', '#', '%2F'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  chars('ABCZabcxyz0189_.-', 1, 80),
);
const urlArb = fc
  .tuple(
    fc.constantFrom(...PREFIXES),
    fc.array(segment, { maxLength: 4 }),
    fc.option(fc.string({ maxLength: 20 })),
  )
  .map(([prefix, segs, query]) => {
    const p = `${prefix}/${segs.join('/')}`.replace(/^\/?/, '/');
    return query === null ? p : `${p}?${encodeURIComponent(query)}`;
  });
// fc.string's default unit is printable ASCII: what a header value may hold.
const headerValue = fc.string({ maxLength: 64 });
const tokenArb = fc.oneof(
  headerValue,
  fc.nat({ max: 42 }).map((n) => (): string => token.slice(0, n)),
  headerValue.map((s) => (): string => `${token}${s || 'x'}`),
);
const headersArb = fc
  .record(
    {
      authorization: tokenArb,
      host: fc.constantFrom('127.0.0.1', 'localhost:9911', '[::1]:1', 'evil.example', '', '127.0.0.1.nip.io'),
      origin: headerValue,
      'sec-fetch-site': headerValue,
      'sec-fetch-mode': headerValue,
      'x-aws-ec2-metadata-token': tokenArb,
      'x-aws-ec2-metadata-token-ttl-seconds': fc.oneof(
        headerValue,
        fc.integer({ min: -5, max: 30_000 }).map(String),
      ),
      'x-forwarded-for': headerValue,
      accept: headerValue,
      'content-type': fc.constantFrom(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'x/y',
      ),
    },
    { requiredKeys: [] },
  )
  .chain((known) =>
    fc
      .dictionary(
        chars('abcdefxyz0189-', 1, 20).map((n) => `x-${n}`),
        headerValue,
        { maxKeys: 3 },
      )
      .map((extra) => ({ ...extra, ...known })),
  );
const requestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  url: urlArb,
  headers: headersArb,
  payload: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
});

async function property(level: 'debug' | 'trace', listener: 'app' | 'imdsApp', runs: number): Promise<void> {
  const { [listener]: app, secrets } = targets[level] as Target;
  let count = 0;
  await fc.assert(
    fc.asyncProperty(requestArb, async ({ method, url, headers, payload }) => {
      const resolved = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, typeof v === 'function' ? v() : v]),
      ) as Record<string, string>;
      const res = await app.inject({ method, url, headers: resolved, payload });
      count += 1;
      assert.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode} ${res.body}`);
      for (const s of secrets) assert.ok(!res.body.includes(s), `${method} ${url}: a secret in the body`);
      assert.doesNotMatch(res.body, /\n\s+at \S+ \(/, 'no stack trace');
    }),
    { numRuns: runs },
  );
  assert.equal(count, runs);
}

describe('fuzz: any request to any listener', () => {
  it('credentials listener: no 5xx, no secret, no stack trace', async () => {
    await property('debug', 'app', 600);
  });
  it('IMDS listener: no 5xx, no secret, no stack trace', async () => {
    await property('debug', 'imdsApp', 600);
  });
  // Logging at trace writes what the lower levels skip: the properties hold there too.
  it('both listeners at logging.level trace: the same properties', async () => {
    await property('trace', 'app', 200);
    await property('trace', 'imdsApp', 200);
  });
});
