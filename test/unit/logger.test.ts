// The logger is the last line of defence for secrets: every secret-bearing field name is redacted
// wherever the broker may log it (top level, nested objects, headers, error properties), in both
// formats; LOG_LEVEL / LOG_FORMAT override the config and are validated.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { auditLogger, createLogger, type LogFormat, loggingFromEnv } from '../../src/telemetry/logger.ts';
import { prettyLine } from '../../src/telemetry/pretty.ts';

const SECRET = 'S3CR3T-VALUE-must-not-appear';

function capture(format: LogFormat = 'json') {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'trace',
    format,
    destination: { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) },
  });
  return { logger, lines };
}

describe('logger redaction', () => {
  it('redacts every secret field at the top level and one to three levels down', () => {
    const { logger, lines } = capture();
    const fields = [
      'authorization',
      'Authorization',
      'token',
      'Token',
      'sessionToken',
      'SessionToken',
      'secretAccessKey',
      'SecretAccessKey',
      'clientSecret',
      'client_secret',
      'client_assertion',
      'password',
      'passphrase',
      'privateKey',
      'assertion',
      'SAMLResponse',
      'access_token',
      'id_token',
      'refresh_token',
      'WebIdentityToken',
      'keytab',
    ];
    for (const field of fields) {
      logger.info({ [field]: SECRET }, 'top');
      logger.info({ a: { [field]: SECRET } }, 'one');
      logger.info({ a: { b: { [field]: SECRET } } }, 'two');
      logger.info({ a: { b: { c: { [field]: SECRET } } } }, 'three');
    }
    assert.equal(lines.length, fields.length * 4);
    for (const line of lines) assert.ok(!line.includes(SECRET), line);
    assert.ok(lines.every((l) => l.includes('[REDACTED]')));
  });

  it('redacts headers with dashes (cookie, x-amz-security-token) and request headers', () => {
    const { logger, lines } = capture();
    logger.info({
      req: { headers: { authorization: SECRET, cookie: SECRET, 'x-amz-security-token': SECRET } },
    });
    logger.info({ response: { headers: { 'set-cookie': SECRET, 'x-aws-ec2-metadata-token': SECRET } } });
    assert.ok(!lines.join('\n').includes(SECRET), lines.join('\n'));
    assert.match(lines[0]!, /"x-amz-security-token":"\[REDACTED\]"/);
  });

  it('an error’s own secret properties are redacted; a cause’s properties are not written at all', () => {
    const { logger, lines } = capture();
    const cause = Object.assign(new Error('the IdP said no'), {
      password: SECRET,
      body: { client_secret: SECRET },
    });
    const err = Object.assign(new Error('token request failed', { cause }), {
      token: SECRET,
      request: { headers: { Authorization: `Bearer ${SECRET}` } },
    });
    logger.error({ err }, 'failed');
    const entry = JSON.parse(lines[0]!);
    assert.ok(!lines[0]!.includes(SECRET), lines[0]);
    assert.equal(entry.err.token, '[REDACTED]');
    assert.match(entry.err.message, /token request failed: the IdP said no/, 'cause messages stay readable');
  });

  it('other fields stay readable (profile, role, tokenFile path, outcome)', () => {
    const { logger, lines } = capture();
    logger.info(
      { profile: 'p', role: 'arn:aws:iam::1:role/r', tokenFile: '/run/t', outcome: 'success' },
      'ok',
    );
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.tokenFile, '/run/t');
    assert.equal(entry.role, 'arn:aws:iam::1:role/r');
    assert.equal(entry.level, 'info');
    assert.equal(entry.service, 'credential-broker');
  });
});

