#!/usr/bin/env bash
# `npm test`: the whole suite from a fresh clone. Installs what it needs, then type-checks, lints,
# builds and runs every test (unit, integration with the real OpenID Provider, STS emulator and
# AWS SDK, CLI). Every server a test uses is started by the test itself on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: a real MIT KDC for the Kerberos tests (faketime runs one with a skewed clock),
# and the headers the `kerberos` addon builds against (before `npm ci`, or the addon is skipped).
DEBIAN_PACKAGES=(krb5-kdc krb5-admin-server krb5-user libkrb5-dev faketime)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
if [ ! -f node_modules/kerberos/build/Release/kerberos.node ]; then
  echo "==> npm rebuild kerberos"
  npm rebuild kerberos
fi

# The SDK's "Node 22 will be required in 2027" notice is not a test result.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

echo "==> type-check"
npx tsc -p tsconfig.json --noEmit
echo "==> lint"
npx biome check src test scripts bench
echo "==> build"
npm run --silent build

echo "==> tests"
# Node 20 does not expand globs itself.
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 --test-timeout=120000 "${files[@]}"
