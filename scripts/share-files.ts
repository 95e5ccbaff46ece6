// The files a package installs beside the program, generated from the command table at build time
// (`npm run build`): dist/build-info.json (the commit), shell completion for bash, zsh and fish, and the man page. Paths as the Debian
// package and distributions expect them under /usr/share.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { completionScript } from '../src/cli/completion.ts';
import { COMMANDS } from '../src/cli/index.ts';
import { manPage } from '../src/cli/man.ts';
import { version } from '../src/telemetry/build-info.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each file under dist/share/ and its text. */
export function shareFiles(): Record<string, string> {
  return {
    'bash-completion/completions/credential-broker': completionScript('bash', COMMANDS),
    'zsh/site-functions/_credential-broker': completionScript('zsh', COMMANDS),
    'fish/vendor_completions.d/credential-broker.fish': completionScript('fish', COMMANDS),
    'man/man1/credential-broker.1': manPage(COMMANDS, version()),
  };
}

/**
 * The commit being built, for --version and credential_broker_build_info: BUILD_COMMIT when set
 * (a build from a copy of the tree or a source tarball), else git's; "unknown" outside a checkout.
 */
export function commit(): string {
  if (process.env.BUILD_COMMIT) return process.env.BUILD_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(path.join(ROOT, 'dist/build-info.json'), `${JSON.stringify({ commit: commit() })}\n`);
  const share = path.join(ROOT, 'dist/share');
  for (const [file, text] of Object.entries(shareFiles())) {
    mkdirSync(path.dirname(path.join(share, file)), { recursive: true });
    writeFileSync(path.join(share, file), text);
  }
}
