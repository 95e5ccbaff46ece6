// What this build is: the package version, the commit it was built from (written to
// dist/build-info.json by `npm run build`; "unknown" when run from a source tree without it) and the
// Node.js version. For --version and the credential_broker_build_info metric.
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

// Set by scripts/bundle.ts in the one-file bundle (the .deb), which has no package.json beside it.
declare const __CREDENTIAL_BROKER_BUILD__: { version: string; commit: string } | undefined;
const BUNDLED = typeof __CREDENTIAL_BROKER_BUILD__ === 'undefined' ? undefined : __CREDENTIAL_BROKER_BUILD__;

function readJson(relative: string): Record<string, unknown> | undefined {
  try {
    // src/telemetry/ and dist/telemetry/ both sit two levels below package.json.
    return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function version(): string {
  if (BUNDLED) return BUNDLED.version;
  return String(readJson('../../package.json')?.version ?? 'unknown');
}

export function buildInfo(): BuildInfo {
  const commit = BUNDLED ? BUNDLED.commit : readJson('../build-info.json')?.commit;
  return {
    version: version(),
    commit: typeof commit === 'string' ? commit : 'unknown',
    node: process.version,
  };
}
