// A pod set up for IAM Roles for Service Accounts (EKS's pod identity webhook, or the same variables
// set by hand) already says everything one web-identity-file profile needs: the role in
// AWS_ROLE_ARN, the projected token in AWS_WEB_IDENTITY_TOKEN_FILE, optionally the session name in
// AWS_ROLE_SESSION_NAME. With no config file, `serve` (and `check`) build that profile from them,
// as the AWS SDKs would, instead of asking for a file that would only repeat them.
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { DEFAULT_CONFIG_PATH } from './default-path.ts';
import { type LoadedConfig, loadConfigFile } from './load.ts';
import { ConfigSchema } from './schema/index.ts';

/** The one profile a config from the environment holds (the name an SDK's default profile has). */
export const ENV_PROFILE = 'default';
/** What `file` says for a config built from the environment (logs, `check`). */
export const ENV_CONFIG_LABEL = 'environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)';

const VARIABLE_OF: Record<string, string> = {
  [`profiles.${ENV_PROFILE}.role.arn`]: 'AWS_ROLE_ARN',
  [`profiles.${ENV_PROFILE}.role.sessionName`]: 'AWS_ROLE_SESSION_NAME',
  [`profiles.${ENV_PROFILE}.source.tokenFile`]: 'AWS_WEB_IDENTITY_TOKEN_FILE',
};

/** The config the IRSA variables describe; undefined when neither AWS_ROLE_ARN nor the token file is set. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): LoadedConfig | undefined {
  const { AWS_ROLE_ARN: arn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_SESSION_NAME: session } = env;
  if (!arn && !tokenFile) return undefined;
  if (!arn || !tokenFile) {
    const [set, unset] = arn
      ? ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']
      : ['AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN'];
    throw new ConfigError(
      `no config file, and ${set} is set without ${unset}: set both (as IRSA does) to serve one web-identity profile, or pass --config PATH`,
    );
  }
  const raw = {
    profiles: {
      [ENV_PROFILE]: {
        source: { type: 'web-identity-file', tokenFile: path.resolve(tokenFile) },
        role: { arn, ...(session ? { sessionName: session } : {}) },
      },
    },
  };
  const result = ConfigSchema.safeParse(raw, { jitless: true }); // as load.ts, for the same reason
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const at = issue.path.map(String).join('.');
      return `${VARIABLE_OF[at] ?? at}: ${issue.message}`;
    });
    throw new ConfigError(
      `no config file, and the IRSA variables do not make a profile: ${problems.join('; ')}`,
    );
  }
  return { config: result.data, file: ENV_CONFIG_LABEL };
}

/**
 * The config file; when --config was not given and the default file does not exist, the config the
 * IRSA variables describe. With neither, the error names both ways.
 */
export async function loadConfigOrEnvironment(
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig & { fromEnvironment: boolean }> {
  try {
    return { ...(await loadConfigFile(configPath)), fromEnvironment: false };
  } catch (err) {
    const missing = (err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT';
    if (!missing || path.resolve(configPath) !== DEFAULT_CONFIG_PATH) throw err;
    const fromEnv = configFromEnvironment(env);
    if (!fromEnv) {
      throw new ConfigError(
        `${DEFAULT_CONFIG_PATH}: cannot read the config file (no such file); pass --config PATH, or set AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (as IRSA does in a pod) to serve one web-identity profile without a config file`,
        { cause: err },
      );
    }
    return { ...fromEnv, fromEnvironment: true };
  }
}
