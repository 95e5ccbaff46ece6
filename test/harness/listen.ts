import { type AddressInfo, createServer, type Server } from 'node:net';

/** Listens on a free port of 127.0.0.1 (test servers never bind elsewhere); rejects if it cannot. */
export function listenOnLoopback(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A port free on 127.0.0.1 right now (nothing listens on it): for a listener that must keep its
 * address across restarts, or for a connection that must be refused. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
