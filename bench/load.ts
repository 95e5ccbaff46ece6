// The bench's load generator, run as its own process so that it never competes with the server it
// measures inside one event loop. Keep-alive connections, one request in flight per connection,
// latency from hrtime in microseconds (autocannon's histogram has 1 ms resolution, too coarse for
// answers that take ~50 µs).
// Usage: node --import tsx bench/load.ts '{"url":…,"connections":10,"durationMs":6000,"token":…}'
//        → prints one JSON line: { requests, non2xx, errors, rps, p50Us, p99Us }
// `amount` instead of `durationMs` sends exactly that many requests.
import net from 'node:net';

interface Options {
  url: string;
  connections: number;
  durationMs?: number;
  amount?: number;
  token: string;
}
const opts = JSON.parse(process.argv[2]!) as Options;
const url = new URL(opts.url);
const request = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${opts.token}\r\n\r\n`,
);
// Latencies of up to 2^32 µs, one slot per answer (a fixed buffer: no garbage while measuring).
const latencies = new Uint32Array(opts.amount ?? 4_000_000);
let requests = 0;
let non2xx = 0;
let errors = 0;
let sent = 0;
let stopping = false;
const started = process.hrtime.bigint();

function connection(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let at = 0n;
    const send = () => {
      if (stopping || (opts.amount !== undefined && sent >= opts.amount)) {
        socket.end();
        return;
      }
      sent++;
      at = process.hrtime.bigint();
      socket.write(request);
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1]);
        if (!Number.isFinite(length)) throw new Error(`an answer without content-length: ${head}`);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        if (requests < latencies.length) latencies[requests] = Number((process.hrtime.bigint() - at) / 1000n);
        requests++;
        if (head.charCodeAt(9) !== 50) non2xx++; // "HTTP/1.1 2xx"
        send();
      }
    });
    socket.on('error', () => errors++);
    socket.on('close', () => resolve());
  });
}

if (opts.durationMs !== undefined) setTimeout(() => (stopping = true), opts.durationMs);
await Promise.all(Array.from({ length: opts.connections }, connection));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const sorted = latencies.subarray(0, Math.min(requests, latencies.length)).sort();
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
console.log(
  JSON.stringify({ requests, non2xx, errors, rps: requests / seconds, p50Us: pct(0.5), p99Us: pct(0.99) }),
);
