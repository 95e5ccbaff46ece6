// `credential-broker exec --profile P -- CMD ARGS`: runs one command with a profile's credentials,
// as `aws-vault exec` and `saml2aws exec` do. Like aws-vault's default, it serves them itself for
// the run (the container-credentials endpoint on an ephemeral loopback port, a fresh client token),
// so a long command gets refreshed credentials; `--env-credentials` puts one set in the environment
// instead, for tools that read only AWS_ACCESS_KEY_ID & co. It fetches from the IdP and STS itself
// (a running `serve` is not needed and not used): exec is for a person or a job, serve for daemons.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { Broker } from '../broker.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema/index.ts';
import { BrokerError, describeError, EXIT } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import { buildApp } from '../server/app.ts';
import { clientTokensFor } from '../server/client-tokens.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { Io } from './io.ts';

/**
 * Variables that would make the child's SDK use other credentials than the ones exec gives it:
 * each SDK's chain reads environment keys, a named profile and web identity before the container
 * endpoint. The same list aws-vault unsets, plus the container and web-identity variables.
 */
export const CONFLICTING_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_CREDENTIAL_FILE',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

/** Set in the child (like aws-vault's AWS_VAULT): scripts can tell which profile they run under. */
export const PROFILE_ENV = 'CREDENTIAL_BROKER_PROFILE';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function execCommand(
  opts: {
    configPath: string;
    profile: string | undefined;
    envCredentials: boolean;
    command: string[];
    terminated: boolean;
  },
  io: Io,
): Promise<number> {
  const usage = (why: string) => {
    io.stderr(`credential-broker exec: ${why}\n`);
    return EXIT.USAGE;
  };
  if (!opts.profile)
    return usage('pass --profile NAME: credential-broker exec --profile NAME -- CMD [ARGS...]');
  if (opts.command.length === 0 || !opts.terminated) {
    return usage(
      `put the command after "--": credential-broker exec --profile ${opts.profile} -- ${opts.command.join(' ') || 'CMD [ARGS...]'}`,
    );
  }
  const { config, file } = await loadConfigFile(opts.configPath);
  const profile = config.profiles[opts.profile];
  if (!profile) {
    return usage(
      `${file} has no profile "${opts.profile}"; pass one of: ${Object.keys(config.profiles).join(', ')}`,
    );
  }
  // Warnings and errors only, on stderr: stdout belongs to CMD.
  const logger = createLogger({
    level: process.env.LOG_LEVEL || 'warn',
    destination: process.stderr,
    journal: false,
  });
  const metrics = new Metrics({ processMetrics: false });
  const env = childEnv(process.env, opts.profile);

  if (opts.envCredentials) {
    const broker = new Broker(onlyProfile(config, opts.profile, undefined), { logger, metrics });
    let creds: AwsCredentials;
    try {
      creds = await broker.fetchOnce(opts.profile);
    } catch (err) {
      return failed(io, opts.profile, err);
    }
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      // botocore, the JS SDK v3 and the Go SDK read it; the others ignore it.
      AWS_CREDENTIAL_EXPIRATION: creds.expiration.toISOString(),
    });
    return run(opts.command, env, io);
  }

  // The token lives in a folder only this user can enter (mkdtemp: 0700), as a 0600 file.
  const dir = await mkdtemp(path.join(tmpdir(), 'credential-broker-exec-'));
  try {
    return await serveFor(opts.command, env, onlyProfile(config, opts.profile, dir), opts.profile, {
      logger,
      metrics,
      io,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function serveFor(
  command: string[],
  env: NodeJS.ProcessEnv,
  config: Config,
  profile: string,
  deps: { logger: Logger; metrics: Metrics; io: Io },
): Promise<number> {
  const { logger, metrics, io } = deps;
  const broker = new Broker(config, { logger, metrics });
  const tokens = clientTokensFor(config, logger);
  await tokens.ensureAll(); // a fresh random token in the private folder
  const app = buildApp({
    broker,
    server: config.server,
    tokens: () => tokens,
    logger,
    metrics,
    listenHost: '127.0.0.1',
  });
  try {
    await broker.start();
    const status = broker.readiness().profiles[profile];
    if (status?.state !== 'ready') {
      return failed(io, profile, status?.lastError ?? new Error('no credentials'));
    }
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${base}/v1/credentials/${profile}`;
    // The file only, not AWS_CONTAINER_AUTHORIZATION_TOKEN: a token in the environment is
    // inherited by every descendant and shows up in their dumps; SDKs too old for the file
    // (AWS CLI < 2.13, botocore < 1.31) get --env-credentials.
    env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokens.fileFor(profile);
    return await run(command, env, io);
  } finally {
    broker.stop();
    await app.close();
  }
}

/** The config with the one profile exec needs, fetched at once, served on a private listener. */
function onlyProfile(config: Config, name: string, tokenDir: string | undefined): Config {
  const profile = config.profiles[name]!;
  return {
    ...config,
    imds: undefined,
    server: {
      ...config.server,
      listen: '127.0.0.1:0',
      tls: undefined,
      allow: undefined,
      tokenFile: tokenDir ? path.join(tokenDir, 'token') : undefined,
    },
    profiles: { [name]: { ...profile, lazy: false, tokenFile: undefined } },
  };
}

function childEnv(parent: NodeJS.ProcessEnv, profile: string): NodeJS.ProcessEnv {
  const env = { ...parent };
  for (const name of CONFLICTING_ENV) delete env[name];
  env[PROFILE_ENV] = profile;
  return env;
}

function failed(io: Io, profile: string, err: unknown): number {
  const code = (err as { code?: unknown }).code;
  // The line names the profile already; a BrokerError's own message does not repeat it.
  const why = err instanceof BrokerError ? err.message : describeError(err);
  io.stderr(
    `credential-broker exec: profile "${profile}" has no credentials: ${typeof code === 'string' ? `${code}: ` : ''}${why}; run credential-broker check --profile ${profile} for each step\n`,
  );
  return EXIT.FAILURE;
}

/**
 * Runs CMD with the terminal (stdin, stdout, stderr inherited) and returns its exit status, or
 * 128 + the signal's number when a signal ended it, as a shell reports it. SIGINT, SIGTERM and
 * SIGHUP sent to exec are passed on, so a supervisor stopping exec stops CMD.
 */
function run(command: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const [file, ...args] = command as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const s of FORWARDED) process.on(s, forward);
    const done = (code: number) => {
      for (const s of FORWARDED) process.off(s, forward);
      resolve(code);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      // As a shell: 127 not found, 126 found but not runnable.
      const notFound = err.code === 'ENOENT';
      io.stderr(
        `credential-broker exec: cannot run "${file}": ${notFound ? 'command not found (check PATH)' : (err.code ?? describeError(err))}\n`,
      );
      done(notFound ? 127 : 126);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
