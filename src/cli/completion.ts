// Shell completion for bash, zsh and fish, generated from the command table (index.ts): a command or
// option added there completes without touching this file. `credential-broker completion SHELL`
// prints one; the build writes all three under dist/share/ (scripts/share-files.ts) for packages.
import { EXIT } from '../errors.ts';
import type { Command, Option } from './command.ts';
import { usageHint } from './help.ts';
import type { Io } from './io.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, commands: readonly Command[]): string {
  switch (shell) {
    case 'bash':
      return bash(commands);
    case 'zsh':
      return zsh(commands);
    case 'fish':
      return fish(commands);
  }
}

export async function completionCommand(
  operands: string[],
  commands: readonly Command[],
  io: Io,
): Promise<number> {
  const [shell, ...extra] = operands;
  if (!shell || extra.length > 0 || !(SHELLS as readonly string[]).includes(shell)) {
    const completion = commands.find((c) => c.name === 'completion');
    io.stderr(
      `credential-broker completion: name one shell: ${SHELLS.join(', ')}${shell ? ` (not "${operands.join(' ')}")` : ''}\n${usageHint(completion)}`,
    );
    return EXIT.USAGE;
  }
  io.stdout(completionScript(shell as Shell, commands));
  return EXIT.OK;
}

const HEADER = 'credential-broker: generated from its command table (src/cli/index.ts); do not edit';
const TOP_OPTIONS = ['--help', '--version'];
const flags = (name: string, o: Option) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])];
const firstLine = (text: string) => text.split('\n')[0]!;

function bash(commands: readonly Command[]): string {
  const valueOptions = commands.flatMap((c) =>
    Object.entries(c.options)
      .filter(([, o]) => o.type === 'string')
      .flatMap(([n, o]) => flags(n, o)),
  );
  const reply = (words: string) => `COMPREPLY=($(compgen -W "${words}" -- "$cur"))`;
  const valueCase = (o: Option) =>
    o.complete === 'file'
      ? 'COMPREPLY=($(compgen -f -- "$cur"))'
      : o.complete === 'dir'
        ? 'COMPREPLY=($(compgen -d -- "$cur"))'
        : o.complete
          ? reply(o.complete.join(' '))
          : 'COMPREPLY=()';
  const perCommand = commands.map((c) => {
    const values = Object.entries(c.options)
      .filter(([, o]) => o.type === 'string')
      .map(([n, o]) => `        ${flags(n, o).join('|')}) ${valueCase(o)}; return ;;`);
    const operand = c.operands?.complete;
    const words =
      operand === 'command'
        ? 'COMPREPLY=($(compgen -c -- "$cur"))'
        : reply([...(operand ?? []), ...Object.keys(c.options).map((n) => `--${n}`)].join(' '));
    return [
      `    ${c.name})`,
      ...(values.length > 0 ? ['      case "$prev" in', ...values, '      esac'] : []),
      `      [[ $cur == -* ]] && ${reply(
        Object.keys(c.options)
          .map((n) => `--${n}`)
          .join(' '),
      )} && return`,
      `      ${words}`,
      '      ;;',
    ].join('\n');
  });
  const names = commands.map((c) => c.name).join(' ');
  return `# bash completion for ${HEADER}
_credential_broker() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i w
  # The command is the first word that is neither an option nor an option's value.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${valueOptions.join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="$w"; break ;;
    esac
  done
  case "$cmd" in
    "") ${reply(`${names} help ${TOP_OPTIONS.join(' ')}`)} ;;
    help) ${reply(names)} ;;
${perCommand.join('\n')}
  esac
}
complete -F _credential_broker credential-broker
`;
}

/** A zsh _arguments description: the brackets and quotes it would read as syntax, escaped. */
const zshText = (text: string) =>
  firstLine(text)
    .replace(/([[\]:\\])/g, '\\$1')
    .replaceAll("'", "'\\''");

function zsh(commands: readonly Command[]): string {
  const spec = (name: string, o: Option) => {
    const action =
      o.type === 'boolean'
        ? ''
        : `:${o.value ?? 'VALUE'}:${
            o.complete === 'file'
              ? '_files'
              : o.complete === 'dir'
                ? '_files -/'
                : o.complete
                  ? `(${o.complete.join(' ')})`
                  : ' '
          }`;
    const both = o.short ? `(-${o.short} --${name})'{-${o.short},--${name}}'` : `--${name}`;
    return `'${both}[${zshText(o.help)}]${action}'`;
  };
  const perCommand = commands.map((c) => {
    const operand = c.operands?.complete;
    const rest =
      operand === 'command'
        ? " '*::command:_normal'"
        : operand
          ? ` '1:${c.operands ?? 'WORD'}:(${operand.join(' ')})'`
          : '';
    const specs = Object.entries(c.options).map(([n, o]) => spec(n, o));
    return `        ${c.name}) _arguments -s ${specs.join(' ')}${rest} ;;`;
  });
  return `#compdef credential-broker
# zsh completion for ${HEADER}
_credential-broker() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
${commands.map((c) => `    '${c.name}:${zshText(c.summary)}'`).join('\n')}
    'help:a command'\\''s options and examples'
  )
  _arguments -C '(- *)'{-h,--help}'[the command list]' '(- *)'{-V,--version}'[the version]' \\
    '1: :->command' '*:: :->args'
  case $state in
    command) _describe -t commands 'credential-broker command' commands ;;
    args)
      case $line[1] in
        help) _describe -t commands 'command' commands ;;
${perCommand.join('\n')}
      esac
      ;;
  esac
}
_credential-broker "$@"
`;
}

const fishText = (text: string) => `'${firstLine(text).replace(/(['\\])/g, '\\$1')}'`;

function fish(commands: readonly Command[]): string {
  const names = commands.map((c) => c.name).join(' ');
  const lines = [
    `# fish completion for ${HEADER}`,
    'complete -c credential-broker -f',
    `complete -c credential-broker -n '__fish_use_subcommand' -s h -l help -d 'the command list'`,
    `complete -c credential-broker -n '__fish_use_subcommand' -s V -l version -d 'the version'`,
    `complete -c credential-broker -n '__fish_use_subcommand' -a help -d 'a command’s options and examples'`,
    `complete -c credential-broker -n '__fish_seen_subcommand_from help' -a '${names}'`,
  ];
  for (const c of commands) {
    lines.push(
      `complete -c credential-broker -n '__fish_use_subcommand' -a ${c.name} -d ${fishText(c.summary)}`,
    );
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const [n, o] of Object.entries(c.options)) {
      const value =
        o.type === 'boolean'
          ? ''
          : o.complete === 'file'
            ? ' -r -F'
            : o.complete === 'dir'
              ? " -x -a '(__fish_complete_directories)'"
              : o.complete
                ? ` -x -a '${o.complete.join(' ')}'`
                : ' -x';
      lines.push(
        `complete -c credential-broker ${when}${o.short ? ` -s ${o.short}` : ''} -l ${n}${value} -d ${fishText(o.help)}`,
      );
    }
    const operand = c.operands?.complete;
    if (operand === 'command')
      lines.push(`complete -c credential-broker ${when} -x -a '(__fish_complete_subcommand)'`);
    else if (operand) lines.push(`complete -c credential-broker ${when} -x -a '${operand.join(' ')}'`);
  }
  return `${lines.join('\n')}\n`;
}
