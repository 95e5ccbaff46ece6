// Proxy selection: config over environment, "none" to ignore HTTPS_PROXY, NO_PROXY matching as
// curl does it (exact host, domain suffix, IP, port, "*").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyFor, resolveNetwork } from '../../src/outbound.ts';

const env = {
  HTTPS_PROXY: 'http://proxy.corp:3128',
  NO_PROXY: 'localhost, .internal.corp,10.0.0.5,vpce.example:8443',
};

describe('resolveNetwork', () => {
  it('without config, HTTPS_PROXY and NO_PROXY apply (lower case too)', () => {
    assert.deepEqual(resolveNetwork([undefined], env), {
      proxy: 'http://proxy.corp:3128',
      noProxy: ['localhost', '.internal.corp', '10.0.0.5', 'vpce.example:8443'],
      caFile: undefined,
    });
    assert.equal(resolveNetwork([], { https_proxy: 'http://p:1' }).proxy, 'http://p:1');
  });

  it('config wins; a profile overrides the top level; "none" turns the proxy off', () => {
    const net = resolveNetwork([{ proxy: 'http://top:1' }, { noProxy: ['x'] }], env);
    assert.equal(net.proxy, 'http://top:1');
    assert.deepEqual(net.noProxy, ['x']);
    assert.equal(resolveNetwork([{ proxy: 'http://top:1' }, { proxy: 'none' }], env).proxy, undefined);
  });
});

describe('proxyFor', () => {
  const net = resolveNetwork([undefined], env);
  const via = (url: string) => proxyFor(new URL(url), net);

  it('proxies AWS endpoints', () => {
    assert.equal(via('https://sts.eu-west-1.amazonaws.com'), 'http://proxy.corp:3128');
  });
  it('exempts exact names, domain suffixes and IPs', () => {
    assert.equal(via('http://localhost:8080'), undefined);
    assert.equal(via('https://sts.internal.corp'), undefined);
    assert.equal(via('https://internal.corp'), undefined);
    assert.equal(via('https://notinternal.corp'), 'http://proxy.corp:3128');
    assert.equal(via('https://10.0.0.5'), undefined);
  });
  it('an entry with a port only matches that port', () => {
    assert.equal(via('https://vpce.example:8443'), undefined);
    assert.equal(via('https://vpce.example'), 'http://proxy.corp:3128');
  });
  it('"*" exempts everything', () => {
    assert.equal(proxyFor(new URL('https://a.b'), { ...net, noProxy: ['*'] }), undefined);
  });
});
