// sts.region and sts.endpoint follow the AWS SDKs' environment conventions when the config leaves
// them out: AWS_REGION over AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_STS over AWS_ENDPOINT_URL, and a
// value in the config over either (src/sts/request.ts resolveStsSettings).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { DEFAULT_STS, endpointOf, resolveStsSettings, stsSettingsFromEnv } from '../../src/sts/settings.ts';

const VARS = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
] as const;
const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));

function setEnv(values: Partial<Record<(typeof VARS)[number], string>>) {
  for (const v of VARS) delete process.env[v];
  Object.assign(process.env, values);
}

describe('STS settings from the AWS environment variables', () => {
  afterEach(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
  });

  it('takes the region from AWS_REGION before AWS_DEFAULT_REGION, and defaults without either', () => {
    assert.deepEqual(stsSettingsFromEnv({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-central-1' }), {
      region: 'eu-west-1',
    });
    assert.deepEqual(stsSettingsFromEnv({ AWS_DEFAULT_REGION: 'eu-central-1' }), { region: 'eu-central-1' });
    // An empty variable counts as unset, as in the SDKs.
    assert.deepEqual(stsSettingsFromEnv({ AWS_REGION: '', AWS_DEFAULT_REGION: 'ap-south-1' }), {
      region: 'ap-south-1',
    });
    setEnv({});
    assert.equal(resolveStsSettings().region, DEFAULT_STS.region);
  });

  it('takes the endpoint from AWS_ENDPOINT_URL_STS before AWS_ENDPOINT_URL, unless told to ignore both', () => {
    const both = {
      AWS_ENDPOINT_URL_STS: 'https://sts.vpce.example',
      AWS_ENDPOINT_URL: 'https://all.example',
    };
    assert.deepEqual(stsSettingsFromEnv(both), { endpoint: 'https://sts.vpce.example' });
    assert.deepEqual(stsSettingsFromEnv({ AWS_ENDPOINT_URL: 'https://all.example' }), {
      endpoint: 'https://all.example',
    });
    assert.deepEqual(stsSettingsFromEnv({ ...both, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }), {});
  });

  it('lets a value in the config win over the environment, the profile over the top level', () => {
    setEnv({ AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_STS: 'https://sts.from-env.example' });
    const fromEnv = resolveStsSettings(undefined, undefined);
    assert.equal(fromEnv.region, 'eu-west-1');
    assert.equal(endpointOf(fromEnv).href, 'https://sts.from-env.example/');

    const top = resolveStsSettings({ region: 'us-west-2' });
    assert.deepEqual([top.region, top.endpoint], ['us-west-2', 'https://sts.from-env.example']);
    const profile = resolveStsSettings(
      { region: 'us-west-2', endpoint: 'https://sts.top.example' },
      { endpoint: 'https://sts.profile.example' },
    );
    assert.deepEqual([profile.region, profile.endpoint], ['us-west-2', 'https://sts.profile.example']);
  });

  it('without an endpoint anywhere, calls the regional endpoint of the environment region', () => {
    setEnv({ AWS_DEFAULT_REGION: 'eu-north-1' });
    assert.equal(endpointOf(resolveStsSettings()).href, 'https://sts.eu-north-1.amazonaws.com/');
  });

  it('refuses a value the config would refuse, naming the variable and the setting that overrides it', () => {
    assert.throws(
      () => stsSettingsFromEnv({ AWS_REGION: 'Europe' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.code === 'CONFIG_INVALID' &&
        /AWS_REGION=Europe: expected an AWS region.*sts\.region/.test(err.message),
    );
    // Credentials are never sent over plain http to a non-loopback host, whoever names the URL.
    assert.throws(
      () => stsSettingsFromEnv({ AWS_ENDPOINT_URL_STS: 'http://sts.example.com' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /AWS_ENDPOINT_URL_STS=http:\/\/sts\.example\.com: use https.*sts\.endpoint/.test(err.message),
    );
  });
});
