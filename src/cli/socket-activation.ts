// systemd socket activation (sd_listen_fds(3)): the listening sockets PID 1 bound for the broker
// (credential-broker.socket) arrive as fds 3, 4, ... with LISTEN_FDS (how many), LISTEN_PID (for
// which process) and LISTEN_FDNAMES (their FileDescriptorName=). The port then stays bound while
// the broker restarts, so no other local user can take it and collect the clients' tokens.
import { ConfigError } from '../errors.ts';
import { isLoopbackHost } from '../net.ts';

/** The first passed fd, by the protocol. */
const SD_LISTEN_FDS_START = 3;

export type ListenerName = 'credentials' | 'imds' | 'metrics';

/**
 * Which listener gets which passed fd. A socket named `imds` or `metrics` (FileDescriptorName=)
 * goes to that listener; the one socket with any other name (systemd's default is the unit's
 * name) is the credentials listener. Listeners without a socket bind their address themselves.
 * Empty when nothing was passed to this process. The variables are removed from the environment,
 * as sd_listen_fds(1) does, so that no child takes them for its own.
 */
export function passedSockets(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): Partial<Record<ListenerName, number>> {
  const { LISTEN_FDS: count, LISTEN_PID: forPid, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (count === undefined || forPid !== String(pid)) return {};
  const n = Number(count);
  if (!Number.isInteger(n) || n < 0 || n > 16) {
    throw new ConfigError(`LISTEN_FDS=${count} is not a count of passed sockets (socket activation)`);
  }
  const named = names?.split(':') ?? [];
  const fds: Partial<Record<ListenerName, number>> = {};
  for (let i = 0; i < n; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const name = named[i];
    const listener: ListenerName = name === 'imds' || name === 'metrics' ? name : 'credentials';
    if (fds[listener] !== undefined) {
      throw new ConfigError(
        `systemd passed more than one socket for the ${listener} listener (LISTEN_FDNAMES=${names ?? ''}); give the socket unit one ListenStream= per listener, with FileDescriptorName=imds or metrics for the others`,
      );
    }
    fds[listener] = fd;
  }
  return fds;
}

/**
 * A passed socket must listen where the config says: `credential-broker env` and
 * `credential-process` derive the apps' URL from the config, and the config's rule that plain http
 * is loopback-only (or TLS elsewhere) was checked against that address, not the socket's. Port 0
 * in the config accepts any port.
 */
export function checkPassedAddress(
  setting: string,
  configured: { host: string; port: number },
  actual: { address: string; port: number },
): void {
  const sameHost =
    actual.address === configured.host ||
    (configured.host === 'localhost' && isLoopbackHost(actual.address)) ||
    (actual.address.startsWith('::ffff:') && actual.address.slice(7) === configured.host);
  const samePort = configured.port === 0 || actual.port === configured.port;
  if (!sameHost || !samePort) {
    const where = actual.address.includes(':') ? `[${actual.address}]` : actual.address;
    throw new ConfigError(
      `the socket systemd passed for ${setting} listens on ${where}:${actual.port}, but ${setting} is ${configured.host}:${configured.port}; make ListenStream= of credential-broker.socket and ${setting} the same address`,
    );
  }
}
