#!/usr/bin/env bash
# `npm test`: the whole suite from a fresh clone. Installs what it needs, then type-checks, lints,
# builds and runs every test (unit, integration with the real OpenID Provider, STS emulator and
# AWS SDK, CLI). Every server a test uses is started by the test itself on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: a real MIT KDC for the Kerberos tests (faketime runs one with a skewed clock),
# and the headers the `kerberos` addon builds against (before `npm ci`, or the addon is skipped).
DEBIAN_PACKAGES=(krb5-kdc krb5-admin-server krb5-user libkrb5-dev faketime simplesamlphp php-cli php-xml)
# promtool for the example alert rules' unit tests (test/deploy/prometheus-alerts.test.ts), without
# its recommends (node-exporter and friends): ~19 MB to download, ~95 MB installed, ~15 s.
DEBIAN_PACKAGES_NO_RECOMMENDS=(prometheus)
# How long to wait for another apt or dpkg (unattended-upgrades, a parallel install) to let go of
# its lock before giving up.
APT_LOCK_WAIT_SECONDS=${APT_LOCK_WAIT_SECONDS:-300}

# apt-get "$@", retried while another process holds the dpkg or apt lock, up to APT_LOCK_WAIT_SECONDS.
apt_get() {
  local start=$SECONDS waited out
  while true; do
    if out=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" 2>&1); then return 0; fi
    if ! grep -qiE 'could not (get|open) lock|lock.*(held|temporarily unavailable)|Unable to acquire' <<<"$out"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    waited=$((SECONDS - start))
    if [ "$waited" -ge "$APT_LOCK_WAIT_SECONDS" ]; then
      printf '%s\n' "$out" >&2
      echo "another apt/dpkg still holds the lock after ${waited}s; let it finish (or stop it) and run npm test again" >&2
      return 1
    fi
    echo "    (apt-get $1: another apt/dpkg holds the lock; waiting, ${waited}s of ${APT_LOCK_WAIT_SECONDS}s)"
    sleep 10
  done
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
missing_lean=()
for pkg in "${DEBIAN_PACKAGES_NO_RECOMMENDS[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing_lean+=("$pkg"); done
if [ $((${#missing[@]} + ${#missing_lean[@]})) -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} ${missing_lean[*]}; run: sudo apt-get install -y ${missing[*]} ${missing_lean[*]}" >&2
    exit 1
  fi
  apt_get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt_get install -y -qq "${missing[@]}"
  fi
  if [ ${#missing_lean[@]} -gt 0 ]; then
    echo "==> apt-get install --no-install-recommends ${missing_lean[*]}"
    # Only promtool is wanted: the package's postinst would start a Prometheus server where an init
    # system lets it (no systemd: invoke-rc.d). A policy-rc.d that denies every start prevents
    # that, unless the machine already has its own policy.
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    status=0
    apt_get install -y -qq --no-install-recommends "${missing_lean[@]}" || status=$?
    if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ "$status" = 0 ] || exit "$status"
  fi
fi

# node-gyp builds the addon against Node's headers; where they sit next to this node (Debian's
# nodejs, the official tarballs), use them instead of letting node-gyp download them.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir=$node_prefix
fi

# Every locked package present, the kerberos addon included (the tests need it even though the
# broker does not): otherwise a fresh `npm ci`. A lock newer than the install also means one.
missing_npm=$(node scripts/missing-packages.mjs --also kerberos)
if [ -n "$missing_npm" ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  [ -n "$missing_npm" ] && echo "==> missing from node_modules: $(echo "$missing_npm" | head -5 | tr '\n' ' ')"
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
# Installed but not built (the headers arrived after the first install): build it now, and say so
# when that fails rather than letting every Kerberos test fail with KERBEROS_UNAVAILABLE.
if [ ! -f node_modules/kerberos/build/Release/kerberos.node ]; then
  if [ ! -f node_modules/kerberos/package.json ]; then
    # npm ci above skipped it (optional): ask for it by name, at the locked version.
    version=$(node -p 'require("./package-lock.json").packages["node_modules/kerberos"].version')
    echo "==> npm install --no-save kerberos@$version"
    npm install --no-save --no-audit --no-fund "kerberos@$version"
  fi
  echo "==> npm rebuild kerberos"
  npm rebuild kerberos --foreground-scripts
  if [ ! -f node_modules/kerberos/build/Release/kerberos.node ]; then
    echo "the kerberos addon did not build (see above); it needs libkrb5-dev, g++, make and python3" >&2
    exit 1
  fi
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
# --test-timeout bounds each file as a whole (and each test in it), so it must fit the longest
# file on a loaded 2-core machine, not the typical one: the docs test (every README/docs command,
# a build and the demo) took 168 s alone on a busy machine and hit the former 120 s. Tests that
# can hang set their own shorter timeouts.
node --import tsx --test --test-concurrency=2 --test-timeout=900000 "${files[@]}"
