// The baseline for the throughput benchmark: a plain node:http server that does the same work a
// credential request needs at minimum (the same constant-time token check against the token
// file, the same JSON), with none of the broker's framework, guards or metrics.
// Usage: tsx bench/baseline-server.ts TOKEN_FILE  → prints "listening PORT"
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { BASELINE_BODY as body } from './baseline-body.ts';

const tokenDigest = createHash('sha256').update(readFileSync(process.argv[2]!, 'utf8')).digest();

const server = http.createServer((req, res) => {
  const presented = req.headers.authorization;
  const ok =
    presented !== undefined && timingSafeEqual(createHash('sha256').update(presented).digest(), tokenDigest);
  if (!ok) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"TOKEN_INVALID","message":"no"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
