// A forward proxy for tests: HTTP CONNECT tunnels on 127.0.0.1, to loopback targets only, each
// one recorded, so a test can prove that traffic went through the proxy (and where to). Given
// `credentials`, it asks for them as an authenticating corporate proxy does (407 without the
// matching Basic Proxy-Authorization).
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { listenOnLoopback } from './listen.ts';

export class ConnectProxy {
  readonly url: string;
  /** `host:port` of every tunnel opened, in order. */
  readonly tunnels: string[] = [];
  /** The Proxy-Authorization header of every CONNECT (undefined where none was sent). */
  readonly authorizations: (string | undefined)[] = [];
  private readonly sockets = new Set<net.Socket>();

  static async start(
    opts: { credentials?: { username: string; password: string } } = {},
  ): Promise<ConnectProxy> {
    const server = http.createServer((_req, res) => {
      res.writeHead(405, { allow: 'CONNECT' }).end('only CONNECT');
    });
    await listenOnLoopback(server);
    return new ConnectProxy(server, opts.credentials);
  }

  private constructor(
    private readonly server: http.Server,
    credentials?: { username: string; password: string },
  ) {
    const expected =
      credentials &&
      `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connect', (req, client: net.Socket, head: Buffer) => {
      const target = req.url ?? '';
      this.authorizations.push(req.headers['proxy-authorization']);
      if (expected && req.headers['proxy-authorization'] !== expected) {
        client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n',
        );
        return;
      }
      const m = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(target);
      if (!m) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      this.tunnels.push(target);
      const upstream = net.connect(Number(m[2]), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
    });
  }

  /** Tunnels opened to a given port. */
  tunnelsTo(url: string): number {
    const { host } = new URL(url);
    return this.tunnels.filter((t) => t === host).length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
