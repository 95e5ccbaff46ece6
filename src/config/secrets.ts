import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SecretError } from '../errors.ts';

/**
 * Resolves a secret reference (validated by SecretRefSchema) to its value. Called on every use, so
 * a rotated file or credential is picked up without a restart. Messages name the reference, never
 * the value.
 *
 * - `file:/path`      a file; one trailing newline is dropped (editors add one)
 * - `env:NAME`        an environment variable of the broker process
 * - `credential:NAME` a systemd credential: $CREDENTIALS_DIRECTORY/NAME (LoadCredential=)
 */
export async function readSecret(ref: string): Promise<string> {
  const colon = ref.indexOf(':');
  const scheme = ref.slice(0, colon);
  const name = ref.slice(colon + 1);
  switch (scheme) {
    case 'file':
      return readSecretFile(path.resolve(name), ref);
    case 'env': {
      const value = process.env[name];
      if (value === undefined || value === '') {
        throw new SecretError(
          `secret ${ref}: environment variable ${name} is not set; set it for the broker process`,
        );
      }
      return value;
    }
    case 'credential': {
      const dir = process.env.CREDENTIALS_DIRECTORY;
      if (!dir) {
        throw new SecretError(
          `secret ${ref}: $CREDENTIALS_DIRECTORY is not set; run under systemd with LoadCredential=${name}:/path, or use file:`,
        );
      }
      return readSecretFile(path.join(dir, name), ref);
    }
    default:
      throw new SecretError(
        `secret ${ref}: unknown reference kind "${scheme}"; use file:, env: or credential:`,
      );
  }
}

async function readSecretFile(file: string, ref: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new SecretError(`secret ${ref}: ${file} is empty`);
    return value;
  } catch (err) {
    if (err instanceof SecretError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied for the broker user' : code;
    throw new SecretError(`secret ${ref}: cannot read ${file} (${why})`, { cause: err });
  }
}
