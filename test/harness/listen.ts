import type { Server } from 'node:net';

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
