// `npm run bench`: what the broker promises, each figure a ratio against a baseline measured in
// the same run on the same machine (machines are noisy; absolute numbers are printed beside the
// ratios only for context). Real parts throughout: oidc-provider, the STS emulator, the broker as
// its own process (`node dist/main.js serve`), autocannon and the AWS SDK as clients.
// Results: a table on stdout, JSON in bench/results/.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromHttp } from '@aws-sdk/credential-providers';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { Broker } from '../src/broker.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { createSource } from '../src/sources/index.ts';
import { exchange } from '../src/sts/exchange.ts';
import { resolveStsSettings } from '../src/sts/request.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { Metrics } from '../src/telemetry/metrics.ts';
import { OidcOp } from '../test/harness/oidc-op.ts';
import { StsEmulator } from '../test/harness/sts-emulator.ts';
import { FakeClock } from '../test/helpers/fake-clock.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick'); // shorter runs, for a smoke test of the bench itself
// `--only throughput,memory`: just those benchmarks, while working on one of them.
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined;
const ROLE = 'arn:aws:iam::123456789012:role/bench';

interface Row {
  name: string;
  value: number;
  baseline: number;
  unit: string;
  ratio: number;
  target: string;
  ok: boolean | undefined;
}
const rows: Row[] = [];
function record(
  name: string,
  value: number,
  baseline: number,
  unit: string,
  target: string,
  ok?: boolean,
): void {
  const ratio = baseline === 0 ? Number.NaN : value / baseline;
  rows.push({ name, value, baseline, unit, ratio, target, ok });
  console.error(
    `  ${name}: ${fmt(value)} vs ${fmt(baseline)} ${unit} (×${Number.isFinite(ratio) ? ratio.toFixed(2) : '–'})`,
  );
}

// ---------------------------------------------------------------- the world

const dir = await mkdtemp(path.join(tmpdir(), 'cb-bench-'));
const op = await OidcOp.start({
  clients: [{ clientId: 'bench', clientSecret: 'bench-secret' }],
  accessTokenTtl: 3600,
});
const sts = await StsEmulator.start();
sts.registerOidcProvider({ issuer: op.issuer, clientIds: ['sts.amazonaws.com'] });
sts.trustRole({ roleArn: ROLE, issuer: op.issuer });
await writeFile(path.join(dir, 'secret'), 'bench-secret', { mode: 0o600 });
const tokenFile = path.join(dir, 'token');

function profile(lazy = false) {
  return {
    source: {
      type: 'oidc',
      issuer: op.issuer,
      clientId: 'bench',
      clientAuth: { method: 'client_secret_basic', clientSecret: `file:${path.join(dir, 'secret')}` },
    },
    role: { arn: ROLE },
    lazy,
  };
}

async function configFile(name: string, profiles: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    stringify({
      server: { listen: '127.0.0.1:0', tokenFile },
      logging: { level: 'info' },
      sts: { endpoint: sts.url },
      profiles,
    }),
  );
  return file;
}

interface Running {
  child: ChildProcess;
  url: string;
  readyMs: number;
  stop(): Promise<void>;
}

/** Starts `node dist/main.js serve` and resolves when it logs that every profile is ready.
 * Its log goes to a file, so that reading it costs this (load-generating) process nothing. */
async function startBroker(config: string): Promise<Running> {
  const log = `${config}.log`;
  const out = openSync(log, 'w');
  const started = performance.now();
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile the broker under the load.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, path.join(root, 'dist/main.js'), 'serve', '--config', config],
    {
      stdio: ['ignore', out, 'inherit'],
    },
  );
  closeSync(out);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if (exited !== undefined) throw new Error(`broker exited ${exited}; see ${log}`);
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; address?: string });
    const ready = lines.find((l) => l.msg.startsWith('ready'));
    if (!ready) continue;
    const url = lines.find((l) => l.address)?.address ?? '';
    return {
      child,
      url,
      readyMs: performance.now() - started,
      stop: () =>
        new Promise((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }
}

/** A reference server (bench/baseline-server.ts, bench/fastify-floor-server.ts) as its own process. */
function startBaseline(script = 'baseline-server.ts'): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench', script), tokenFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({
        url: `http://127.0.0.1:${line.split(' ')[1]}`,
        pid: child.pid!,
        stop: () => child.kill('SIGTERM'),
      }),
    );
  });
}

/** CPU time (user + system) a process has used so far, in µs (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** A load run plus the server's CPU time per answered request: steadier than req/s on a busy
 * machine, since it does not depend on how much CPU the load generator left the server. */
