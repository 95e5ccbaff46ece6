// `credential-broker check`: validates the config, then walks each profile through the steps a
// fetch takes, timing each and naming the one that fails with its code and fix:
//   identity source    read the secrets, reach the IdP, authenticate (a proof: JWT, assertion, ...)
//   STS exchange       the proof (and any chain) for temporary credentials
//   GetCallerIdentity  what AWS says those credentials are; also measures the STS clock skew
//   running broker     whether a broker listening on server.listen serves this profile
import { readFile } from 'node:fs/promises';
import { Broker } from '../broker.ts';
import { loadConfigOrEnvironment } from '../config/from-env.ts';
import { ConfigError, describeError, type ErrorCode, EXIT, isBrokerError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import { networkErrorCode, parseListen } from '../net.ts';
import { tokenFileFor } from '../server/client-tokens.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { networkHint, type StepName, stepTarget } from './check-steps.ts';
import type { Io } from './io.ts';

interface Step {
  name: StepName;
  ok: boolean;
  skipped?: boolean;
  durationMs: number;
  detail?: string;
  error?: { code: string; message: string };
}

interface CheckResult {
  profile: string;
  source: string;
  role: string;
  ok: boolean;
  callerArn?: string;
  expiration?: string;
  durationMs: number;
  steps: Step[];
  /** Problems that do not fail the check yet (clock skew). */
  warnings: string[];
  error?: { code: string; message: string };
}

/** Past this, SigV4 still works (the SDKs correct up to 15 min) but something is wrong with time sync. */
const SKEW_WARNING_MS = 60_000;

export async function checkCommand(
  opts: { configPath: string; profile?: string; json: boolean },
  io: Io,
): Promise<number> {
  const { config, file } = await loadConfigOrEnvironment(opts.configPath);
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

  // On a terminal, each step shows as it starts and is completed with ok/failed (stderr: stdout
  // keeps the report alone, the same as in a pipe or a file).
  const progress = !opts.json && io.isTerminal?.stderr ? io.stderr : undefined;
  const results: CheckResult[] = [];
  try {
    for (const profile of names) {
      progress?.(`${profile}:\n`);
      const result = await checkProfile(broker, profile, progress);
      results.push(result);
      if (!opts.json) io.stdout(formatResult(result));
    }
  } finally {
    await broker.stop(); // its STS clients' connections
  }
  if (opts.json) io.stdout(`${JSON.stringify({ config: file, results }, null, 2)}\n`);
  const failed = results.filter((r) => !r.ok).length;
  if (!opts.json) io.stdout(`${results.length - failed} of ${results.length} profiles ok\n`);
  return failed === 0 ? EXIT.OK : EXIT.FAILURE;
}

async function checkProfile(
  broker: Broker,
  profile: string,
  progress: ((text: string) => void) | undefined,
): Promise<CheckResult> {
  const info = broker.describe(profile);
  const config = broker.config.profiles[profile]!;
  const steps = broker.stepsOf(profile);
  const result: CheckResult = {
    profile,
    source: `${info.sourceType} ${info.source}`,
    role: info.roleArn,
    ok: false,
    durationMs: 0,
    steps: [],
    warnings: [],
  };
  const started = Date.now();
  const step = <T>(name: StepName, run: () => Promise<T>) =>
    runStep(result, name, stepTarget(name, config, info.sts), run, progress);
  const proof = await step('identity source', () => steps.prove());
  const creds = proof && (await step('STS exchange', () => steps.exchange(proof)));
  const who = creds && (await step('GetCallerIdentity', () => broker.callerIdentity(profile, creds)));
  if (creds && who) {
    Object.assign(result, { callerArn: who.arn, expiration: creds.expiration.toISOString() });
    const skew = creds.clockSkewMs ?? 0;
    if (Math.abs(skew) > SKEW_WARNING_MS) {
      result.warnings.push(
        `this host's clock is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'behind' : 'ahead of'} STS's (from its Date header): fix time sync (NTP); past 5 min tokens and SigV4 start to fail`,
      );
    }
    progress?.(`  … ${stepTarget('running broker', config, info.sts).doing}…`);
    await checkRunningBroker(broker, profile, creds, result);
    const last = result.steps.at(-1);
    progress?.(` ${last?.skipped ? 'skipped' : last?.ok ? 'ok' : 'failed'}\n`);
  }
  result.ok = result.steps.every((s) => s.ok);
  result.error = result.steps.find((s) => !s.ok)?.error;
  result.durationMs = Date.now() - started;
  return result;
}

async function runStep<T>(
  result: CheckResult,
  name: StepName,
  target: ReturnType<typeof stepTarget>,
  run: () => Promise<T>,
  progress: ((text: string) => void) | undefined,
): Promise<T | undefined> {
  progress?.(`  … ${target.doing}…`);
  const started = Date.now();
  try {
    const value = await run();
    const durationMs = Date.now() - started;
    result.steps.push({ name, ok: true, durationMs });
    progress?.(` ok (${durationMs} ms)\n`);
    return value;
  } catch (err) {
    const hint = networkHint(err, target);
    const error = {
      code: isBrokerError(err) ? err.code : ('UNEXPECTED' satisfies ErrorCode),
      message: `${describeError(err)}${hint ? `; ${hint}` : ''}`,
    };
    const durationMs = Date.now() - started;
    result.steps.push({ name, ok: false, durationMs, error });
    progress?.(` failed (${durationMs} ms)\n`);
    return undefined;
  }
}

/** Asks a broker already listening on server.listen for this profile, as an app would. */
async function checkRunningBroker(
  broker: Broker,
  profile: string,
  creds: AwsCredentials,
  result: CheckResult,
) {
  const { host, port } = parseListen(broker.config.server.listen);
  const started = Date.now();
  const done = (fields: Omit<Step, 'name' | 'durationMs'>) =>
    result.steps.push({ name: 'running broker', durationMs: Date.now() - started, ...fields });
  if (port === 0)
    return done({ ok: true, skipped: true, detail: 'server.listen has port 0: nothing to ask' });
  const url = `${broker.config.server.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/v1/credentials/${profile}`;
  let token: string;
  try {
    token = await readFile(tokenFileFor(broker.config, profile), 'utf8');
  } catch {
    return done({
      ok: true,
      skipped: true,
      detail: `no token file at ${tokenFileFor(broker.config, profile)} (broker never started?)`,
    });
  }
  try {
    const res = await fetch(url, { headers: { authorization: token }, signal: AbortSignal.timeout(3000) });
    const body = (await res.json().catch(() => ({}))) as {
      AccountId?: string;
      code?: string;
      message?: string;
    };
    if (res.status === 200 && body.AccountId === creds.accountId) {
      return done({ ok: true, detail: `${url} serves it` });
    }
    return done({
      ok: false,
      error: {
        code: body.code ?? `HTTP_${res.status}`,
        message: `the broker at ${url} answered ${res.status}: ${body.message ?? 'unexpected answer'}`,
      },
    });
  } catch (err) {
    if (networkErrorCode(err) === 'ECONNREFUSED') {
      return done({ ok: true, skipped: true, detail: `no broker listening at ${url}` });
    }
    return done({
      ok: false,
      error: { code: 'BROKER_UNREACHABLE' satisfies ErrorCode, message: `${url}: ${describeError(err)}` },
    });
  }
}

function formatResult(r: CheckResult): string {
  const lines = [`${r.ok ? 'ok  ' : 'FAIL'} ${r.profile}  source=${r.source}  role=${r.role}`];
  for (const s of r.steps) {
    const mark = s.skipped ? '-' : s.ok ? '✓' : '✗';
    const what = s.error ? `${s.error.code}: ${s.error.message}` : (s.detail ?? '');
    lines.push(`     ${mark} ${s.name.padEnd(18)} ${String(s.durationMs).padStart(5)} ms  ${what}`.trimEnd());
  }
  if (r.callerArn) lines.push(`     caller=${r.callerArn}  expires=${r.expiration}  (${r.durationMs} ms)`);
  for (const w of r.warnings) lines.push(`     warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
