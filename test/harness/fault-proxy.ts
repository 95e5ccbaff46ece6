// A loopback TCP proxy to put between the broker and an upstream (IdP, STS) and break the network
// on demand. It works below HTTP, so what the broker sees is what a flaky network does: refused or
// reset connections, answers cut mid-way, a peer that accepts and then never answers, and bytes
// dripping in slower than any sane timeout.
//
// The mode is read on every chunk, not once per connection: HTTP clients keep connections alive,
// and a fault that only hit new connections would miss the pooled one the next request reuses.
import net, { type AddressInfo } from 'node:net';
import { listenOnLoopback } from './listen.ts';

export type FaultMode =
  /** Forward everything. */
  | 'pass'
  /** Destroy new connections at once and any pooled one as soon as a byte moves. */
  | 'reset'
  /** Forward the request, then cut the answer after its first few bytes. */
  | 'reset-mid'
  /** Accept and read, never forward or answer (a dead middlebox or a hung server). */
  | 'black-hole'
  /** Forward the request; drip the answer `slow.bytes` bytes every `slow.intervalMs`. */
  | 'slow';

export interface FaultProxyOptions {
  /** Upstream port on 127.0.0.1; may be set after start (an OP that must know the proxy's URL first). */
  targetPort?: number;
  mode?: FaultMode;
}

export class FaultProxy {
  readonly url: string;
  readonly port: number;
  mode: FaultMode;
  /** Upstream port on 127.0.0.1. */
  targetPort: number | undefined;
  /** Drip rate of `slow` mode; the first `afterBytes` a connection answers pass at full speed
   * (e.g. the headers, to drip only the body: reset pooled connections first with resetAll()). */
  slow = { bytes: 1, intervalMs: 200, afterBytes: 0 };
  /** Bytes a connection answers before `reset-mid` cuts it. */
  midBytes = 12;
  /** Connections accepted (in any mode): how often the broker tried. */
  accepted = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer();
    await listenOnLoopback(server);
    return new FaultProxy(server, opts);
  }

  private constructor(
    private readonly server: net.Server,
    opts: FaultProxyOptions,
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.mode = opts.mode ?? 'pass';
    this.targetPort = opts.targetPort;
    server.on('connection', (client) => this.accept(client));
  }

  /** Connections currently open (client and upstream sides). */
  openSockets(): number {
    return this.sockets.size;
  }

  /** Cuts every open connection, e.g. to make the next request open a fresh one. */
  resetAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.resetAll();
    await closed;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    this.track(client);
    const targetPort = this.targetPort;
    if (this.mode === 'reset' || targetPort === undefined) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    this.track(upstream);
    const cut = () => {
      client.resetAndDestroy();
      upstream.destroy();
    };
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());

    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'reset') return cut();
      if (this.mode === 'black-hole') return;
      upstream.write(chunk);
    });

    let answered = 0;
    const drip = new Drip(client, this.timers);
    upstream.on('data', (chunk: Buffer) => {
      switch (this.mode) {
        case 'reset':
          return cut();
        case 'black-hole':
          return;
        case 'reset-mid': {
          const room = Math.max(0, this.midBytes - answered);
          answered += Math.min(room, chunk.length);
          if (room > 0) client.write(chunk.subarray(0, room));
          // Let the partial answer reach the client before the reset.
          setImmediate(cut);
          return;
        }
        case 'slow': {
          const quick = Math.max(0, this.slow.afterBytes - answered);
          answered += chunk.length;
          if (quick > 0) drip.push(chunk.subarray(0, quick), { bytes: quick, intervalMs: 0 });
          if (chunk.length > quick) drip.push(chunk.subarray(quick), this.slow);
          return;
        }
        case 'pass':
          answered += chunk.length;
          return drip.busy() ? drip.push(chunk, { bytes: chunk.length, intervalMs: 0 }) : client.write(chunk);
      }
    });
  }
}

/** Writes queued bytes a few at a time, in order. */
class Drip {
  private queue: { data: Buffer; bytes: number; intervalMs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: net.Socket,
    private readonly timers: Set<NodeJS.Timeout>,
  ) {}

  busy(): boolean {
    return this.queue.length > 0;
  }

  push(data: Buffer, rate: { bytes: number; intervalMs: number }): void {
    this.queue.push({ data, ...rate });
    if (!this.timer) this.next();
  }

  private next(): void {
    const head = this.queue[0];
    if (!head || this.out.destroyed) {
      this.queue = [];
      return;
    }
    this.out.write(head.data.subarray(0, head.bytes));
    head.data = head.data.subarray(head.bytes);
    if (head.data.length === 0) this.queue.shift();
    if (this.queue.length === 0) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.timer = undefined;
      this.next();
    }, this.queue[0]!.intervalMs);
    this.timer = timer;
    this.timers.add(timer);
  }
}
