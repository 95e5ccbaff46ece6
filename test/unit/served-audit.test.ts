// The served-credentials audit: one line per credential set and client address, so a client
// fetching in a loop cannot flood the log, while every new key or new client is still on record.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { AwsCredentials } from '../../src/model/credentials.ts';
import { ServedAudit } from '../../src/server/served-audit.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

function credentials(accessKeyId: string): AwsCredentials {
  return {
    accessKeyId,
    secretAccessKey: 'secret-key-never-logged',
    sessionToken: 'session-token-never-logged',
    expiration: new Date('2026-11-25T12:00:00Z'),
    accountId: '123456789012',
    roleArn: 'arn:aws:iam::123456789012:role/app',
    assumedRoleArn: undefined,
  };
}

function auditTo(lines: Array<Record<string, unknown>>): ServedAudit {
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return new ServedAudit(createLogger({ destination }));
}

describe('ServedAudit', () => {
  it('logs the first serve of each credential set to each client address, and no repeats', () => {
    const lines: Array<Record<string, unknown>> = [];
    const audit = auditTo(lines);
    const first = credentials('ASIAFIRSTFIRSTFIRST1');
    for (let i = 0; i < 100; i++) audit.served({ profile: 'default', remote: '127.0.0.1' }, first);
    audit.served({ profile: 'default', remote: '10.0.0.7' }, first);
    const refreshed = credentials('ASIASECONDSECONDSEC2');
    audit.served({ profile: 'default', remote: '127.0.0.1' }, refreshed);
    audit.served(
      { profile: 'reports', remote: '127.0.0.1', via: 'imds' },
      credentials('ASIATHIRDTHIRDTHIRD3'),
    );

    assert.deepEqual(
      lines.map((l) => [l.msg, l.profile, l.remote, l.accessKeyId, l.outcome, l.via]),
      [
        ['credentials served', 'default', '127.0.0.1', 'ASIAFIRSTFIRSTFIRST1', 'served', undefined],
        ['credentials served', 'default', '10.0.0.7', 'ASIAFIRSTFIRSTFIRST1', 'served', undefined],
        ['credentials served', 'default', '127.0.0.1', 'ASIASECONDSECONDSEC2', 'served', undefined],
        ['credentials served', 'reports', '127.0.0.1', 'ASIATHIRDTHIRDTHIRD3', 'served', 'imds'],
      ],
    );
    assert.equal(lines[0]?.expiration, '2026-11-25T12:00:00.000Z');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes('never-logged'), 'no secret key or session token in the audit');
  });
});
