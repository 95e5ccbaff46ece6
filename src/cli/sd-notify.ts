// systemd readiness and watchdog (`Type=notify`, `WatchdogSec=`) without a native addon: Node
// cannot send on a unix datagram socket, so each message is handed to `systemd-notify`, which
// ships with systemd wherever $NOTIFY_SOCKET can be set. Since systemd-notify is a child process,
// the unit needs `NotifyAccess=all`; systemd-notify (v246+) waits for systemd to have processed the
// message (BARRIER=1), so it cannot be lost by exiting before systemd looked at the sender.
// The child gets NOTIFY_SOCKET and PATH only: the broker's environment may hold `env:` secrets,
// and a program on PATH has no business seeing them.
import { execFile } from 'node:child_process';
import type { Logger } from '../telemetry/logger.ts';

export interface Notifier {
  /** READY=1 (+ STATUS): startup or a reload is complete. */
  ready(status: string): Promise<void>;
  /** RELOADING=1: a reload has begun (systemctl reload shows "reloading" until ready()). */
  reloading(): Promise<void>;
  /** STOPPING=1: shutdown has begun. */
  stopping(): Promise<void>;
  status(text: string): Promise<void>;
  /** Pings WATCHDOG=1 at half of $WATCHDOG_USEC while the event loop runs; no-op without it. */
  startWatchdog(): void;
  close(): void;
}

export function createNotifier(
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  command = 'systemd-notify',
): Notifier {
  const enabled = Boolean(env.NOTIFY_SOCKET);
  let warned = false;
  let watchdog: NodeJS.Timeout | undefined;
  // PATH also finds the command: execFile looks it up in the env it is given.
  const childEnv = { NOTIFY_SOCKET: env.NOTIFY_SOCKET, ...(env.PATH !== undefined && { PATH: env.PATH }) };

  const send = (args: string[]): Promise<void> => {
    if (!enabled) return Promise.resolve();
    return new Promise((resolve) => {
      execFile(command, args, { env: childEnv, timeout: 5000 }, (err, _stdout, stderr) => {
        if (err && !warned) {
          warned = true; // once: a missing binary would otherwise log at every watchdog ping
          logger.warn(
            { command, args, error: String(stderr || err.message).trim() },
            'cannot notify systemd (NOTIFY_SOCKET is set but systemd-notify failed); use Type=exec in the unit or install systemd-notify',
          );
        }
        resolve();
      });
    });
  };

  return {
    ready: (status) => send(['--ready', `--status=${status}`]),
    reloading: () => send(['RELOADING=1', '--status=reloading the config']),
    stopping: () => send(['STOPPING=1', '--status=shutting down']),
    status: (text) => send([`--status=${text}`]),
    startWatchdog() {
      const usec = Number(env.WATCHDOG_USEC);
      // WATCHDOG_PID, when set, names the process systemd expects pings from.
      const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
      if (!enabled || !Number.isFinite(usec) || usec <= 0 || !forUs || watchdog) return;
      const everyMs = Math.max(100, Math.floor(usec / 2000));
      watchdog = setInterval(() => void send(['WATCHDOG=1']), everyMs).unref();
      void send(['WATCHDOG=1']);
    },
    close() {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
    },
  };
}
