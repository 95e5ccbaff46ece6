// The credentials listener as `serve` builds it (config, client-token files, logger, metrics)
// around a FakeBroker (fake-broker.ts) instead of the real broker: for tests of what the server
// alone decides, with no OpenID Provider and no STS. `startServerWorld()`, then `world.close()`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Config, type ConfigInput, ConfigSchema } from '../../src/config/schema/index.ts';
import { buildApp } from '../../src/server/app.ts';
import { ReloadableClientTokens } from '../../src/server/client-tokens.ts';
import { createLogger, type Logger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { FakeBroker, type FakeProfile } from './fake-broker.ts';

/** A profile of the fake broker, and its own client-token file when it has one. */
export type ServerProfile = Partial<FakeProfile> & { tokenFile?: string };

export interface ServerWorld {
  dir: string;
  /** Every log line the apps of this world wrote. */
  logs: string[];
  /** A config whose profiles are `profiles` (their sources are never used), validated by the real schema. */
  config(profiles: Record<string, ServerProfile>, extra?: Partial<ConfigInput>): Config;
  /** A FakeBroker and the credentials app over it, not listening; closed with the world. */
  app(
    profiles?: Record<string, ServerProfile>,
    options?: { extra?: Partial<ConfigInput>; logLevel?: string },
  ): Promise<{
    broker: FakeBroker;
    app: FastifyInstance;
    config: Config;
    metrics: Metrics;
    logger: Logger;
    tokens: ReloadableClientTokens;
  }>;
  /** The shared client token (created by the first app). */
  token(): Promise<string>;
  close(): Promise<void>;
}

export async function startServerWorld(): Promise<ServerWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cb-server-'));
  const logs: string[] = [];
  const apps: FastifyInstance[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const world: ServerWorld = {
    dir,
    logs,
    config(profiles, extra = {}) {
      const entries = Object.entries(profiles).map(([name, p]) => [
        name,
        {
          source: {
            type: 'oidc',
            issuer: 'https://idp.invalid',
            clientId: 'never-used',
            clientAuth: { method: 'client_secret_basic', clientSecret: 'env:NEVER_READ' },
          },
          role: { arn: p.roleArn ?? `arn:aws:iam::210987654321:role/${name}` },
          ...(p.tokenFile ? { tokenFile: p.tokenFile } : {}),
          ...(p.lazy ? { lazy: true } : {}),
        },
      ]);
      return ConfigSchema.parse({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(dir, 'token') },
        sts: { region: 'us-east-1' },
        logging: { level: 'debug' },
        profiles: Object.fromEntries(entries),
        ...extra,
      });
    },
    async app(profiles = { default: {} }, { extra, logLevel = 'debug' } = {}) {
      const config = world.config(profiles, extra);
      const broker = new FakeBroker(
        Object.fromEntries(Object.entries(profiles).map(([name, { tokenFile: _, ...p }]) => [name, p])),
      );
      const logger = createLogger({ level: logLevel, destination: sink });
      const metrics = new Metrics({ processMetrics: false });
      const tokens = await ReloadableClientTokens.load(config, logger);
      const app = buildApp({
        broker,
        server: config.server,
        tokens: () => tokens.current,
        logger,
        metrics,
        listenHost: '127.0.0.1',
      });
      apps.push(app);
      return { broker, app, config, metrics, logger, tokens };
    },
    token: () => readFile(path.join(dir, 'token'), 'utf8'),
    async close() {
      for (const app of apps) await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