async function loadWithCpu(pid: number, url: string, connections: number, duration: number) {
  const before = cpuMicros(pid);
  const result = await load(url, connections, { duration });
  const micros = (cpuMicros(pid) - before) / Math.max(result.requests.total, 1);
  return { result, micros };
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

async function load(url: string, connections: number, opts: { duration?: number; amount?: number }) {
  const token = readFileSync(tokenFile, 'utf8');
  return autocannon({ url, connections, headers: { authorization: token }, pipelining: 1, ...opts });
}

/** One exchange done directly (source + STS), the unit the other timings are compared with. */
async function directExchangeMs(): Promise<number> {
  const config = ConfigSchema.parse({ sts: { endpoint: sts.url }, profiles: { p: profile() } });
  const p = config.profiles.p!;
  const source = createSource('p', p.source);
  const started = performance.now();
  const proof = await source.getProof();
  await exchange({ profile: 'p', proof, role: p.role, sts: resolveStsSettings(config.sts) });
  return performance.now() - started;
}

// ---------------------------------------------------------------- the benchmarks

async function throughput(): Promise<void> {
  console.error('warm GET throughput and latency (autocannon) vs a plain node:http server');
  const broker = await startBroker(await configFile('one.yaml', { default: profile() }));
  const baseline = await startBaseline();
  const floor = await startBaseline('fastify-floor-server.ts');
  const duration = quick ? 2 : 6;
  try {
    await load(`${broker.url}/v1/credentials`, 10, { duration: 1 }); // warm-up (JIT, connections)
    await load(`${baseline.url}/v1/credentials`, 10, { duration: 1 });
    await load(`${floor.url}/v1/credentials`, 10, { duration: 1 });
    for (const connections of [1, 10, 50]) {
      const { result: base, micros: baseMicros } = await loadWithCpu(
        baseline.pid,
        `${baseline.url}/v1/credentials`,
        connections,
        duration,
      );
      const { result: ours, micros: ourMicros } = await loadWithCpu(
        broker.child.pid!,
        `${broker.url}/v1/credentials`,
        connections,
        duration,
      );
      if (ours.non2xx > 0 || ours.errors > 0)
        throw new Error(`broker answered ${ours.non2xx} non-2xx, ${ours.errors} errors`);
      const { result: bare, micros: bareMicros } = await loadWithCpu(
        floor.pid,
        `${floor.url}/v1/credentials`,
        connections,
        duration,
      );
      const rps = ours.requests.average / base.requests.average;
      record(
        `req/s, ${connections} conn`,
        ours.requests.average,
        base.requests.average,
        'req/s',
        '≥ 0.8×',
        rps >= 0.8,
      );
      record(`server CPU per request, ${connections} conn`, ourMicros, baseMicros, 'µs', 'report');
      record(
        `bare fastify route: req/s, ${connections} conn`,
        bare.requests.average,
        base.requests.average,
        'req/s',
        'report',
      );
      record(
        `bare fastify route: CPU per request, ${connections} conn`,
        bareMicros,
        baseMicros,
        'µs',
        'report',
      );
      record(`p50 latency, ${connections} conn`, ours.latency.p50, base.latency.p50, 'ms', 'report');
      const p99 = ours.latency.p99 / Math.max(base.latency.p99, 1);
      record(
        `p99 latency, ${connections} conn`,
        ours.latency.p99,
        Math.max(base.latency.p99, 1),
        'ms',
        '≤ 1.5×',
        p99 <= 1.5,
      );
    }
  } finally {
    baseline.stop();
    floor.stop();
    await broker.stop();
  }
}

async function coldBurst(): Promise<void> {
  console.error('cold burst: 1,000 concurrent first requests for one lazy profile');
  const one = await directExchangeMs();
  const broker = await startBroker(await configFile('lazy.yaml', { default: profile(true) }));
  try {
    const token = readFileSync(tokenFile, 'utf8');
    const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
    const before = sts.calls('AssumeRoleWithWebIdentity');
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<number>((resolve, reject) => {
            http
              .get(`${broker.url}/v1/credentials`, { agent, headers: { authorization: token } }, (res) => {
                res.resume().on('end', () => resolve(res.statusCode ?? 0));
              })
              .on('error', reject);
          }),
      ),
    );
    const elapsed = performance.now() - started;
    agent.destroy();
    const calls = sts.calls('AssumeRoleWithWebIdentity') - before;
    const ok = statuses.filter((s) => s === 200).length;
    record('cold burst: STS calls for 1,000 requests', calls, 1, 'calls', '= 1', calls === 1 && ok === 1000);
    record('cold burst: all answered vs one exchange', elapsed, one, 'ms', 'report');
  } finally {
    await broker.stop();
  }
}

