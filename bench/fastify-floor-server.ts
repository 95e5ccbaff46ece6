// A second reference for the throughput benchmark: the baseline's work (token check, same JSON)
// as one bare fastify route, with no guards, hooks, metrics or audit. The distance from the
// node:http baseline to this is the framework's own cost; from this to the broker, the broker's.
// Usage: tsx bench/fastify-floor-server.ts TOKEN_FILE  → prints "listening PORT"
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { BASELINE_BODY } from './baseline-body.ts';

const tokenDigest = createHash('sha256').update(readFileSync(process.argv[2]!, 'utf8')).digest();
const app = Fastify({ logger: false });
app.get('/v1/credentials', (req, reply) => {
  const presented = req.headers.authorization;
  const ok =
    presented !== undefined && timingSafeEqual(createHash('sha256').update(presented).digest(), tokenDigest);
  if (!ok) {
    reply.code(401).send({ code: 'TOKEN_INVALID', message: 'no' });
    return;
  }
  reply.type('application/json; charset=utf-8').send(BASELINE_BODY);
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening ${new URL(address).port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
