// What `serve` does between startup and exit: reload on SIGHUP (and, optionally, when the config
// file changes), drain and exit 0 on SIGTERM/SIGINT within server.shutdownTimeout, and exit 70 on
// anything unhandled so that systemd or the kubelet restarts a clean process.
import { type FSWatcher, watch } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../broker.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema/index.ts';
import { BrokerError, describeError, EXIT } from '../errors.ts';
import { parseListen } from '../net.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Notifier } from './sd-notify.ts';
import { checkPassedAddress } from './socket-activation.ts';

/** Settings bound when the process starts (listeners, log format): a reload cannot apply them. */
const RESTART_ONLY: readonly [string, ...string[]][] = [
  ['server', 'listen'],
  ['server', 'tls'],
  ['server', 'allow'],
  ['server', 'limits'],
  ['imds'],
  ['metrics', 'listen'],
  ['metrics', 'hosts'],
  ['logging', 'format'],
];

/** Editors save by rename and Kubernetes swaps ConfigMap files via a `..data` symlink: watch the
 * folder, and let a burst of events settle before reading. */
const WATCH_SETTLE_MS = 250;

export interface ServiceOptions {
  file: string;
  /** How a reload reads the config; by default the file again (a config from the environment
   * is read from the environment again). */
  load?: () => Promise<{ config: Config }>;
  config: Config;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  notifier: Notifier;
  /** LOG_LEVEL from the environment, which wins over logging.level on reload too. */
  levelOverride?: string;
  /**
   * Readies what a new config needs beside the broker (the client tokens): throws to refuse the
   * config, else returns what puts it in force, called once the broker has taken it.
   */
  prepareReload?: (next: Config) => Promise<() => void>;
}

export class Service {
  private config: Config;
  private readonly listeners: { name: string; app: FastifyInstance }[] = [];
  private reloading: Promise<boolean> | undefined;
  private reloadAgain = false;
  private watcher: FSWatcher | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private shuttingDown: Promise<number> | undefined;

  constructor(private readonly opts: ServiceOptions) {
    this.config = opts.config;
  }

  /** A listening app to close (and drain) on shutdown. */
  addListener(name: string, app: FastifyInstance): void {
    this.listeners.push({ name, app });
    if (this.shuttingDown) void app.close(); // a signal arrived while it was starting
  }

  /** Listens and adds the listener; on failure closes those already listening (so the process
   * can exit with the error instead of half-running) and throws a LISTEN_FAILED naming `setting`. */
  async listen(
    name: string,
    app: FastifyInstance,
    setting: string,
    listen: string,
    /** A listening socket systemd passed (socket activation), used instead of binding `listen`. */
    fd?: number,
  ): Promise<string> {
    try {
      const address =
        fd === undefined ? await listenOn(app, setting, listen) : await listenOnFd(app, setting, listen, fd);
      this.addListener(name, app);
      return address;
    } catch (err) {
      this.watch(false);
      await this.opts.broker.stop();
      await Promise.allSettled([app, ...this.listeners.map((l) => l.app)].map((a) => a.close()));
      throw err;
    }
  }

  /** SIGHUP reloads; SIGTERM/SIGINT resolve the promise with the exit code once drained. */
  handleSignals(): Promise<number> {
    process.on('SIGHUP', () => void this.reload('SIGHUP'));
    this.watch(this.config.reload.watch);
    return new Promise((resolve) => {
      const stop = (signal: string) => void this.shutdown(signal).then(resolve);
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  }

  /**
   * Reads and validates the config file, then applies it (Broker.reload): on any error the running
   * config stays and the error is logged. Reloads never overlap; one arriving during another runs
   * once after it. Resolves true when the new config is in force.
   */
  reload(trigger: string): Promise<boolean> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce(trigger).finally(() => {
      this.reloading = undefined;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload(trigger);
      }
    });
    return this.reloading;
  }

  private async reloadOnce(trigger: string): Promise<boolean> {
    const { broker, logger, metrics, notifier } = this.opts;
    await notifier.reloading();
    logger.info({ trigger, config: this.opts.file }, 'reloading the config');
    let next: Config;
    try {
      ({ config: next } = await (this.opts.load ?? (() => loadConfigFile(this.opts.file)))());
      const commit = await this.opts.prepareReload?.(next);
      const summary = await broker.reload(next);
      commit?.();
      logger.info({ trigger, ...summary }, 'config reloaded');
    } catch (err) {
      metrics.reloads.inc({ outcome: 'error' });
      logger.error(
        { trigger, code: (err as { code?: string }).code, error: describeError(err) },
        'config reload failed: the running config stays in force; fix the file and reload again',
      );
      await notifier.ready(this.statusText());
      return false;
    }
    for (const setting of RESTART_ONLY) {
      if (!isDeepStrictEqual(pick(this.config, setting), pick(next, setting))) {
        logger.warn(
          { setting: setting.join('.') },
          `${setting.join('.')} changed: it takes effect only after a restart`,
        );
      }
    }
    if (!this.opts.levelOverride) logger.level = next.logging.level;
    this.watch(next.reload.watch);
    this.config = next;
    metrics.reloads.inc({ outcome: 'success' });
    await notifier.ready(this.statusText());
    return true;
  }

