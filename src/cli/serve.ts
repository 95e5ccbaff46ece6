import type { FastifyInstance } from 'fastify';
import { Broker } from '../broker.ts';
import { CredentialsFiles, checkCredentialsFiles } from '../cache/credentials-file.ts';
import { configFromEnvironment, ENV_PROFILE, loadConfigOrEnvironment } from '../config/from-env.ts';
import { parseListen } from '../net.ts';
import { buildApp } from '../server/app.ts';
import { ReloadableClientTokens } from '../server/client-tokens.ts';
import { buildImdsApp } from '../server/imds-app.ts';
import { buildOpsApp } from '../server/ops-app.ts';
import { loadTls } from '../server/tls.ts';
import { createLogger, loggingFromEnv } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { Io } from './io.ts';
import { createNotifier } from './sd-notify.ts';
import { exitOnFatalErrors, Service } from './service.ts';
import { passedSockets } from './socket-activation.ts';

/**
 * Runs until SIGTERM/SIGINT (drain, exit 0). SIGHUP reloads the config. Every listener is added
 * to the Service so that shutdown drains all of them.
 */
export async function serveCommand(opts: { configPath: string }, _io: Io): Promise<number> {
  const { config, file, fromEnvironment } = await loadConfigOrEnvironment(opts.configPath);
  const sockets = passedSockets();
  const logging = loggingFromEnv(config.logging);
  const logger = createLogger(logging);
  exitOnFatalErrors(logger);
  if (fromEnvironment) {
    const profile = config.profiles[ENV_PROFILE];
    logger.info(
      {
        config: file,
        profile: ENV_PROFILE,
        roleArn: profile?.role.arn,
        tokenFile: profile?.source.type === 'web-identity-file' ? profile.source.tokenFile : undefined,
      },
      `no config file at ${opts.configPath}: the config came from the environment (IRSA variables), one web-identity profile "${ENV_PROFILE}"`,
    );
  }
  const metrics = new Metrics();
  const broker = new Broker(config, { logger, metrics, credentialsFiles: new CredentialsFiles() });
  // Client-token auth is the server's (a hook of the credentials routes), fed from here and
  // swapped on reload. A token-file problem is a config problem: fail before listening.
  const tokens = await ReloadableClientTokens.load(config, logger);
  await checkCredentialsFiles(config.profiles); // the same for a profile's credentialsFile
  const notifier = createNotifier(logger);
  const service = new Service({
    file,
    ...(fromEnvironment ? { load: async () => configFromEnvironment() ?? { config } } : {}),
    config,
    broker,
    logger,
    metrics,
    notifier,
    levelOverride: process.env.LOG_LEVEL || undefined,
    prepareReload: async (next) => {
      await checkCredentialsFiles(next.profiles);
      return tokens.prepare(next);
    },
  });
  // Signals are handled from here on: a SIGTERM during the first fetch still drains and exits 0.
  const stopped = service.handleSignals();
  // A certificate or key that cannot be used is a config error: refused before anything is fetched.
  const tls = config.server.tls ? await loadTls(config.server.tls) : undefined;
  // The first fetches start now, while the listeners are built: against a remote IdP and STS an
  // exchange mostly waits on the network, which building the server can use (docs/performance.md,
  // "Start-up"). Requests that come before they end wait for them, as they would for a refresh.
  const starting = broker.start();

  const { limits } = config.server;
  let app: FastifyInstance;
  let imdsApp: FastifyInstance | undefined;
  try {
    app = buildApp({
      broker,
      server: config.server,
      tokens: () => tokens.current,
      logger,
      metrics,
      listenHost: parseListen(config.server.listen).host,
      tls,
    });
    // Built before anything listens: a listener that cannot be built must not leave others running.
    imdsApp = config.imds ? buildImdsApp({ broker, imds: config.imds, limits, logger, metrics }) : undefined;
  } catch (err) {
    // Nothing listens yet; the started fetches and their timers must not hold the exit back.
    await broker.stop();
    throw err;
  }
  const address = await service.listen(
    'credentials',
    app,
    'server.listen',
    config.server.listen,
    sockets.credentials,
  );
  tls?.watch(app, logger);
  let imdsAddress: string | undefined;
  if (imdsApp && config.imds) {
    imdsAddress = await service.listen('imds', imdsApp, 'imds.listen', config.imds.listen, sockets.imds);
  }
  let metricsAddress: string | undefined;
  if (config.metrics.listen) {
    const opsApp = buildOpsApp({ broker, listener: config.metrics, limits, logger, metrics });
    metricsAddress = await service.listen(
      'metrics',
      opsApp,
      'metrics.listen',
      config.metrics.listen,
      sockets.metrics,
    );
  }
  logger.info(
    {
      config: file,
      address,
      metricsAddress,
      imdsAddress,
      socketActivated: Object.keys(sockets),
      profiles: broker.profileNames(),
      tokenFile: tokens.current.fileFor('default'),
    },
    'credential broker listening',
  );

  await starting;
  const { ready } = broker.readiness();
  logger.info(
    { ready },
    ready ? 'ready: every profile holds credentials' : 'not ready yet: retrying failed profiles',
  );
  // systemd's "started" means listening with a first fetch done (failed profiles keep retrying and
  // /readyz tells them apart): holding READY back would only make systemd time the unit out.
  await notifier.ready(ready ? 'ready' : 'listening; some profiles have no credentials yet');
  notifier.startWatchdog();
  const code = await stopped;
  logger.flush();
  // Drained: an outbound fetch still waiting on a slow IdP or STS must not hold the exit back.
  setTimeout(() => process.exit(code), 250).unref();
  return code;
}
