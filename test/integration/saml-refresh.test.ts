// The saml source under the shared Refresher, on a fake clock that the IdP and the STS emulator
// share: each refresh is a fresh IdP login and a fresh AssumeRoleWithSAML; an IdP failure during a
// refresh keeps the valid credentials served (and says why in /readyz) until a retry succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema/index.ts';
import { FakeClock } from '../harness/fake-clock.ts';
import { SamlIdp } from '../harness/saml-idp.ts';
import { PASSWORD, PROVIDER_ARN, rolePair } from '../harness/saml-world.ts';
import { StsEmulator } from '../harness/sts-emulator.ts';
import { ROLE_ARN, startWorld, type World } from '../harness/world.ts';

const MIN = 60_000;
let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

describe('saml source with the Refresher', () => {
  it('refreshes by logging in again; an IdP failure keeps the valid credentials served until it recovers', async () => {
    const clock = new FakeClock(Date.now());
    const now = () => clock.now();
    const sts = await StsEmulator.start({ now });
    const idp = await SamlIdp.start({
      users: [{ username: 'svc-app', password: PASSWORD, roles: [rolePair(ROLE_ARN)] }],
      now,
    });
    try {
      sts.registerSamlProvider({ arn: PROVIDER_ARN, metadataXml: idp.metadataXml });
      sts.trustRole({ roleArn: ROLE_ARN, samlProvider: PROVIDER_ARN });
      const password = await world.file('refresh-password', PASSWORD);
      const config = ConfigSchema.parse({
        server: { listen: '127.0.0.1:0', tokenFile: `${world.dir}/token` },
        sts: { endpoint: sts.url, timeout: '10s' },
        profiles: {
          default: {
            source: {
              type: 'saml',
              idpUrl: idp.urls.ecp,
              auth: { method: 'ecp', username: 'svc-app', password: `file:${password}` },
            },
            role: { arn: ROLE_ARN },
          },
        },
      });
      const { app, broker } = await world.broker(config, { clock, random: () => 0.5 });
      const token = await world.token();
      const get = async () => {
        const res = await app.inject({ url: '/v1/credentials', headers: { authorization: token } });
        return { status: res.statusCode, key: res.json().AccessKeyId as string };
      };
      const step = async (ms: number) => {
        await clock.advance(ms);
        await broker.settled();
      };

      await broker.start();
      const first = await get();
      assert.equal(first.status, 200);
      assert.equal(sts.calls('AssumeRoleWithSAML'), 1);
      assert.equal(idp.logins.length, 1);

      // 1 h sessions: refresh 31.5 min before expiry (random 0.5 → 10% × 0.5 jitter).
      await step(28 * MIN);
      assert.equal(sts.calls('AssumeRoleWithSAML'), 1, 'not before the refresh point');
      await step(1 * MIN);
      assert.equal(sts.calls('AssumeRoleWithSAML'), 2, 'refreshed');
      assert.equal(idp.logins.length, 2, 'with a fresh login (assertions are single-use)');
      const second = await get();
      assert.notEqual(second.key, first.key);

      // The IdP fails the next refresh: the valid credentials are still served.
      idp.respond = 'failed-status';
      await step(29 * MIN);
      assert.equal(idp.logins.length, 3);
      const during = await get();
      assert.deepEqual(during, { status: 200, key: second.key });
      const status = broker.readiness().profiles.default;
      assert.equal(status?.state, 'stale');
      assert.equal(status?.lastError?.code, 'SAML_IDP_STATUS');

      // Fixed at the IdP: the slow retry (2.5–5 min for a non-retryable error) recovers.
      idp.respond = 'normal';
      await step(5 * MIN);
      const recovered = await get();
      assert.equal(recovered.status, 200);
      assert.notEqual(recovered.key, second.key);
      assert.equal(broker.readiness().profiles.default?.state, 'ready');
    } finally {
      await idp.close();
      await sts.close();
    }
  });
});
