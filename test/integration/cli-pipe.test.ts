// A reader that stops reading (`credential-broker advise | head`) closes the pipe under the CLI:
// the command ends with its own exit code and no EPIPE stack trace, whether stdout or stderr is
// the pipe that went away (src/cli/io.ts, the one writer of command output).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { EXIT } from '../../src/errors.ts';
import { brokerEntry } from '../harness/serve-process.ts';

/** Runs the CLI with one of its output pipes closed before it writes; the other is collected. */
function runWithClosed(
  closed: 'stdout' | 'stderr',
  args: string[],
): Promise<{ code: number | null; signal: string | null; other: string }> {
  const child = spawn(process.execPath, [...brokerEntry().args, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  child[closed].destroy();
  let other = '';
  child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (c: Buffer) => {
    other += c;
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, other }));
  });
}

describe('cli: output to a closed pipe', () => {
  it('advise --has oidc with stdout closed: exit 0, nothing on stderr', async () => {
    const { code, signal, other } = await runWithClosed('stdout', ['advise', '--has', 'oidc']);
    assert.equal(other, '', 'no stack trace');
    assert.equal(signal, null);
    assert.equal(code, EXIT.OK);
  });

  it('a usage error with stderr closed: the usage exit code, nothing else', async () => {
    const { code, other } = await runWithClosed('stderr', ['no-such-command']);
    assert.equal(other, '');
    assert.equal(code, EXIT.USAGE);
  });
});
