// The example configs in config/ are documentation: each must stay valid against the schema.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../config');

describe('config/ examples', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  it('there are examples', () => assert.ok(files.length >= 2));
  for (const file of files) {
    it(`${file} is a valid config`, async () => {
      const { config } = await loadConfigFile(path.join(dir, file));
      assert.ok(Object.keys(config.profiles).length > 0);
    });
  }
});
