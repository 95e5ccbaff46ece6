// Its own module so that `--help` and `advise` can name it without loading zod, yaml and the schema.
export const DEFAULT_CONFIG_PATH = '/etc/credential-broker/config.yaml';
