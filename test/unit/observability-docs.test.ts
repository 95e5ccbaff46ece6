// docs/operations.md "Observability" is the operator's reference: every metric the broker registers must be
// in its table, and the example alerts must be valid YAML that only query metrics that exist.
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

  it('example alerts are valid YAML rules that query existing metrics', async () => {
    const section = await observabilitySection();
    const block = /```yaml\n([\s\S]*?)```/.exec(section);
    assert.ok(block, 'a yaml block of alert rules');
    const rules = (
      parse(block[1]!) as { groups: { rules: { alert: string; expr: string }[] }[] }
    ).groups.flatMap((g) => g.rules);
    const names = new Set(
      new Metrics({ processMetrics: false }).registry.getMetricsAsArray().map((m) => m.name),
    );
    assert.ok(
      rules.some((r) => r.expr.includes('credential_broker_credentials_expiry_timestamp_seconds')),
      'an expiry alert',
    );
    assert.ok(
      rules.some((r) => r.expr.includes('credential_broker_fetch_errors_total')),
      'a source-failure alert',
    );
    for (const rule of rules) {
      const used = String(rule.expr).match(/credential_broker_\w+/g) ?? [];
      assert.ok(used.length > 0, rule.alert);
      for (const metric of used) assert.ok(names.has(metric), `${rule.alert}: ${metric} exists`);
    }
  });
});
