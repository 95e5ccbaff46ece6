#!/usr/bin/env node
// Prints the packages package-lock.json installs that node_modules lacks, one per line (nothing
// when complete); scripts/test.sh then runs `npm ci`. Plain JavaScript because it runs before
// anything is installed; reading package.json files is instant where `npm ls` takes seconds.
//   node scripts/missing-packages.mjs [--also NAME ...]     (in the project's directory)
// Optional packages are left out (npm skips those that cannot be built or do not fit this
// platform), except the ones named with --also, which the caller needs all the same.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = process.cwd();
const also = new Set();
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--also' && process.argv[i + 1]) also.add(`node_modules/${process.argv[++i]}`);
}
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const missing = Object.entries(lock.packages ?? {})
  .filter(([key, entry]) => key.startsWith('node_modules/') && !entry.link)
  .filter(([key, entry]) => !entry.optional || also.has(key))
  .filter(([key]) => !existsSync(path.join(root, key, 'package.json')))
  .map(([key]) => key.slice('node_modules/'.length));
if (missing.length > 0) process.stdout.write(`${missing.join('\n')}\n`);
