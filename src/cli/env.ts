// `credential-broker env --profile P`: the two lines that point an unmodified app at a profile,
// for a shell (`eval "$(credential-broker env -p P)"`) or a systemd EnvironmentFile=.
import { access, constants } from 'node:fs/promises';
import { loadConfigOrEnvironment } from '../config/from-env.ts';
import { EXIT } from '../errors.ts';
import { endpointFor, hostForUrl } from './endpoint.ts';
import type { Io } from './io.ts';

export type EnvFormat = 'shell' | 'systemd';

export async function envCommand(
  opts: { configPath: string; profile: string | undefined; format: string | undefined },
  io: Io,
): Promise<number> {
  const format = opts.format ?? 'shell';
  if (!opts.profile || (format !== 'shell' && format !== 'systemd')) {
    io.stderr(
      `credential-broker env: ${!opts.profile ? 'pass --profile NAME' : `unknown --format "${format}": use shell or systemd`}\n`,
    );
    return EXIT.USAGE;
  }
  const { config, file } = await loadConfigOrEnvironment(opts.configPath);
  const { url, tokenFile } = endpointFor(config, file, opts.profile);
  const line = (name: string, value: string) =>
    format === 'shell' ? `export ${name}=${shellQuote(value)}\n` : `${name}=${value}\n`;
  io.stdout(
    line('AWS_CONTAINER_CREDENTIALS_FULL_URI', url) +
      line('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', tokenFile),
  );
  if (config.imds?.profile === opts.profile) {
    const { host, port } = hostForUrl(config.imds.listen);
    io.stdout(
      `# apps that only read instance metadata: AWS_EC2_METADATA_SERVICE_ENDPOINT=http://${host}:${port}/\n`,
    );
  }
  // Diagnostics only: the app, not necessarily this user, must read the file.
  await access(tokenFile, constants.R_OK).catch((err: NodeJS.ErrnoException) =>
    io.stderr(
      `credential-broker env: note: ${tokenFile} is not readable by this user (${err.code}); the app's user must be able to read it\n`,
    ),
  );
  return EXIT.OK;
}

/** POSIX single quotes; a quote inside becomes '\''. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
