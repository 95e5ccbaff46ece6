// Process entry: parse argv, run one command, map errors to exit codes and one clear line.
import { parseArgs } from 'node:util';
import { parseOptions } from './cli/command.ts';
import { renderCommandHelp, renderTopHelp, usageHint } from './cli/help.ts';
import { COMMANDS, commandNamed } from './cli/index.ts';
import { type Io, processIo } from './cli/io.ts';
import { DEFAULT_CONFIG_PATH } from './config/default-path.ts';
import { describeError, EXIT, exitCodeOf } from './errors.ts';
import { buildInfo } from './telemetry/build-info.ts';

// The SDK warns on Node 20 that its releases after January 2027 need Node 22. The broker pins
// its SDK version (package-lock), so the warning says nothing an operator can act on at runtime.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Every option of every command: to find the command in an argv before parsing it strictly. */
const ALL_OPTIONS = Object.assign({}, ...COMMANDS.map(parseOptions));

const commandList = () => COMMANDS.map((c) => c.name).join(', ');

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  // The command is the first positional; its argv is then parsed with its own options only, so an
  // option of another command is refused with this command's help hint.
  const { tokens } = parseArgs({
    args: argv,
    options: { ...ALL_OPTIONS, version: { type: 'boolean', short: 'V' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const at = tokens.find((t) => t.kind === 'positional');
  const rest = at ? argv.filter((_, i) => i !== at.index) : argv;
  if (!at) return topLevel(rest, io);
  if (at.value === 'help') return helpCommand(rest, io);
  const command = commandNamed(at.value);
  if (!command) {
    io.stderr(`credential-broker: unknown command "${at.value}"; commands: ${commandList()}\n${usageHint()}`);
    return EXIT.USAGE;
  }
  let values: Record<string, string | boolean | undefined>;
  let operands: string[];
  let terminated: boolean;
  try {
    const parsed = parseArgs({
      args: rest,
      options: parseOptions(command),
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
    // Every operand after `--` (none before it): `exec` needs that to tell its CMD from its options.
    const dashDash = parsed.tokens.findIndex((t) => t.kind === 'option-terminator');
    terminated = dashDash >= 0 && !parsed.tokens.slice(0, dashDash).some((t) => t.kind === 'positional');
    if (!command.operands && parsed.positionals.length > 0)
      throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
    values = parsed.values;
    operands = parsed.positionals;
  } catch (err) {
    io.stderr(`credential-broker ${command.name}: ${describeError(err)}\n${usageHint(command)}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    io.stdout(renderCommandHelp(command));
    return EXIT.OK;
  }
  const config = values.config;
  const configPath = typeof config === 'string' ? config : DEFAULT_CONFIG_PATH;
  try {
    return await command.run({ values, operands, terminated, configPath }, io);
  } catch (err) {
    io.stderr(`credential-broker: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}

/** No command: --help, --version, or the command list as a usage error. */
function topLevel(argv: string[], io: Io): number {
  let values: { help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`credential-broker: ${describeError(err)}\n${usageHint()}`);
    return EXIT.USAGE;
  }
  if (values.version) {
    const { version, commit } = buildInfo();
    io.stdout(`${version} (commit ${commit})\n`);
    return EXIT.OK;
  }
  if (values.help) {
    io.stdout(renderTopHelp(COMMANDS));
    return EXIT.OK;
  }
  io.stderr(renderTopHelp(COMMANDS));
  return EXIT.USAGE;
}

/** `help` or `help COMMAND`. */
function helpCommand(argv: string[], io: Io): number {
  const topics = argv.filter((a) => !a.startsWith('-'));
  if (topics.length === 0) {
    io.stdout(renderTopHelp(COMMANDS));
    return EXIT.OK;
  }
  const command = commandNamed(topics[0]!);
  if (!command || topics.length > 1) {
    io.stderr(`credential-broker help: no command "${topics.join(' ')}"; commands: ${commandList()}\n`);
    return EXIT.USAGE;
  }
  io.stdout(renderCommandHelp(command));
  return EXIT.OK;
}

// Run when executed directly (tsx src/main.ts ...); bin/credential-broker.js imports run() from dist.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2));
}
