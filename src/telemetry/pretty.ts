// `logging.format: pretty` without pino-pretty (one more dependency and a worker thread for a
// convenience): each JSON line pino has already redacted is rewritten as
// `HH:MM:SS.mmm LEVEL message key=value ...`, colored only when the output is a terminal and
// NO_COLOR (no-color.org) is not set.
import type { DestinationStream } from 'pino';

const COLORS: Record<string, string> = {
  fatal: '\x1b[35m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[36m',
  trace: '\x1b[90m',
};
const RESET = '\x1b[0m';
/** Fields every line has, or that the line header already shows. */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/** Colour only for a person at a terminal who has not asked for none. */
export function wantsColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

export function prettyDestination(out: DestinationStream, color = wantsColor()): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(`${prettyLine(line, color)}\n`);
    },
  };
}

export function prettyLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(entry.level ?? '');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const label = level.toUpperCase().padEnd(5);
  const head = color && COLORS[level] ? `${COLORS[level]}${label}${RESET}` : label;
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return [time, head, String(entry.msg ?? ''), ...fields].filter(Boolean).join(' ');
}
