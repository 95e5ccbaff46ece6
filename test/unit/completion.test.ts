// Shell completion and the man page, generated from the command table: real bash runs the
// completion function, man (or groff) renders the page.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { shareFiles } from '../../scripts/share-files.ts';
import { completionScript } from '../../src/cli/completion.ts';
import { COMMANDS } from '../../src/cli/index.ts';
import { manPage } from '../../src/cli/man.ts';
import { cli } from '../harness/cli.ts';

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;

async function bashCompletions(words: string[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'completion-'));
  const file = path.join(dir, 'credential-broker');
  await writeFile(file, completionScript('bash', COMMANDS));
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync(
    'bash',
    [
      '-c',
      `cd "${dir}" && source "${file}"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _credential_broker; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean).sort();
}

describe('bash completion', () => {
  it('completes the commands, then each command’s options and their values', async () => {
    assert.deepEqual(
      await bashCompletions(['credential-broker', '']),
      [...COMMANDS.map((c) => c.name), 'help', '--help', '--version'].sort(),
    );
    assert.deepEqual(await bashCompletions(['credential-broker', 'cre']), ['credential-process']);
    assert.deepEqual(await bashCompletions(['credential-broker', 'check', '--']), [
      '--config',
      '--help',
      '--json',
      '--profile',
    ]);
    assert.deepEqual(await bashCompletions(['credential-broker', 'env', '--format', '']), [
      'shell',
      'systemd',
    ]);
    assert.deepEqual(await bashCompletions(['credential-broker', 'advise', '--runs-on', 'k']), [
      'kubernetes',
    ]);
    assert.deepEqual(
      await bashCompletions(['credential-broker', 'completion', '']).then((w) =>
        w.filter((x) => !x.startsWith('-')),
      ),
      ['bash', 'fish', 'zsh'],
    );
    // An option's value is not taken for the command: `-c FILE env` completes env's options.
    assert.deepEqual(await bashCompletions(['credential-broker', '-c', 'x.yaml', 'env', '--f']), [
      '--format',
    ]);
    // A file option completes paths (the test's folder holds the script itself).
    assert.deepEqual(await bashCompletions(['credential-broker', 'serve', '--config', 'cred']), [
      'credential-broker',
    ]);
    assert.deepEqual(await bashCompletions(['credential-broker', 'help', 'a']), ['advise']);
  });

  it('`credential-broker completion SHELL` prints the generated script; a wrong shell exits 64', async () => {
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const out = await cli('completion', shell);
      assert.equal(out.code, 0);
      assert.equal(out.stdout, completionScript(shell, COMMANDS));
    }
    const bad = await cli('completion', 'tcsh');
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /name one shell: bash, zsh, fish \(not "tcsh"\)/);
    assert.equal((await cli('completion')).code, 64);
  });

  it('zsh and fish scripts name every command and option (and parse, where the shell is installed)', async (t) => {
    const zsh = completionScript('zsh', COMMANDS);
    const fish = completionScript('fish', COMMANDS);
    assert.match(zsh, /^#compdef credential-broker\n/);
    for (const c of COMMANDS) {
      assert.match(zsh, new RegExp(`^        ${c.name}\\) _arguments`, 'm'));
      assert.match(fish, new RegExp(`-n '__fish_use_subcommand' -a ${c.name} -d`));
      for (const name of Object.keys(c.options)) {
        assert.ok(zsh.includes(`--${name}`), `zsh: ${c.name} --${name}`);
        assert.ok(fish.includes(`-n '__fish_seen_subcommand_from ${c.name}'`) && fish.includes(`-l ${name}`));
      }
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'completion-'));
    for (const [shell, text] of [
      ['zsh', zsh],
      ['fish', fish],
    ] as const) {
      if (!has(shell)) {
        t.diagnostic(`${shell} is not installed: its script's syntax is not checked`);
        continue;
      }
      await writeFile(path.join(dir, shell), text);
      execFileSync(shell, ['-n', path.join(dir, shell)]);
    }
  });
});

describe('man page', () => {
  it('renders without warnings and documents every command and option', async (t) => {
    const page = manPage(COMMANDS, '1.2.3');
    assert.match(page, /^\.TH CREDENTIAL\\-BROKER 1 "" "credential\\-broker 1\.2\.3"/m);
    const dir = await mkdtemp(path.join(tmpdir(), 'man-'));
    const file = path.join(dir, 'credential-broker.1');
    await writeFile(file, page);
    if (!has('groff')) {
      t.diagnostic('groff is not installed: the page is checked as text only');
      return;
    }
    const rendered = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], { encoding: 'utf8' });
    assert.equal(rendered.stderr, '', 'groff warnings');
    const text = execFileSync('groff', ['-man', '-Tascii', '-P-cbou', file], {
      encoding: 'utf8',
      env: { ...process.env, MANWIDTH: '200' },
    });
    for (const c of COMMANDS) {
      assert.match(text, new RegExp(`^ {3}${c.name}$`, 'm'), `section for ${c.name}`);
      for (const [name, o] of Object.entries(c.options))
        assert.match(
          text,
          new RegExp(`${o.short ? `-${o.short}, ` : ''}--${name}\\b`),
          `${c.name} --${name}`,
        );
      for (const e of c.examples) assert.ok(text.includes(e.slice(0, 40)), `example: ${e}`);
    }
  });

  it('the build writes completion and man page where the Debian package takes them', () => {
    assert.deepEqual(Object.keys(shareFiles()).sort(), [
      'bash-completion/completions/credential-broker',
      'fish/vendor_completions.d/credential-broker.fish',
      'man/man1/credential-broker.1',
      'zsh/site-functions/_credential-broker',
    ]);
  });
});
