/**
 * A loopback TCP server that accepts every connection and never answers: what a dropped
 * connection or a black-holed endpoint looks like to a client. Real sockets, so the AWS SDK's own
 * HTTP handler, its retries and autoheal's deadlines all run as they do against a silent AWS.
 *
 *   const silent = await startSilentServer();
 *   try { … AWS_ENDPOINT_URL: silent.url … } finally { await silent.close(); }
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SilentServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Starts it on a free port of 127.0.0.1, or on the given loopback address and port. */
export async function startSilentServer(at: { host?: string; port?: number } = {}): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    // Read and drop whatever is sent; never write.
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const host = at.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(at.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
