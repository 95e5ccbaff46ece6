import { Broker } from '../broker.ts';
import { loadConfigFile } from '../config/load.ts';
import { EXIT } from '../errors.ts';
import { parseListen } from '../net.ts';
import { buildApp } from '../server/app.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { Io } from './io.ts';

/** Runs until SIGTERM/SIGINT: stop accepting, let in-flight requests finish, exit 0. */
export async function serveCommand(opts: { configPath: string }, _io: Io): Promise<number> {
  const { config, file } = await loadConfigFile(opts.configPath);
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? config.logging.level });
  const metrics = new Metrics();
  const broker = new Broker(config, { logger, metrics });
  await broker.tokens.ensureAll(); // a token-file problem is a config problem: fail before listening

  const { host, port } = parseListen(config.server.listen);
  const app = buildApp({ broker, logger, metrics, listenHost: host });
  const address = await app.listen({ host, port });
  logger.info(
    { config: file, address, profiles: broker.profileNames(), tokenFile: broker.tokens.fileFor('default') },
    'credential broker listening',
  );

  const stopped = new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      broker.stop();
      app.close().then(
        () => resolve(EXIT.OK),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  // Without a handler SIGHUP would kill the daemon; reloading is not implemented yet.
  process.on('SIGHUP', () =>
    logger.warn('SIGHUP: config reload is not supported yet; restart the service to apply changes'),
  );

  await broker.start();
  const { ready } = broker.readiness();
  logger.info(
    { ready },
    ready ? 'ready: every profile holds credentials' : 'not ready yet: retrying failed profiles',
  );
  const code = await stopped;
  logger.flush();
  return code;
}
