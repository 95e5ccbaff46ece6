// The operations settings: defaults, what the metrics listener may bind (any address: it serves
// no credentials) and the messages an operator gets for a wrong value or type.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const FILE = '/etc/credential-broker/config.yaml';
const profiles = {
  default: {
    source: { type: 'web-identity-file', tokenFile: '/var/run/secrets/token' },
    role: { arn: 'arn:aws:iam::123456789012:role/app' },
  },
};
const parse = (doc: Record<string, unknown>) => parseConfig(stringify({ profiles, ...doc }), FILE);

function problems(doc: Record<string, unknown>): string[] {
  try {
    parse(doc);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n').filter((l) => l.includes(`${FILE}: `));
  }
  assert.fail('expected a ConfigError');
}

describe('operations settings', () => {
  it('defaults: 10 s drain, JSON logs, no metrics listener, no file watch', () => {
    const c = parse({});
    assert.equal(c.server.shutdownTimeout, 10_000);
    assert.deepEqual(c.logging, { level: 'info', format: 'json' });
    assert.equal(c.metrics.listen, undefined);
    assert.equal(c.reload.watch, false);
  });

  it('metrics.listen may bind any address; server.listen without TLS only loopback', () => {
    const c = parse({ metrics: { listen: '0.0.0.0:9912' }, server: { shutdownTimeout: '30s' } });
    assert.equal(c.metrics.listen, '0.0.0.0:9912');
    assert.equal(c.server.shutdownTimeout, 30_000);
    assert.match(
      problems({ server: { listen: '0.0.0.0:9911' } })[0]!,
      /server\.listen: credentials are served over plain http only on loopback/,
    );
  });

  it('wrong values and types name the setting and what to write', () => {
    const lines = problems({
      server: { shutdownTimeout: 'soon' },
      logging: { format: 'colour', level: 'loud' },
      metrics: { listen: '9912' },
      reload: { watch: 'yes please' },
    });
    const expected = [
      /server\.shutdownTimeout: "soon" is not a duration such as 90s/,
      /logging\.format: logging\.format must be json or pretty/,
      /logging\.level: /,
      /metrics\.listen: expected HOST:PORT, like 127\.0\.0\.1:9911/,
      /reload\.watch: reload\.watch must be true or false/,
    ];
    assert.equal(lines.length, expected.length, lines.join('\n'));
    for (const re of expected)
      assert.ok(
        lines.some((l) => re.test(l)),
        `${re} in\n${lines.join('\n')}`,
      );
    assert.ok(!lines.some((l) => l.includes('required')), 'a wrong type is not reported as missing');
  });
});
