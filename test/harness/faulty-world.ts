// Shared setup of the network/IdP/STS fault tests: the real OpenID Provider and STS emulator, each
// behind a fault proxy (test/harness/fault-proxy.ts), the STS emulator and the brokers on one fake
// clock, and brokers built from config by the test world (test/harness/world.ts).
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { FakeClock } from './fake-clock.ts';
import { FaultProxy } from './fault-proxy.ts';
import { OidcOp } from './oidc-op.ts';
import { StsEmulator } from './sts-emulator.ts';
import { startWorld, type World } from './world.ts';

export const ROLE = 'arn:aws:iam::123456789012:role/faulty';
const SECRET = 'fault-secret';

export interface FaultyWorld {
  world: World;
  clock: FakeClock;
  op: OidcOp;
  sts: StsEmulator;
  idpProxy: FaultProxy;
  stsProxy: FaultProxy;
  /** A profile of the OIDC client behind idpProxy, assuming ROLE. */
  profile(overrides?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** A broker on the fake clock whose STS calls go through stsProxy. */
  broker(
    profiles: Record<string, unknown>,
    opts?: { random?: () => number; stsTimeoutMs?: number },
  ): ReturnType<World['broker']>;
  close(): Promise<void>;
}

export async function startFaultyWorld(): Promise<FaultyWorld> {
  const world = await startWorld();
  const clock = new FakeClock(Date.now());
  const idpProxy = await FaultProxy.start({});
  // The OP must name the proxy as its issuer: discovery checks it, and STS fetches keys through it.
  const op = await OidcOp.start({
    clients: [{ clientId: 'secret-client', clientSecret: SECRET }],
    accessTokenTtl: 86_400, // STS judges the token on the fake clock
    issuer: idpProxy.url,
  });
  idpProxy.targetPort = op.port;
  const sts = await StsEmulator.start({ now: () => clock.now() });
  sts.registerOidcProvider({ issuer: op.issuer, clientIds: ['sts.amazonaws.com'] });
  sts.trustRole({ roleArn: ROLE, issuer: op.issuer });
  const stsProxy = await FaultProxy.start({ targetPort: Number(new URL(sts.url).port) });
  const secretFile = await world.file('fault-secret', SECRET);

  return {
    world,
    clock,
    op,
    sts,
    idpProxy,
    stsProxy,
    async profile(overrides = {}) {
      return {
        source: {
          type: 'oidc',
          issuer: op.issuer,
          clientId: 'secret-client',
          clientAuth: { method: 'client_secret_basic', clientSecret: `file:${secretFile}` },
          ...((overrides.source as object) ?? {}),
        },
        role: { arn: ROLE },
        ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'source')),
      };
    },
    broker(profiles, opts = {}) {
      const config = ConfigSchema.parse({
        server: { listen: '127.0.0.1:0', tokenFile: `${world.dir}/token` },
        sts: {
          endpoint: stsProxy.url,
          timeout: `${opts.stsTimeoutMs ?? 10_000}ms`,
          clockSkewTolerance: '1m',
        },
        profiles,
      });
      return world.broker(config, { clock, random: opts.random ?? (() => 0.5) });
    },
    async close() {
      await Promise.all([idpProxy.close(), stsProxy.close()]);
      await Promise.all([op.close(), sts.close()]);
      await world.close();
    },
  };
}
