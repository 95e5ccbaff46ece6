// `--help` text, rendered from the command table (index.ts).
import type { Command, Option } from './command.ts';

function optionLines(options: Record<string, Option>): string[] {
  const flags = Object.entries(options).map(
    ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
  );
  const column = Math.max(...flags.map((f) => f.length)) + 4;
  return Object.values(options).flatMap((o, i) => {
    const [first, ...rest] = o.help.split('\n');
    return [
      `  ${flags[i]!.padEnd(column - 2)}${first}`,
      ...rest.map((line) => `${' '.repeat(column)}${line}`),
    ];
  });
}

export function renderCommandHelp(command: Command): string {
  return [
    `credential-broker ${command.name} — ${command.summary}`,
    '',
    'Usage:',
    ...command.usage.map((u) => `  credential-broker ${u}`),
    '',
    command.description,
    '',
    'Options:',
    ...optionLines(command.options),
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

/** What every way in (--help, the man page) says about apps and exit codes. */
export const APPS_NOTE = [
  'Apps: set AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/PROFILE',
  "and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=<the broker's token file>",
  '(credential-broker env --profile PROFILE prints both).',
];
export const EXIT_NOTE =
  'Exit codes: 0 ok, 1 runtime failure, 64 usage error, 70 unhandled error, 78 invalid config.';

export function renderTopHelp(commands: readonly Command[]): string {
  return [
    'credential-broker — temporary AWS credentials for applications outside AWS',
    '',
    'Usage:',
    ...commands.flatMap((c) => [`  credential-broker ${c.usage[0]}`, `      ${c.summary}`]),
    '  credential-broker help COMMAND | --help | --version',
    '',
    'Run "credential-broker <command> --help" for a command’s options and examples.',
    '',
    ...APPS_NOTE,
    '',
    EXIT_NOTE,
    '',
  ].join('\n');
}

/** The one line after a usage error: where the command's (or the general) help is. */
export function usageHint(command?: Command): string {
  return `Run "credential-broker ${command ? `${command.name} ` : ''}--help" for usage.\n`;
}
