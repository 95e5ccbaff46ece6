// `credential-broker status`: asks a RUNNING broker (its /readyz, on the credentials listener of
// the same config serve reads) whether it is ready, and shows each profile's state, expiry and last
// error code. Read-only and needs no token: /readyz carries no credentials (server/health-routes.ts).
import { loadConfigFile } from '../config/load.ts';
import { ConfigError, describeError, EXIT } from '../errors.ts';
import { describeNetworkFailure } from '../net.ts';
import { hostForUrl } from './endpoint.ts';
import type { Io } from './io.ts';

const TIMEOUT_MS = 5000;

/** One profile as /readyz reports it. */
interface ProfileReport {
  state: 'ready' | 'stale' | 'empty';
  lazy: boolean;
  expiration?: string;
  failures: number;
  lastError?: string;
}

interface Report {
  ready: boolean;
  profiles: Record<string, ProfileReport>;
}

export async function statusCommand(
  opts: { configPath: string; url: string | undefined; json: boolean },
  io: Io,
): Promise<number> {
  const { url, from } = opts.url
    ? { url: readyzUrl(opts.url), from: '--url' }
    : await fromConfig(opts.configPath);
  const unavailable = (why: string) => {
    io.stderr(`credential-broker status: ${why}\n`);
    return EXIT.UNAVAILABLE;
  };
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    return unavailable(
      `no broker answers at ${url} (${describeNetworkFailure(err) ?? describeError(err)}): is credential-broker serve running? The URL comes from ${from}; pass --url to ask another broker`,
    );
  }
  const text = await res.text();
  let report: Report | undefined;
  try {
    report = JSON.parse(text) as Report;
  } catch {
    report = undefined;
  }
  if ((res.status !== 200 && res.status !== 503) || typeof report?.profiles !== 'object') {
    return unavailable(
      `${url} answered ${res.status} (${text.replace(/\s+/g, ' ').trim().slice(0, 200)}), not a broker's readiness: check ${from}`,
    );
  }
  if (opts.json) {
    io.stdout(`${JSON.stringify({ url, ...report }, null, 2)}\n`);
  } else {
    io.stdout(`broker at ${url}: ${report.ready ? 'ready' : 'NOT READY'}\n${table(report, Date.now())}`);
  }
  return report.ready ? EXIT.OK : EXIT.FAILURE;
}

/** A base URL or the /readyz URL itself. */
function readyzUrl(given: string): string {
  const u = new URL(given);
  if (!u.pathname.endsWith('/readyz')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/readyz`;
  return u.toString();
}

async function fromConfig(configPath: string): Promise<{ url: string; from: string }> {
  const { config, file } = await loadConfigFile(configPath);
  const { host, port } = hostForUrl(config.server.listen);
  if (port === 0) {
    throw new ConfigError(
      `${file}: server.listen has port 0 (chosen at startup), so the broker cannot be found from the config: pass --url (the address in serve's "credential broker listening" log line)`,
    );
  }
  return {
    url: `${config.server.tls ? 'https' : 'http'}://${host}:${port}/readyz`,
    from: `server.listen (${config.server.listen}) in ${file}`,
  };
}

function table(report: Report, now: number): string {
  const rows = [['PROFILE', 'STATE', 'EXPIRES', 'FAILURES', 'LAST ERROR']];
  for (const [name, p] of Object.entries(report.profiles)) {
    const state = p.state === 'empty' && p.lazy && p.failures === 0 ? 'lazy (not fetched yet)' : p.state;
    rows.push([name, state, expires(p.expiration, now), String(p.failures), p.lastError ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

function expires(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const left =
    s <= 0
      ? 'expired'
      : s < 120
        ? `in ${s}s`
        : s < 7200
          ? `in ${Math.round(s / 60)}m`
          : `in ${Math.round(s / 3600)}h`;
  return `${iso.replace(/\.\d+Z$/, 'Z')} (${left})`;
}
