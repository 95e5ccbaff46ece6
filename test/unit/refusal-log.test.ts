// Refusal lines summarised per client address per window (security review #17, finding 9): the
// window's end writes the summary by itself, and the next refusal after it starts a new window.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RefusalLog } from '../../src/server/refusal-log.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

function logTo(lines: Array<Record<string, unknown>>, windowMs: number, now?: () => number): RefusalLog {
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return new RefusalLog(createLogger({ destination }), windowMs, 256, now);
}

describe('RefusalLog', () => {
  it('writes the summary when the window ends, with no further refusal to trigger it', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = logTo(lines, 200);
    for (let i = 0; i < 5; i++)
      log.refused({ remote: '10.0.0.1', outcome: i < 3 ? 'invalid' : 'BAD_HOST' }, 'refused');
    assert.equal(lines.length, 1);
    // A loaded machine may run the timer late, never early: wait well past the window.
    for (let waited = 0; lines.length < 2 && waited < 20_000; waited += 100) await sleep(100);
    assert.equal(lines.length, 2);
    assert.deepEqual(
      [lines[1]?.remote, lines[1]?.count, lines[1]?.codes, lines[1]?.windowSeconds, lines[1]?.msg],
      [
        '10.0.0.1',
        4,
        { invalid: 2, BAD_HOST: 2 },
        0.2,
        '4 more refusals from 10.0.0.1 in the last 0.2 s (codes: invalid ×2, BAD_HOST ×2)',
      ],
    );
    log.refused({ remote: '10.0.0.1', outcome: 'invalid' }, 'refused');
    assert.equal(lines.length, 3, 'a new window: the first refusal in full again');
    log.flush();
  });

  it('the next refusal after the window writes the summary before its own line', () => {
    const lines: Array<Record<string, unknown>> = [];
    let now = 0;
    const log = logTo(lines, 60_000, () => now);
    log.refused({ remote: '::1', outcome: 'HOST_REFUSED' }, 'refused');
    log.refused({ remote: '::1', outcome: 'HOST_REFUSED' }, 'refused');
    now = 60_000;
    log.refused({ remote: '::1', outcome: 'invalid' }, 'refused');
    assert.deepEqual(
      lines.map((l) => [l.outcome, l.count]),
      [
        ['HOST_REFUSED', undefined],
        ['REFUSALS_SUMMARISED', 1],
        ['invalid', undefined],
      ],
    );
    log.flush();
    assert.equal(lines.length, 3, 'nothing pending: no empty summary');
  });
});
