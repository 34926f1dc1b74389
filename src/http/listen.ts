/** Where the server listens: `SOCKET`, or `HOST:PORT`. */
import cluster from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';

/** Listen on `SOCKET` or `HOST:PORT`; resolves with the URL to print. */
export async function listen(server: Server, config: Pick<Config, 'socket' | 'port' | 'host'>): Promise<string> {
  if (config.socket) {
    // A socket file left by a crashed run would make listen() fail with
    // EADDRINUSE. Under cluster the primary owns the socket and clears it.
    if (cluster.isPrimary && existsSync(config.socket)) unlinkSync(config.socket);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.socket, () => resolve());
    });
    return `unix:${config.socket}`;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}
