// journald priorities: a child whose stdout is the stream JOURNAL_STREAM names prefixes each line
// with its syslog priority (so `journalctl -p warning` filters); any other stdout keeps plain lines.
// Colour: only on a terminal without NO_COLOR.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isJournalStream, priorityOf } from '../../src/telemetry/journald.ts';
import { wantsColor } from '../../src/telemetry/pretty.ts';

const LOGGER = fileURLToPath(new URL('../../src/telemetry/logger.ts', import.meta.url));

/** Logs one line per level from a child whose stdout is `file`; returns what it wrote. */
async function logFromChild(file: string, env: NodeJS.ProcessEnv, format = 'json'): Promise<string[]> {
  const fd = openSync(file, 'w');
  const { dev, ino } = fstatSync(fd, { bigint: true });
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
const logger = createLogger({ level: 'trace', format: ${JSON.stringify(format)} });
logger.fatal('f'); logger.error('e'); logger.warn('w'); logger.info('i'); logger.debug('d'); logger.trace('t');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', fd, 'inherit'],
    env: { ...process.env, NO_COLOR: '', ...env, JOURNAL_STREAM: env.JOURNAL_STREAM ?? `${dev}:${ino}` },
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  closeSync(fd);
  assert.equal(code, 0);
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
}

describe('journald priorities', () => {
  it('stdout is the journal stream: each line starts with <2> <3> <4> <6> <7> <7>, JSON after it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'journal-'));
    const lines = await logFromChild(path.join(dir, 'out'), {});
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ['<2>', '<3>', '<4>', '<6>', '<7>', '<7>'],
    );
    assert.deepEqual(
      lines.map((l) => JSON.parse(l.slice(3)).msg),
      ['f', 'e', 'w', 'i', 'd', 't'],
    );
    // Pretty lines carry the priority too, read from the JSON before it is rewritten.
    const pretty = await logFromChild(path.join(dir, 'pretty'), {}, 'pretty');
    assert.match(pretty[2]!, /^<4>\d\d:\d\d:\d\d\.\d{3} WARN {2}w$/);
    assert.ok(!pretty.join('\n').includes('\x1b['), 'no colour in a file');
  });

  it('stdout is another file (JOURNAL_STREAM names a different inode, or is unset): plain lines', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'journal-'));
    for (const JOURNAL_STREAM of ['1:1', '']) {
      const lines = await logFromChild(path.join(dir, 'out'), { JOURNAL_STREAM });
      assert.equal(lines.length, 6);
      for (const l of lines) assert.ok(l.startsWith('{'), l);
    }
  });

  it('isJournalStream compares device and inode of the descriptor; priorityOf reads the level', () => {
    const fd = openSync(process.execPath, 'r');
    const { dev, ino } = fstatSync(fd, { bigint: true });
    assert.equal(isJournalStream({ JOURNAL_STREAM: `${dev}:${ino}` }, fd), true);
    assert.equal(isJournalStream({ JOURNAL_STREAM: `${dev}:${ino + 1n}` }, fd), false);
    assert.equal(isJournalStream({}, fd), false);
    closeSync(fd);
    assert.equal(priorityOf('{"level":"warn","msg":"x"}'), 4);
    assert.equal(priorityOf('not json'), 6);
  });
});

describe('colour', () => {
  it('only on a terminal, and not when NO_COLOR is set', () => {
    assert.equal(wantsColor({ isTTY: true }, {}), true);
    assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(wantsColor({ isTTY: false }, {}), false);
    assert.equal(wantsColor({}, {}), false);
  });
});