  /** Starts or stops watching the config file. */
  private watch(enabled: boolean): void {
    if (!enabled) {
      this.watcher?.close();
      this.watcher = undefined;
      return;
    }
    if (this.watcher) return;
    const dir = path.dirname(this.opts.file);
    const base = path.basename(this.opts.file);
    this.watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name !== base && name !== '..data') return;
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => void this.reload('file change'), WATCH_SETTLE_MS).unref();
    });
    this.watcher.on('error', (err) => {
      this.opts.logger.warn(
        { error: describeError(err), dir },
        'config file watch stopped; SIGHUP still reloads',
      );
      this.watcher = undefined;
    });
  }

  /** Stop accepting, let in-flight requests finish within server.shutdownTimeout, then cut what
   * is left. Exit code 0 unless a listener failed to close. */
  shutdown(signal: string): Promise<number> {
    this.shuttingDown ??= this.drain(signal);
    return this.shuttingDown;
  }

  private async drain(signal: string): Promise<number> {
    const { broker, logger, notifier } = this.opts;
    const timeoutMs = this.config.server.shutdownTimeout;
    logger.info({ signal, timeoutMs }, 'shutting down: finishing in-flight requests');
    this.watch(false);
    notifier.close();
    void notifier.stopping();
    const closing = Promise.allSettled(this.listeners.map((l) => l.app.close()));
    // close() drops the connections idle at that moment; a keep-alive connection whose request
    // finishes later would hold it open until the timeout, so sweep idle ones until closed.
    const sweep = setInterval(() => {
      for (const l of this.listeners) l.app.server.closeIdleConnections();
    }, 50);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (timedOut) {
      logger.warn(
        { timeoutMs },
        'in-flight requests did not finish within server.shutdownTimeout: closing their connections',
      );
      for (const l of this.listeners) l.app.server.closeAllConnections();
    }
    let code: number = EXIT.OK;
    for (const [i, result] of (await closing).entries()) {
      if (result.status === 'rejected') {
        logger.error(
          { listener: this.listeners[i]?.name, error: describeError(result.reason) },
          'close failed',
        );
        code = EXIT.FAILURE;
      }
    }
    // Only now: stopping the broker ends its refreshes and STS clients, which an in-flight request
    // may still be waiting on; it also removes credentialsFile sections.
    await broker.stop();
    logger.info({ signal, code }, 'stopped');
    return code;
  }

  private statusText(): string {
    return `serving ${this.opts.broker.profileNames().length} profile(s)`;
  }
}

/** app.listen() with an error that names the setting and the likely cause (exit 1: restartable,
 * since the port may be held by a previous instance still shutting down). */
async function listenOn(app: FastifyInstance, setting: string, listen: string): Promise<string> {
  const { host, port } = parseListen(listen);
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the address is in use: is another broker running? pick another port'
        : code === 'EACCES'
          ? 'permission denied: ports below 1024 need privileges the broker does not have; use a higher port'
          : code === 'EADDRNOTAVAIL'
            ? 'no such address on this host'
            : describeError(err);
    throw new BrokerError('LISTEN_FAILED', `cannot listen on ${listen} (${setting}): ${why}`, { cause: err });
  }
}

/** app.listen() on a socket systemd passed, held to the configured address (socket-activation.ts). */
async function listenOnFd(
  app: FastifyInstance,
  setting: string,
  listen: string,
  fd: number,
): Promise<string> {
  let address: string;
  try {
    // Node takes fd before host and port; a host other than "localhost" keeps fastify from
    // binding further addresses of its own.
    address = await app.listen({ fd, host: '127.0.0.1' } as unknown as { port: number });
  } catch (err) {
    throw new BrokerError(
      'LISTEN_FAILED',
      `cannot listen on the socket systemd passed as fd ${fd} for ${setting}: ${describeError(err)}`,
      { cause: err },
    );
  }
  checkPassedAddress(setting, parseListen(listen), app.server.address() as AddressInfo);
  return address;
}

/**
 * An error nothing handled leaves the process in an unknown state: log it once, flush the log,
 * exit 70 (EX_SOFTWARE) and let the supervisor (Restart=on-failure, the kubelet) start afresh.
 */
export function exitOnFatalErrors(logger: Logger, exit: (code: number) => void = process.exit): void {
  let handled = false;
  const fatal = (kind: string) => (err: unknown) => {
    if (handled) return;
    handled = true;
    logger.fatal(
      { err },
      `${kind}: exiting with code ${EXIT.SOFTWARE} so that the supervisor restarts the broker`,
    );
    // Exit even if the log destination cannot flush (a broken pipe must not keep us alive).
    setTimeout(() => exit(EXIT.SOFTWARE), 2000);
    logger.flush(() => exit(EXIT.SOFTWARE));
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
}

function pick(config: Config, keys: readonly string[]): unknown {
  let node: unknown = config;
  for (const k of keys) node = (node as Record<string, unknown> | undefined)?.[k];
  return node;
}
