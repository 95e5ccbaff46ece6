// Process entry: parse argv, run one command, map errors to exit codes and one clear line.
import { parseArgs } from 'node:util';
import {
  allParseOptions,
  COMMANDS,
  commandHelp,
  parseOptions,
  renderCommandHelp,
  renderTopHelp,
  usageHint,
} from './cli/help.ts';
import { type Io, processIo } from './cli/io.ts';
import { version } from './cli/usage.ts';
import { DEFAULT_CONFIG_PATH } from './config/default-path.ts';
import { ConfigError, describeError, EXIT } from './errors.ts';

// The SDK warns on Node 20 that its releases after January 2027 need Node 22. The broker pins
// its SDK version (package-lock), so the warning says nothing an operator can act on at runtime.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  // The command is the first positional; its argv is then parsed with its own options only, so an
  // option of another command is refused with this command's help hint.
  const { tokens } = parseArgs({
    args: argv,
    options: { ...allParseOptions(), version: { type: 'boolean', short: 'V' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const at = tokens.find((t) => t.kind === 'positional');
  const rest = at ? argv.filter((_, i) => i !== at.index) : argv;
  if (!at) return topLevel(rest, io);
  if (at.value === 'help') return helpCommand(rest, io);
  const command = commandHelp(at.value);
  if (!command) {
    io.stderr(
      `credential-broker: unknown command "${at.value}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}\n${usageHint()}`,
    );
    return EXIT.USAGE;
  }
  let values: Record<string, unknown>;
  try {
    const parsed = parseArgs({
      args: rest,
      options: parseOptions(command),
      strict: true,
      allowPositionals: true,
    });
    if (parsed.positionals.length > 0) throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
    values = parsed.values;
  } catch (err) {
    io.stderr(`credential-broker ${command.name}: ${describeError(err)}\n${usageHint(command)}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    io.stdout(renderCommandHelp(command));
    return EXIT.OK;
  }
  // parseOptions() declares no `multiple` options: each value is a string, a boolean or absent.
  const str = (name: string) => values[name] as string | undefined;
  const configPath = str('config') ?? DEFAULT_CONFIG_PATH;
  // Each command's module is loaded only when it runs: `serve` and `check` pull in the AWS SDK and
  // fastify (~1 s of startup), which `--help` and `advise` do not need.
  try {
    switch (command.name) {
      case 'serve':
        return await (await import('./cli/serve.ts')).serveCommand({ configPath }, io);
      case 'check':
        return await (await import('./cli/check.ts')).checkCommand(
          { configPath, profile: str('profile'), json: values.json === true },
          io,
        );
      case 'credential-process':
        return await (await import('./cli/credential-process.ts')).credentialProcessCommand(
          { configPath, profile: str('profile'), url: str('url'), tokenFile: str('token-file') },
          io,
        );
      case 'env':
        return await (await import('./cli/env.ts')).envCommand(
          { configPath, profile: str('profile'), format: str('format') },
          io,
        );
      case 'advise':
        return await (await import('./cli/advise.ts')).adviseCommand(rest, io);
      default:
        throw new Error(`command "${command.name}" has help but no implementation`);
    }
  } catch (err) {
    io.stderr(`credential-broker: ${describeError(err)}\n`);
    return err instanceof ConfigError ? EXIT.CONFIG : EXIT.FAILURE;
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
    io.stdout(`${version()}\n`);
    return EXIT.OK;
  }
  if (values.help) {
    io.stdout(renderTopHelp());
    return EXIT.OK;
  }
  io.stderr(renderTopHelp());
  return EXIT.USAGE;
}

/** `help` or `help COMMAND`. */
function helpCommand(argv: string[], io: Io): number {
  const topics = argv.filter((a) => !a.startsWith('-'));
  if (topics.length === 0) {
    io.stdout(renderTopHelp());
    return EXIT.OK;
  }
  const command = commandHelp(topics[0]!);
  if (!command || topics.length > 1) {
    io.stderr(
      `credential-broker help: no command "${topics.join(' ')}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}\n`,
    );
    return EXIT.USAGE;
  }
  io.stdout(renderCommandHelp(command));
  return EXIT.OK;
}

// Run when executed directly (tsx src/main.ts ...); bin/credential-broker.js imports run() from dist.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2));
}
