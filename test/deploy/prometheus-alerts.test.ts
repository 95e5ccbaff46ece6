// deploy/prometheus/alerts.yaml, the example alert rules: promtool (Debian's `prometheus` package,
// which scripts/test.sh installs) checks them and runs their unit tests (alerts.test.yaml, series in
// and alerts expected out); breaking any rule's expression must fail those tests; and every metric
// and label value the rules match on must be in what a real broker serves at /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startWorld, type World } from '../harness/world.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = path.join(ROOT, 'deploy/prometheus');
const run = promisify(execFile);

interface Rule {
  alert: string;
  expr: string;
}
type RuleFile = { groups: { name: string; rules: Rule[] }[] };

async function promtoolPresent(): Promise<boolean> {
  try {
    await run('promtool', ['--version']);
    return true;
  } catch {
    return false;
  }
}
// In CI scripts/test.sh has installed it: its absence there is a failure, not a skip.
const present = await promtoolPresent();
const skip =
  present || process.env.CI
    ? false
    : 'promtool not installed (Debian package `prometheus`; scripts/test.sh installs it)';

async function promtool(...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: DIR });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

async function rules(): Promise<Rule[]> {
  const file = parse(await readFile(path.join(DIR, 'alerts.yaml'), 'utf8')) as RuleFile;
  return file.groups.flatMap((g) => g.rules);
}

describe('Prometheus alert rules (deploy/prometheus/alerts.yaml)', { skip }, () => {
  it('are valid rules and pass their promtool unit tests', async () => {
    const check = await promtool('check', 'rules', 'alerts.yaml');
    assert.ok(check.ok, check.output);
    assert.match(check.output, /SUCCESS: 9 rules found/);
    const test = await promtool('test', 'rules', 'alerts.test.yaml');
    assert.ok(test.ok, test.output);
    assert.match(test.output, /SUCCESS/);
  });

  it('cover the expiry, refresh failure, readiness, down and refusal cases', async () => {
    const names = (await rules()).map((r) => r.alert);
    for (const alert of [
      'CredentialBrokerCredentialsExpiringSoon',
      'CredentialBrokerRefreshFailing',
      'CredentialBrokerNotReady',
      'CredentialBrokerDown',
      'CredentialBrokerRefusingRequests',
    ]) {
      assert.ok(names.includes(alert), `${alert} in ${names.join(', ')}`);
    }
  });

  it("fail their unit tests when any rule's expression is broken (never fires, or fires on everything)", async () => {
    const tmp = await mkdtemp(path.join(tmpdir(), 'cb-alerts-'));
    try {
      await copyFile(path.join(DIR, 'alerts.test.yaml'), path.join(tmp, 'alerts.test.yaml'));
      const original = parse(await readFile(path.join(DIR, 'alerts.yaml'), 'utf8')) as RuleFile;
      const survivors: string[] = [];
      for (const { alert } of await rules()) {
        for (const [label, expr] of [
          ['never fires', 'vector(1) == 0'],
          ['fires on every series', '{__name__=~"credential_broker_.+|up"}'],
        ] as const) {
          const mutated = structuredClone(original);
          for (const rule of mutated.groups.flatMap((g) => g.rules))
            if (rule.alert === alert) rule.expr = expr;
          await writeFile(path.join(tmp, 'alerts.yaml'), stringify(mutated));
          try {
            await run('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: tmp });
            survivors.push(`${alert} (${label})`);
          } catch {
            // the unit tests caught it
          }
        }
      }
      assert.deepEqual(survivors, [], 'mutations the unit tests did not catch');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  describe('against a real broker', () => {
    let world: World;
    let scrape: string;
    before(async () => {
      world = await startWorld();
      const { broker, app } = await world.broker(world.config({ app: world.oidcProfile() }));
      await broker.start();
      const token = await world.token();
      const served = await app.inject({ url: '/v1/credentials/app', headers: { authorization: token } });
      assert.equal(served.statusCode, 200, served.body);
      const refused = await app.inject({ url: '/v1/credentials/app', headers: { authorization: 'wrong' } });
      assert.equal(refused.statusCode, 401);
      scrape = (await app.inject({ url: '/metrics' })).body;
    });
    after(() => world?.close());

    it('every credential_broker_* metric a rule queries is on /metrics', async () => {
      const exposed = new Set([...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      const missing: string[] = [];
      for (const rule of await rules()) {
        const used = rule.expr.match(/credential_broker_\w+/g) ?? [];
        for (const metric of used) if (!exposed.has(metric)) missing.push(`${rule.alert}: ${metric}`);
      }
      assert.deepEqual(missing, []);
    });

    it('the label values the rules match on are the ones the broker gives', async () => {
      const byName = new Map((await rules()).map((r) => [r.alert, r.expr]));
      // The refusal ratio: its route regex matches the credentials route (served and refused
      // requests alike), not /metrics.
      const routeRegex = /route=~"([^"]+)"/.exec(byName.get('CredentialBrokerRefusingRequests') ?? '')?.[1];
      assert.ok(routeRegex, 'a route matcher');
      const route = new RegExp(`^(?:${routeRegex})$`);
      const samples = [
        ...scrape.matchAll(/^credential_broker_http_requests_total\{route="([^"]+)",status="(\d+)"\}/gm),
      ].map((m) => ({ route: m[1]!, status: m[2]! }));
      const credentials = samples.filter((s) => route.test(s.route));
      assert.deepEqual(credentials.map((s) => s.status).sort(), ['200', '401'], JSON.stringify(samples));
      assert.ok(!route.test('/readyz') && !route.test('/metrics'));
      // Token probing counts reason="invalid", what a wrong token is recorded as.
      assert.match(byName.get('CredentialBrokerTokenProbing') ?? '', /reason="invalid"/);
      assert.match(scrape, /^credential_broker_auth_failures_total\{reason="invalid"\} 1$/m);
      // Not ready: state="empty" is one of the states the gauge reports.
      assert.match(byName.get('CredentialBrokerNotReady') ?? '', /state="empty"/);
      assert.match(scrape, /^credential_broker_profile_state\{profile="app",state="empty"\} 0$/m);
      // The expiry alert's gauge holds a Unix time in seconds, about an hour ahead.
      const expiry = Number(
        /^credential_broker_credentials_expiry_timestamp_seconds\{profile="app"\} (\S+)$/m.exec(scrape)?.[1],
      );
      const ahead = expiry - Date.now() / 1000;
      assert.ok(ahead > 900 && ahead <= 3600 * 12, `expires ${ahead} s ahead`);
    });
  });
});
