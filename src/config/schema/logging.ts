// Config sections `logging`, `metrics` (the health and metrics listener) and `reload`.
import * as z from 'zod';
import { HostPortSchema } from './common.ts';

export const LoggingSchema = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .meta({ description: 'Least severe level logged; `LOG_LEVEL` in the environment wins.' }),
  format: z
    .enum(['json', 'pretty'], { error: 'logging.format must be json or pretty' })
    .default('json')
    .meta({
      description:
        '`json` (one object per line, for journald and log shippers) or `pretty` (for a terminal); `LOG_FORMAT` in the environment wins. Secrets are redacted either way.',
    }),
});

export const MetricsSchema = z.strictObject({
  listen: HostPortSchema.optional().meta({
    description:
      '`/metrics`, `/healthz` and `/readyz` on a listener of their own (e.g. the pod IP for Prometheus and probes, while credentials stay on loopback). Plain http on any address: it serves profile names and error codes, never credentials.',
    defaultText: 'only on the credentials listener',
    examples: ['0.0.0.0:9912'],
  }),
  hosts: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a host name, like metrics.example.internal' }),
    )
    .optional()
    .meta({
      description:
        'Host names (besides IP addresses and loopback names, always accepted) that scrapers may put in `Host` on this listener; any other name gets 403 `HOST_REFUSED`, so a DNS-rebinding web page cannot read profile names and error codes.',
      defaultText: 'none: only IP addresses and loopback names',
      examples: [['broker-metrics.monitoring.svc']],
    }),
});

export const ReloadSchema = z.strictObject({
  watch: z.boolean({ error: 'reload.watch must be true or false' }).default(false).meta({
    description:
      "Also reload when the config file changes (its folder is watched, so editors' renames and Kubernetes ConfigMap updates count); SIGHUP always reloads.",
  }),
});
