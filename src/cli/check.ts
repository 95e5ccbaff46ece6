import { Broker } from '../broker.ts';
import { loadConfigFile } from '../config/load.ts';
import { ConfigError, describeError, EXIT, isBrokerError } from '../errors.ts';
import { getCallerIdentity } from '../sts/exchange.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { Io } from './io.ts';

interface CheckResult {
  profile: string;
  source: string;
  role: string;
  ok: boolean;
  callerArn?: string;
  expiration?: string;
  durationMs: number;
  error?: { code: string; message: string };
}

/** Validates the config, then per profile: one live exchange, proved by GetCallerIdentity. */
export async function checkCommand(
  opts: { configPath: string; profile?: string; json: boolean },
  io: Io,
): Promise<number> {
  const { config, file } = await loadConfigFile(opts.configPath);
  const broker = new Broker(config, {
    logger: createLogger({ level: 'silent' }),
    metrics: new Metrics({ processMetrics: false }),
  });
  const names = opts.profile ? [opts.profile] : broker.profileNames();
  if (opts.profile && !broker.has(opts.profile)) {
    throw new ConfigError(
      `${file}: no profile "${opts.profile}"; configured: ${broker.profileNames().join(', ')}`,
    );
  }

  const results: CheckResult[] = [];
  for (const profile of names) {
    const info = broker.describe(profile);
    const started = Date.now();
    const result: CheckResult = {
      profile,
      source: `${info.sourceType} ${info.source}`,
      role: info.roleArn,
      ok: false,
      durationMs: 0,
    };
    try {
      const creds = await broker.fetchOnce(profile);
      const who = await getCallerIdentity(creds, info.sts, profile);
      Object.assign(result, { ok: true, callerArn: who.arn, expiration: creds.expiration.toISOString() });
    } catch (err) {
      result.error = { code: isBrokerError(err) ? err.code : 'UNEXPECTED', message: describeError(err) };
    }
    result.durationMs = Date.now() - started;
    results.push(result);
    if (!opts.json) io.stdout(formatResult(result));
  }
  if (opts.json) io.stdout(`${JSON.stringify({ config: file, results }, null, 2)}\n`);
  const failed = results.filter((r) => !r.ok).length;
  if (!opts.json) io.stdout(`${results.length - failed} of ${results.length} profiles ok\n`);
  return failed === 0 ? EXIT.OK : EXIT.FAILURE;
}

function formatResult(r: CheckResult): string {
  const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.profile}  source=${r.source}  role=${r.role}`;
  if (r.ok) return `${head}\n     caller=${r.callerArn}  expires=${r.expiration}  (${r.durationMs} ms)\n`;
  return `${head}\n     ${r.error?.code}: ${r.error?.message}\n`;
}
