#!/usr/bin/env node
// Thin launcher: the compiled entry lives in dist/ (`npm run build`; `npm pack` builds it via "prepack").
import { run } from '../dist/main.js';

process.exitCode = await run(process.argv.slice(2));
