// Process entry: parse argv, run one command, map errors to exit codes and one clear line.
import { parseArgs } from 'node:util';
import { adviseCommand } from './cli/advise.ts';
import { checkCommand } from './cli/check.ts';
import { credentialProcessCommand } from './cli/credential-process.ts';
import { envCommand } from './cli/env.ts';
import { type Io, processIo } from './cli/io.ts';
import { serveCommand } from './cli/serve.ts';
import { USAGE, version } from './cli/usage.ts';
import { DEFAULT_CONFIG_PATH } from './config/load.ts';
import { ConfigError, describeError, EXIT } from './errors.ts';

// The SDK warns on Node 20 that its releases after January 2027 need Node 22. The broker pins
// its SDK version (package-lock), so the warning says nothing an operator can act on at runtime.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  // `advise` needs no config and has options of its own.
  if (argv[0] === 'advise') {
    try {
      return await adviseCommand(argv.slice(1), io);
    } catch (err) {
      io.stderr(
        `credential-broker advise: ${describeError(err)}\nRun "credential-broker advise --help" for usage.\n`,
      );
      return EXIT.USAGE;
    }
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.stderr(`credential-broker: ${describeError(err)}\nRun "credential-broker --help" for usage.\n`);
    return EXIT.USAGE;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.stdout(`${version()}\n`);
    return EXIT.OK;
  }
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    io.stdout(USAGE);
    return command === undefined && !values.help ? EXIT.USAGE : EXIT.OK;
  }
  if (positionals.length > 1) {
    io.stderr(`credential-broker: unexpected argument "${positionals[1]}"\n`);
    return EXIT.USAGE;
  }
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand({ configPath }, io);
      case 'check':
        return await checkCommand({ configPath, profile: values.profile, json: values.json ?? false }, io);
      case 'credential-process':
        return await credentialProcessCommand(
          { configPath, profile: values.profile, url: values.url, tokenFile: values['token-file'] },
          io,
        );
      case 'env':
        return await envCommand({ configPath, profile: values.profile, format: values.format }, io);
      default:
        io.stderr(
          `credential-broker: unknown command "${command}"; commands: serve, check, credential-process, env, advise\n`,
        );
        return EXIT.USAGE;
    }
  } catch (err) {
    io.stderr(`credential-broker: ${describeError(err)}\n`);
    return err instanceof ConfigError ? EXIT.CONFIG : EXIT.FAILURE;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      profile: { type: 'string', short: 'p' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      'token-file': { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
}

// Run when executed directly (tsx src/main.ts ...); bin/credential-broker.js imports run() from dist.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2));
}
