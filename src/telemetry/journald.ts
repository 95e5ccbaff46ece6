// journald reads a syslog priority from a "<N>" prefix on each line of a service's stdout
// (sd-daemon(3)); without it every line is "info" and `journalctl -p warning` shows nothing.
// The prefix is added only when stdout is the journal, which systemd says through JOURNAL_STREAM
// ("DEVICE:INODE" of the stream it connected): a pipe or file behind stdout keeps plain lines.
import { fstatSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** pino level labels -> syslog priorities: crit, err, warning, info, debug. */
const PRIORITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/** True when file descriptor `fd` is the stream systemd connected to the journal. */
export function isJournalStream(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const [dev, ino] = (env.JOURNAL_STREAM ?? '').split(':');
  if (!dev || !ino) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}

/** The priority of one JSON log line (its `level` label), info when it has none. */
export function priorityOf(jsonLine: string): number {
  const level = /"level":"(\w+)"/.exec(jsonLine)?.[1];
  return (level ? PRIORITY[level] : undefined) ?? 6;
}

/**
 * Writes each JSON line from pino as `<priority>` + render(line). `render` is the pretty printer
 * when logging.format is pretty: the priority is read from the JSON before it is rewritten.
 */
export function journalDestination(
  out: DestinationStream,
  render: (jsonLine: string) => string = (line) => line,
): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(`<${priorityOf(line)}>${render(line)}\n`);
    },
  };
}
