#!/usr/bin/env node
// Thin launcher: the compiled entry lives in dist/ (built by `npm install` via "prepare").
import { run } from '../dist/main.js';

process.exitCode = await run(process.argv.slice(2));