describe('logging never throws', () => {
  const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

  it("an error carrying a Buffer (Node's rawPacket) is logged at every level with its size, never its bytes", () => {
    const { logger, lines } = capture();
    const rawPacket = Buffer.from(`GET / HTTP/1.1\r\nAuthorization: ${SECRET}\r\nBad Header: x\r\n\r\n`);
    // what Node's HTTP parser hands fastify's clientError handler, which logs it at trace
    const err = Object.assign(new Error('Parse Error: Invalid header token'), {
      code: 'HPE_INVALID_HEADER_TOKEN',
      rawPacket,
    });
    for (const level of LEVELS) {
      assert.doesNotThrow(() => logger[level]({ err }, 'client error'), level);
      assert.doesNotThrow(() => auditLogger(logger)[level]({ err }, 'client error'), `audit ${level}`);
    }
    assert.equal(lines.length, LEVELS.length * 2);
    for (const line of lines) {
      const entry = JSON.parse(line);
      assert.equal(entry.err.rawPacket, `[Buffer of ${rawPacket.byteLength} bytes]`, line);
      assert.equal(entry.err.code, 'HPE_INVALID_HEADER_TOKEN');
      assert.ok(!line.includes(SECRET), line);
    }
  });

  it('binary values anywhere, throwing getters, Proxies, cycles: a line is written, the call never throws', () => {
    const { logger, lines } = capture('pretty');
    const cycle: Record<string, unknown> = { name: 'cycle' };
    cycle.self = cycle;
    const odd: [string, object][] = [
      ['buffer', { body: Buffer.from(SECRET) }],
      ['nested typed array', { a: { b: [new Uint8Array(3), new ArrayBuffer(2)] } }],
      [
        'throwing getter',
        {
          a: {
            get b(): string {
              throw new Error('getter');
            },
          },
        },
      ],
      [
        'proxy',
        {
          a: new Proxy(
            {},
            {
              ownKeys() {
                throw new Error('no keys');
              },
            },
          ),
        },
      ],
      ['cycle', { cycle }],
      ['bigint', { n: 10n }],
    ];
    for (const level of LEVELS) {
      for (const [what, obj] of odd) assert.doesNotThrow(() => logger[level](obj, what), `${level} ${what}`);
    }
    assert.equal(lines.length, LEVELS.length * odd.length, 'one line per call');
    for (const line of lines) assert.ok(!line.includes(SECRET), line);
    assert.match(lines[0]!, /body="\[Buffer of 28 bytes\]"/);
    assert.match(
      lines[2]!,
      /throwing getter logError="the fields of this line could not be logged \(Error: getter\)"/,
    );
  });
});

describe('pretty format', () => {
  it('prints time, level, message and fields on one line, redacted like JSON', () => {
    const { logger, lines } = capture('pretty');
    logger.warn({ profile: 'default', clientSecret: SECRET, failures: 2 }, 'refresh failed');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^\d{2}:\d{2}:\d{2}\.\d{3} WARN {2}refresh failed profile=default clientSecret=\[REDACTED\] failures=2$/,
    );
    assert.doesNotMatch(lines[0]!, /^\{/);
  });

  it('colors the level only when asked; passes non-JSON through', () => {
    const line = JSON.stringify({
      level: 'error',
      time: '2026-01-01T10:00:00.000Z',
      msg: 'boom',
      detail: 'a b',
    });
    assert.equal(prettyLine(line), '10:00:00.000 ERROR boom detail="a b"');
    assert.ok(prettyLine(line, true).startsWith('10:00:00.000 \u001b[31mERROR\u001b[0m boom'));
    assert.equal(prettyLine('not json'), 'not json');
  });
});

describe('LOG_LEVEL and LOG_FORMAT', () => {
  const config = { level: 'info', format: 'json' as const };
  it('override the config when set', () => {
    assert.deepEqual(loggingFromEnv(config, {}), { level: 'info', format: 'json' });
    assert.deepEqual(loggingFromEnv(config, { LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' }), {
      level: 'debug',
      format: 'pretty',
    });
  });
  it('refuse unknown values with the allowed ones', () => {
    assert.throws(
      () => loggingFromEnv(config, { LOG_LEVEL: 'verbose' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /LOG_LEVEL=verbose is not a log level; use one of fatal, error, warn, info, debug/,
        );
        return true;
      },
    );
    assert.throws(
      () => loggingFromEnv(config, { LOG_FORMAT: 'text' }),
      /LOG_FORMAT=text .* use json or pretty/,
    );
  });
});

describe('audit logger', () => {
  it('still redacts secret keys of its flat lines', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const audit = auditLogger(createLogger({ level: 'info', destination: sink }));
    audit.info({ profile: 'p', token: 'tok-secret', authorization: 'auth-secret' }, 'served');
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.profile, 'p');
    assert.equal(entry.token, '[REDACTED]');
    assert.equal(entry.authorization, '[REDACTED]');
    assert.doesNotMatch(lines.join(''), /tok-secret|auth-secret/);
  });
});
