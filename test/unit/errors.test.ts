// One error hierarchy (src/errors.ts) with the profile as a field: a message never carries the
// profile, so nothing has to strip it again; the edges (CLI lines, HTTP bodies) render it from the
// field, and whoever knows the profile (the refresher, the broker) files an error under it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Refresher } from '../../src/cache/refresher.ts';
import {
  BrokerError,
  describeError,
  rethrowFor,
  SecretError,
  SourceError,
  StsError,
  UnavailableError,
} from '../../src/errors.ts';
import { FakeClock } from '../harness/fake-clock.ts';

describe('errors: the profile is a field, rendered at the edges', () => {
  it('a message never carries the profile; describeError leads with it', () => {
    const err = new StsError('STS_ACCESS_DENIED', 'STS denied assuming role r', { profile: 'app' });
    assert.equal(err.message, 'STS denied assuming role r');
    assert.equal(err.profile, 'app');
    assert.equal(describeError(err), 'profile "app": STS denied assuming role r');
    assert.equal(describeError(new SourceError('OIDC_UNREACHABLE', 'down')), 'down');
    assert.equal(describeError(new Error('plain')), 'plain');
    assert.equal(describeError('text'), 'text');
  });

  it('withProfile files an error once: the first profile named stays', () => {
    const err = new SecretError('secret env:X: not set');
    assert.equal(err.profile, undefined);
    assert.equal(err.withProfile('a'), err, 'the same error, not a rewrapped copy');
    err.withProfile('b');
    assert.equal(err.profile, 'a');
    assert.equal(err.code, 'SECRET_UNAVAILABLE');
    assert.equal(err.message, 'secret env:X: not set');
  });

  it('rethrowFor files BrokerErrors and passes anything else through untouched', async () => {
    const coded = new SourceError('X509_KEY_INVALID', 'key k is encrypted');
    await assert.rejects(Promise.reject(coded).catch(rethrowFor('app')), (e) => e === coded);
    assert.equal(coded.profile, 'app');
    const plain = new TypeError('bug');
    await assert.rejects(Promise.reject(plain).catch(rethrowFor('app')), (e) => e === plain);
  });

  it('the refresher files a profile-less failure under its profile, and its 503 names the profile once', async () => {
    const clock = new FakeClock();
    const failure = new SecretError('secret file:/run/s: cannot read it (no such file)');
    const refresher = new Refresher({
      profile: 'billing',
      fetch: async () => {
        throw failure;
      },
      timings: { before: 30 * 60_000, minRemaining: 20 * 60_000, jitter: 0 },
      backoff: { initial: 1000, max: 300_000 },
      clock,
      random: () => 0.5,
    });
    await assert.rejects(refresher.refresh(), (e) => e === failure);
    assert.equal(failure.profile, 'billing');
    assert.deepEqual(refresher.status().lastError, {
      code: 'SECRET_UNAVAILABLE',
      message: 'secret file:/run/s: cannot read it (no such file)',
    });
    const unavailable = await refresher.get().then(
      () => assert.fail('nothing to serve'),
      (e: unknown) => e as UnavailableError,
    );
    assert.ok(unavailable instanceof UnavailableError);
    assert.equal(
      describeError(unavailable),
      'profile "billing": no valid credentials yet: secret file:/run/s: cannot read it (no such file)',
    );
    refresher.stop();
  });

  it('every subclass is a BrokerError with a code from the list', () => {
    for (const err of [
      new SecretError('s'),
      new SourceError('SAML_NO_RESPONSE', 's'),
      new StsError('STS_THROTTLED', 's', { retryable: true, awsCode: 'Throttling' }),
      new UnavailableError('s'),
    ]) {
      assert.ok(err instanceof BrokerError);
      assert.match(err.code, /^[A-Z][A-Z0-9_]+$/);
    }
  });
});
