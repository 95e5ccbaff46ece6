// docs/config-reference.md is generated from the schema (scripts/config-reference.ts); these tests
// keep it from going stale and keep every setting documented.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import {
  PROFILE_NAME,
  REFERENCE_FILE,
  referenceSettings,
  renderReference,
} from '../../scripts/config-reference.ts';
import { parseDuration } from '../../src/config/duration.ts';
import { DurationSchema, SecretRefSchema } from '../../src/config/schema/index.ts';
import { DEFAULT_STS } from '../../src/sts/settings.ts';

const examplesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../config');

/** Every key an example config sets, as a reference path (`profiles.<name>.chain[].arn`). */
function settingPaths(node: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) settingPaths(item, `${prefix}[]`, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      const here = prefix === 'profiles' ? `profiles.${PROFILE_NAME}` : prefix ? `${prefix}.${key}` : key;
      if (prefix !== 'profiles') out.add(here);
      settingPaths(value, here, out);
    }
  }
  return out;
}

describe('config reference (docs/config-reference.md)', () => {
  it('is up to date with the schema', async () => {
    const actual = await readFile(REFERENCE_FILE, 'utf8').catch(() => '');
    const expected = renderReference();
    if (actual === expected) return;
    const a = actual.split('\n');
    const e = expected.split('\n');
    const line = e.findIndex((text, i) => text !== a[i]);
    assert.fail(
      `docs/config-reference.md is stale (first difference at line ${line + 1}: expected ${JSON.stringify(e[line]?.slice(0, 120))}): run npm run docs:config`,
    );
  });

  it('describes every setting of the schema', () => {
    const undocumented = referenceSettings()
      .filter((s) => !s.description?.trim())
      .map((s) => s.path);
    assert.deepEqual(
      undocumented,
      [],
      `settings without a description: ${undocumented.join(', ')}; add .meta({ description }) to them in src/config/schema/`,
    );
  });

  it('finds an undocumented setting at any depth (objects, lists, maps, unions)', () => {
    const d = (schema: z.ZodType) => schema.meta({ description: 'documented' });
    const schema = z.strictObject({
      plain: z.string().optional(),
      block: d(
        z.strictObject({ inner: z.number().default(1), duration: DurationSchema.default(1000) }).prefault({}),
      ),
      list: d(z.array(z.strictObject({ item: z.boolean() }))),
      profiles: d(
        z.record(
          z.string(),
          z.strictObject({
            source: d(
              z.discriminatedUnion('type', [
                z.strictObject({ type: d(z.literal('a')), secret: SecretRefSchema }),
                z.strictObject({ type: d(z.literal('b')), nested: d(z.strictObject({ deep: z.string() })) }),
              ]),
            ),
          }),
        ),
      ),
    });
    const undocumented = referenceSettings(schema)
      .filter((s) => s.description === undefined)
      .map((s) => s.path);
    assert.deepEqual(undocumented, [
      'plain',
      'block.inner',
      'block.duration',
      'list[].item',
      'profiles.<name>.source.secret',
      'profiles.<name>.source.nested.deep',
    ]);
  });

  it('lists every setting the config/ examples use', async () => {
    const markdown = renderReference();
    const documented = new Set(referenceSettings().map((s) => s.path));
    const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 2, 'expected example configs in config/');
    const missing: string[] = [];
    for (const file of files) {
      const config = parseYaml(await readFile(path.join(examplesDir, file), 'utf8'));
      for (const setting of settingPaths(config)) {
        if (!documented.has(setting) || !markdown.includes(`| \`${setting}\` |`)) {
          missing.push(`${file}: ${setting}`);
        }
      }
    }
    assert.deepEqual(
      missing,
      [],
      `settings used in config/ but absent from the reference: ${missing.join(', ')}`,
    );
  });

  it('states the run-time STS defaults the broker applies', () => {
    const defaults = new Map(
      referenceSettings()
        .filter((s) => s.path.startsWith('sts.'))
        .map((s) => [s.path, s.default.replace(/^`|`$/g, '')]),
    );
    // The environment comes first, as the AWS SDKs read it; the built-in default last.
    assert.equal(
      defaults.get('sts.region'),
      `AWS_REGION\`, else \`AWS_DEFAULT_REGION\`, else \`${DEFAULT_STS.region}`,
    );
    assert.match(
      defaults.get('sts.endpoint') ?? '',
      /^AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`.*regional endpoint$/,
    );
    assert.equal(parseDuration(defaults.get('sts.timeout') ?? ''), DEFAULT_STS.timeout);
    assert.equal(parseDuration(defaults.get('sts.clockSkewTolerance') ?? ''), DEFAULT_STS.clockSkewTolerance);
    assert.equal(defaults.get('sts.useFipsEndpoint'), String(DEFAULT_STS.useFipsEndpoint ?? false));
  });

  it('shows types and defaults as an operator writes them', () => {
    const byPath = new Map(referenceSettings().map((s) => [s.path, s]));
    const x509Warning = byPath.get(`profiles.${PROFILE_NAME}.source.certExpiryWarning`);
    assert.deepEqual([x509Warning?.type, x509Warning?.default], ['duration', '`14d`']);
    const secret = byPath.get(`profiles.${PROFILE_NAME}.source.clientAuth.clientSecret`);
    assert.deepEqual([secret?.type, secret?.required], ['secret reference', true]);
    const listen = byPath.get('server.listen');
    assert.deepEqual([listen?.default, listen?.required], ['`127.0.0.1:9911`', false]);
  });
});
