// The real AWS SDK for JavaScript v3 (default credential chain, own process) pointed at one
// profile of a listening broker: what an unmodified app sees.
import path from 'node:path';
import { type Consumed, consume } from './consumer.ts';
import type { World } from './world.ts';

export function consumeWithSdk(world: World, base: string, profile: string): Promise<Consumed> {
  return consume(world, 'default-chain', {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials/${profile}`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(world.dir, 'token'),
  });
}
