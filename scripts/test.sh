#!/usr/bin/env bash
# `npm test`: the whole suite from a fresh clone. Installs what it needs, then type-checks, lints,
# builds and runs every test (unit, integration with the real OpenID Provider, STS emulator and
# AWS SDK, CLI). Every server a test uses is started by the test itself on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

# The SDK's "Node 22 will be required in 2027" notice is not a test result.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

echo "==> type-check"
npx tsc -p tsconfig.json --noEmit
echo "==> lint"
npx biome check src test scripts
echo "==> build"
npm run --silent build

echo "==> tests"
# Node 20 does not expand globs itself.
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 --test-timeout=120000 "${files[@]}"