async function sdkLoop(): Promise<void> {
  console.error('AWS SDK v3 GetCallerIdentity loop: credentials via the broker vs static credentials');
  const broker = await startBroker(await configFile('sdk.yaml', { default: profile() }));
  const n = quick ? 50 : 300;
  try {
    const token = readFileSync(tokenFile, 'utf8');
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${broker.url}/v1/credentials`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = token;
    const viaBroker = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: fromHttp({}) });
    const creds = await viaBroker.config.credentials();
    const staticClient = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: creds });
    const time = async (client: STSClient) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) await client.send(new GetCallerIdentityCommand({}));
      return performance.now() - started;
    };
    await time(staticClient); // warm-up
    const base = await time(staticClient);
    const ours = await time(
      new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: fromHttp({}) }),
    );
    record(`SDK loop of ${n} GetCallerIdentity`, ours, base, 'ms', '≤ 1.1×', ours / base <= 1.1);
  } finally {
    delete process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
    delete process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
    await broker.stop();
  }
}

async function startup(): Promise<void> {
  console.error('startup to ready vs bare node start + one direct exchange');
  const config = await configFile('startup.yaml', { default: profile() });
  const samples: number[] = [];
  const bases: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const broker = await startBroker(config);
    samples.push(broker.readyMs);
    await broker.stop();
    const started = performance.now();
    execFileSync(process.execPath, ['-e', '']);
    bases.push(performance.now() - started + (await directExchangeMs()));
  }
  record('startup to ready (median)', median(samples), median(bases), 'ms', 'report');
}

async function memory(): Promise<void> {
  console.error('memory: RSS with 1 and 100 profiles, growth over many requests');
  const one = await startBroker(await configFile('one.yaml', { default: profile() }));
  const rssOne = rssMb(one.child.pid!);
  const profiles = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, profile()]));
  const hundred = await startBroker(await configFile('hundred.yaml', { default: profile(), ...profiles }));
  const rssHundred = rssMb(hundred.child.pid!);
  await hundred.stop();
  record('RSS, 100 profiles (vs 1 profile)', rssHundred, rssOne, 'MB', '< 80 MB', rssHundred < 80);
  try {
    const amount = quick ? 50_000 : 1_000_000;
    await load(`${one.url}/v1/credentials`, 50, { amount: 50_000 }); // warm-up: JIT, pools, caches
    const before = rssMb(one.child.pid!);
    const result = await load(`${one.url}/v1/credentials`, 50, { amount });
    if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers`);
    const after = rssMb(one.child.pid!);
    record(
      `RSS growth over ${amount.toLocaleString('en')} requests`,
      after - before,
      before,
      'MB',
      '< 5 MB',
      after - before < 5,
    );
  } finally {
    await one.stop();
  }
}

async function stsCallsPerHour(): Promise<void> {
  console.error('STS calls per profile per hour under steady load vs what the refresh policy predicts');
  const clock = new FakeClock(Date.now());
  const fakeSts = await StsEmulator.start({ now: () => clock.now() });
  const longOp = await OidcOp.start({
    clients: [{ clientId: 'bench', clientSecret: 'bench-secret' }],
    accessTokenTtl: 86_400,
  });
  fakeSts.registerOidcProvider({ issuer: longOp.issuer, clientIds: ['sts.amazonaws.com'] });
  fakeSts.trustRole({ roleArn: ROLE, issuer: longOp.issuer });
  const p = { ...profile(), source: { ...profile().source, issuer: longOp.issuer } };
  const config = ConfigSchema.parse({
    server: { tokenFile },
    sts: { endpoint: fakeSts.url },
    profiles: { a: p, b: p },
  });
  const random = () => 0.5;
  const broker = new Broker(config, {
    logger: createLogger({ level: 'silent' }),
    metrics: new Metrics({ processMetrics: false }),
    clock,
    random,
  });
  try {
    await broker.start();
    const hours = 12;
    for (let t = 0; t < hours * 3600_000; t += 10_000) {
      await clock.advance(10_000);
      await broker.settled();
      await Promise.all([broker.credentials('a'), broker.credentials('b')]);
    }
    const perProfileHour = fakeSts.calls('AssumeRoleWithWebIdentity') / 2 / hours;
    // policy: refresh at lifetime − before × (1 + jitter × r) = 60 − 31.5 min → every 28.5 min
    const predicted = 60 / (60 - 30 * (1 + 0.1 * 0.5));
    record(
      'STS calls per profile per hour',
      perProfileHour,
      predicted,
      'calls/h',
      '≈ 1× (±10%)',
      Math.abs(perProfileHour / predicted - 1) <= 0.1,
    );
  } finally {
    broker.stop();
    await Promise.all([fakeSts.close(), longOp.close()]);
  }
}

// ---------------------------------------------------------------- run and report

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2);
}

try {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const benchmarks = { throughput, coldBurst, sdkLoop, startup, memory, stsCallsPerHour };
  const unknown = [...(only ?? [])].filter((name) => !(name in benchmarks));
  if (unknown.length > 0) {
    throw new Error(
      `--only: no benchmark ${unknown.join(', ')}; choose from ${Object.keys(benchmarks).join(', ')}`,
    );
  }
  for (const [name, bench] of Object.entries(benchmarks)) {
    if (!only || only.has(name)) await bench();
  }
} finally {
  await Promise.all([op.close(), sts.close()]);
  await rm(dir, { recursive: true, force: true });
}

const header = '| benchmark | broker | baseline | ratio | target | ok |\n|---|---:|---:|---:|---|---|';
const lines = rows.map(
  (r) =>
    `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${fmt(r.baseline)} ${r.unit} | ${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '–'} | ${r.target} | ${r.ok === undefined ? '–' : r.ok ? 'yes' : '**no**'} |`,
);
console.log(`${header}\n${lines.join('\n')}`);
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const out = path.join(
  root,
  'bench/results',
  `${new Date().toISOString().replace(/[:.]/g, '-')}${quick || only ? '-quick' : ''}.json`,
);
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, rows }, null, 2)}\n`,
);
console.error(`results: ${path.relative(root, out)}`);
