// Runs test/harness/sdk-consumer.ts (the AWS SDK for JavaScript v3 as an app, in its own process)
// with only the environment a test gives it, pointed at the world's STS emulator.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { World } from './world.ts';

const run = promisify(execFile);
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sdk-consumer.ts');

export interface Consumed {
  stdout: string;
  stderr: string;
  /** {arn, accessKeyId, expiration} when the app got credentials and GetCallerIdentity passed. */
  json: { arn: string; accessKeyId: string; expiration: string } | undefined;
}

export async function consume(world: World, mode: string, env: Record<string, string>): Promise<Consumed> {
  const result = await run(process.execPath, ['--import', 'tsx', fixture, mode], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: world.dir,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: world.sts.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    timeout: 30_000,
  }).catch((err: { stdout: string; stderr: string }) => ({ stdout: '', stderr: err.stderr }));
  return { ...result, json: result.stdout ? JSON.parse(result.stdout) : undefined };
}
