// docs/operations.md "Observability" is the operator's reference: every metric the broker registers must be
// in its table, and every example alert rule (deploy/prometheus/alerts.yaml) in its alerts table.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Metrics } from '../../src/telemetry/metrics.ts';

const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/operations.md');

async function observabilitySection(): Promise<string> {
  const text = await readFile(README, 'utf8');
  const start = text.indexOf('\n## Observability\n');
  assert.ok(start >= 0, 'docs/operations.md has an "Observability" section');
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe('README Observability', () => {
  it('documents every credential_broker_* metric the broker registers', async () => {
    const section = await observabilitySection();
    const names = new Metrics({ processMetrics: false }).registry.getMetricsAsArray().map((m) => m.name);
    assert.ok(names.length >= 10, `${names.length} metrics`);
    for (const name of names) {
      assert.ok(name.startsWith('credential_broker_'), `${name} keeps the credential_broker_ prefix`);
      assert.ok(section.includes(`| \`${name}\` |`), `${name} is in the metrics table`);
    }
  });

  it('names every example alert rule of deploy/prometheus/alerts.yaml', async () => {
    // The rules themselves are checked by promtool in test/deploy/prometheus-alerts.test.ts.
    const section = await observabilitySection();
    const file = path.join(path.dirname(README), '../deploy/prometheus/alerts.yaml');
    const alerts = (
      parse(await readFile(file, 'utf8')) as { groups: { rules: { alert: string }[] }[] }
    ).groups.flatMap((g) => g.rules.map((r) => r.alert));
    assert.ok(alerts.length >= 5, alerts.join(', '));
    for (const alert of alerts)
      assert.ok(section.includes(`| \`${alert}\` |`), `${alert} is in the alerts table`);
  });
});
