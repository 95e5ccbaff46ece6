// The one STS client lifecycle (src/sts/clients.ts): a client per STS setting (unsigned) or per
// signing slot, reused while nothing it was built from changes, replaced (the old one destroyed)
// when its keys change, pruned on reload, all destroyed on shutdown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { STSClient } from '@aws-sdk/client-sts';
import { StsClients } from '../../src/sts/clients.ts';
import { DEFAULT_STS } from '../../src/sts/settings.ts';

const A = { ...DEFAULT_STS, region: 'eu-west-1' };
const B = { ...DEFAULT_STS, region: 'eu-central-1' };
const keys = (id: string) => ({ accessKeyId: id, secretAccessKey: 'secret', sessionToken: `token-${id}` });

function watchDestroy(client: STSClient): () => boolean {
  let destroyed = false;
  const destroy = client.destroy.bind(client);
  client.destroy = () => {
    destroyed = true;
    destroy();
  };
  return () => destroyed;
}

describe('StsClients', () => {
  it('shares one client per setting, also between concurrent first calls', async () => {
    const clients = new StsClients();
    const [one, two] = await Promise.all([clients.get(A), clients.get(A)]);
    assert.equal(one, two);
    assert.equal(await clients.get(A), one);
    assert.notEqual(await clients.get(B), one);
    assert.equal(clients.size, 2);
    clients.destroy();
  });

  it('replaces a signing slot when its keys change, destroying the old client', async () => {
    const clients = new StsClients();
    const first = await clients.get(A, { signer: { slot: 'app/chain[0]', keys: keys('K1') } });
    const destroyed = watchDestroy(first);
    assert.equal(await clients.get(A, { signer: { slot: 'app/chain[0]', keys: keys('K1') } }), first);
    const second = await clients.get(A, { signer: { slot: 'app/chain[0]', keys: keys('K2') } });
    assert.notEqual(second, first);
    await new Promise((r) => setImmediate(r));
    assert.ok(destroyed(), 'the client of the old keys is destroyed');
    assert.equal(clients.size, 1);
    clients.destroy();
  });

  it('retain keeps the clients of settings in use; destroy ends them all', async () => {
    const clients = new StsClients();
    const a = await clients.get(A);
    const b = await clients.get(B);
    const bDestroyed = watchDestroy(b);
    const aDestroyed = watchDestroy(a);
    clients.retain([A]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([aDestroyed(), bDestroyed(), clients.size], [false, true, 1]);
    clients.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(aDestroyed(), true);
    await assert.rejects(clients.get(A), /shut down/);
  });
});
