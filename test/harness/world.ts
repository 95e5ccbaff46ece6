// A complete, real test world on loopback: an OpenID Provider (oidc-provider), the STS emulator,
// a temp folder for secrets and token files, and a broker + fastify app built from a config.
// Tests call `startWorld()`, tweak it (faults, clients, trust) and `world.close()` at the end.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Broker, type BrokerDeps } from '../../src/broker.ts';
import { type Config, type ConfigInput, ConfigSchema } from '../../src/config/schema/index.ts';
import type { BrokerError } from '../../src/errors.ts';
import { buildApp } from '../../src/server/app.ts';
import { ReloadableClientTokens } from '../../src/server/client-tokens.ts';
import { createLogger, type Logger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { makeClientKeyPair, OidcOp } from './oidc-op.ts';
import { StsEmulator } from './sts-emulator.ts';

export const ACCOUNT = '123456789012';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/app`;
export const CLIENT_SECRET = 'test-client-secret-9f3c';

export interface World {
  dir: string;
  op: OidcOp;
  sts: StsEmulator;
  /** private key (PKCS#8 PEM) of the private_key_jwt client "jwt-client" */
  privateKeyPem: string;
  privateJwk: object;
  /** Every log line written by brokers of this world, for secret scans and assertions. */
  logs: string[];
  /** Writes a file under the world's folder; returns its absolute path. */
  file(name: string, content: string, mode?: number): Promise<string>;
  /** A profile for the OIDC client "secret-client" (client_secret_basic) assuming ROLE_ARN. */
  oidcProfile(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Validated config with the world's STS endpoint and token file filled in. */
  config(profiles: Record<string, unknown>, extra?: Partial<ConfigInput>): Config;
  /** A broker + app (not listening) for a config; closed with the world. Logs at debug unless
   * `deps.logLevel` says otherwise. */
  broker(
    config: Config,
    deps?: Pick<BrokerDeps, 'clock' | 'random' | 'credentialsFiles'> & { logLevel?: string },
  ): Promise<{
    broker: Broker;
    app: FastifyInstance;
    metrics: Metrics;
    logger: Logger;
    /** The client tokens the app checks, as `serve` builds them (swapped by tokens.prepare()). */
    tokens: ReloadableClientTokens;
  }>;
  /** The error of one fetch (source + STS) for a profile that must fail; fails the test if it does not. */
  failureOf(profile: object, name?: string): Promise<BrokerError>;
  /** The shared client token the broker created. */
  token(): Promise<string>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cb-test-'));
  const keys = await makeClientKeyPair('RS256');
  const op = await OidcOp.start({
    clients: [
      { clientId: 'secret-client', clientSecret: CLIENT_SECRET },
      { clientId: 'jwt-client', authMethod: 'private_key_jwt', jwks: { keys: [keys.publicJwk] } },
      { clientId: 'other-aud-client', clientSecret: CLIENT_SECRET, audience: 'not-sts' },
    ],
  });
  const sts = await StsEmulator.start();
  sts.registerOidcProvider({ issuer: op.issuer, clientIds: ['sts.amazonaws.com'] });
  sts.trustRole({ roleArn: ROLE_ARN, issuer: op.issuer, audience: 'sts.amazonaws.com' });

  const logs: string[] = [];
  const built: { app: FastifyInstance; broker: Broker }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  await writeFile(path.join(dir, 'client-secret'), `${CLIENT_SECRET}\n`, { mode: 0o600 });

  const world: World = {
    dir,
    op,
    sts,
    privateKeyPem: keys.privatePem,
    privateJwk: keys.privateJwk,
    logs,
    async file(name, content, mode = 0o600) {
      const p = path.join(dir, name);
      await writeFile(p, content, { mode });
      return p;
    },
    oidcProfile(overrides = {}) {
      return {
        source: {
          type: 'oidc',
          issuer: op.issuer,
          clientId: 'secret-client',
          clientAuth: {
            method: 'client_secret_basic',
            clientSecret: `file:${path.join(dir, 'client-secret')}`,
          },
          ...((overrides.source as object) ?? {}),
        },
        role: { arn: ROLE_ARN, ...((overrides.role as object) ?? {}) },
        ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'source' && k !== 'role')),
      };
    },
    config(profiles, extra = {}) {
      return ConfigSchema.parse({
        server: { listen: '127.0.0.1:0', tokenFile: path.join(dir, 'token') },
        sts: { region: 'us-east-1', endpoint: sts.url, timeout: '10s' },
        logging: { level: 'debug' },
        profiles,
        ...extra,
      });
    },
    async broker(config, { logLevel = 'debug', ...deps } = {}) {
      const logger = createLogger({ level: logLevel, destination: sink });
      const metrics = new Metrics({ processMetrics: false });
      const broker = new Broker(config, { logger, metrics, ...deps });
      const tokens = await ReloadableClientTokens.load(config, logger);
      const app = buildApp({
        broker,
        server: config.server,
        tokens: () => tokens.current,
        logger,
        metrics,
        listenHost: '127.0.0.1',
      });
      built.push({ app, broker });
      return { broker, app, metrics, logger, tokens };
    },
    async failureOf(profile, name = 'app') {
      const { broker } = await world.broker(world.config({ [name]: profile }));
      try {
        await broker.fetchOnce(name);
      } catch (err) {
        return err as BrokerError;
      }
      return assert.fail(`the fetch for profile "${name}" should have failed`);
    },
    async token() {
      const { readFile } = await import('node:fs/promises');
      return readFile(path.join(dir, 'token'), 'utf8');
    },
    async close() {
      for (const b of built) {
        await b.broker.stop(); // a credentialsFile section is removed before the folder goes
        await b.app.close();
      }
      await Promise.all([op.close(), sts.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
