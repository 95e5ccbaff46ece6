// `--help` for every command: usage, options and examples, exit 0; and every example line a command's
// help prints runs, with the same runner (and the same substitutions) as the docs' examples.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/index.ts';
import { cli } from '../harness/cli.ts';
import { type DocsWorld, runSteps, type Step, startDocsWorld } from '../harness/docs-runner.ts';

/** The lines of a section (`Examples:`) of printed help, up to the next blank line. */
function section(help: string, title: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.trim());
}

let dw: DocsWorld;
before(async () => {
  dw = await startDocsWorld();
});
after(() => dw.close());

describe('credential-broker --help', () => {
  it('lists every command and where its own help is; exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const out = await cli(...argv);
      assert.equal(out.code, 0, argv.join(' '));
      for (const c of COMMANDS)
        assert.match(out.stdout, new RegExp(`^  credential-broker ${c.name}\\b`, 'm'));
      assert.match(out.stdout, /credential-broker <command> --help/);
    }
    const none = await cli();
    assert.equal(none.code, 64);
    assert.match(none.stderr, /credential-broker <command> --help/);
  });

  it('serve --help names the no-config mode: the IRSA variables make one web-identity profile', async () => {
    const out = await cli('serve', '--help');
    assert.equal(out.code, 0);
    assert.match(
      out.stdout,
      /no file at the config path and AWS_ROLE_ARN \+ AWS_WEB_IDENTITY_TOKEN_FILE set/,
    );
    assert.match(out.stdout, /AWS_ROLE_SESSION_NAME optional/);
    assert.match(out.stdout, /one web-identity profile "default"/);
  });

  it('help with an unknown command exits 64 naming the commands', async () => {
    const out = await cli('help', 'frobnicate');
    assert.equal(out.code, 64);
    assert.match(
      out.stderr,
      /no command "frobnicate"; commands: serve, check, exec, status, env, credential-process, advise, completion/,
    );
  });
});

for (const command of COMMANDS) {
  describe(`credential-broker ${command.name} --help`, () => {
    it('prints usage, every option and 2-4 examples; exit 0; `help <command>` says the same', async () => {
      const out = await cli(command.name, '--help');
      assert.equal(out.code, 0);
      assert.equal(out.stderr, '');
      assert.match(out.stdout, new RegExp(`^Usage:\\n  credential-broker ${command.name}\\b`, 'm'));
      const options = section(out.stdout, 'Options');
      for (const name of Object.keys(command.options)) {
        assert.ok(
          options.some((l) => new RegExp(`--${name}\\b`).test(l)),
          `--${name} is not in the Options`,
        );
      }
      const examples = section(out.stdout, 'Examples');
      assert.ok(examples.length >= 2 && examples.length <= 4, `${examples.length} examples`);
      for (const e of examples) assert.match(e, new RegExp(`credential-broker ${command.name}\\b`));
      assert.deepEqual(await cli('help', command.name), out);
      assert.deepEqual((await cli(command.name, '-h')).stdout, out.stdout);
    });

    it("an unknown option exits 64 and points to this command's help", async () => {
      const out = await cli(command.name, '--colour');
      assert.equal(out.code, 64);
      assert.match(out.stderr, new RegExp(`^credential-broker ${command.name}: Unknown option '--colour'`));
      assert.match(out.stderr, new RegExp(`Run "credential-broker ${command.name} --help" for usage\\.\\n$`));
    });

    it('every example runs as printed', async () => {
      const help = (await cli(command.name, '--help')).stdout;
      const steps: Step[] = section(help, 'Examples').map((e, i) => ({
        where: `credential-broker ${command.name} --help, example ${i + 1}`,
        command: e,
      }));
      // credential-process and status ask a running broker: their examples run while serve's first one runs.
      if (command.name === 'credential-process' || command.name === 'status') {
        const serve = section((await cli('serve', '--help')).stdout, 'Examples')[0]!;
        steps.unshift({ where: 'credential-broker serve --help, example 1', command: serve });
      }
      const report = await runSteps(dw, steps);
      assert.equal(report.skipped.length, 0);
      assert.equal(report.executed, steps.length);
    });
  });
}

describe('an option of another command', () => {
  it('is refused with the hint of the command given', async () => {
    const out = await cli('check', '--url', 'http://127.0.0.1:9911/v1/credentials/default');
    assert.equal(out.code, 64);
    assert.match(out.stderr, /^credential-broker check: Unknown option '--url'/);
    assert.match(out.stderr, /Run "credential-broker check --help" for usage\./);
  });
});
