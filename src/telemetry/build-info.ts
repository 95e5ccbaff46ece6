// What this build is: the package version, the commit it was built from (written to
// dist/build-info.json by `npm run build`; "unknown" when run from a source tree without it) and the
// Node.js version. For --version and the credential_broker_build_info metric.
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

function readJson(relative: string): Record<string, unknown> | undefined {
  try {
    // src/telemetry/ and dist/telemetry/ both sit two levels below package.json.
    return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function version(): string {
  return String(readJson('../../package.json')?.version ?? 'unknown');
}

export function buildInfo(): BuildInfo {
  const commit = readJson('../build-info.json')?.commit;
  return {
    version: version(),
    commit: typeof commit === 'string' ? commit : 'unknown',
    node: process.version,
  };
}
