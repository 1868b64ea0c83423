/**
 * The built-in instance of the local group (`autoheal instance`): a tiny HTTP server on loopback.
 *
 * - `GET /health` answers 200 while well and 503 once sick; every other GET answers 200.
 * - It turns sick on SIGUSR1 or `POST /sick`, and well again on SIGUSR2 or `POST /well`.
 * - SIGTERM and SIGINT close it and exit 0.
 * - With `exitWithParent`, it exits when its stdin closes: the local group keeps a pipe open,
 *   so an instance never outlives a group that was killed without a chance to clean up.
 *
 * Once listening it writes one JSON line to stdout: `{"event":"listening","port":N,"pid":N}`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** Options of the instance server. */
export const instanceServerOptionsSchema = z
  .object({
    /** TCP port; 0 lets the OS choose. */
    port: z.number().int().min(0).max(65_535).default(0),
    /** Loopback by default: an instance of the local group is never reachable from the network. */
    host: z.string().min(1).default('127.0.0.1'),
    /** The path that answers 200 while well and 503 while sick. */
    healthPath: z.string().startsWith('/').default('/health'),
    /** Written in every answer, so a probe can tell which instance answered. */
    instanceId: z.string().default('i-10ca1000000000000'),
    /** Exit when stdin closes (the parent is gone). */
    exitWithParent: z.boolean().default(false),
  })
  .strict();

export type InstanceServerOptions = z.output<typeof instanceServerOptionsSchema>;
export type InstanceServerOptionsInput = z.input<typeof instanceServerOptionsSchema>;

/** A running instance server. */
export interface InstanceServer {
  readonly port: number;
  readonly sick: boolean;
  setSick(sick: boolean): void;
  close(): Promise<void>;
}

/** Starts the instance server in this process. */
export async function startInstanceServer(input: InstanceServerOptionsInput = {}): Promise<InstanceServer> {
  const options = instanceServerOptionsSchema.parse(input);
  let sick = false;
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0];
    if (req.method === 'POST' && (path === '/sick' || path === '/well')) {
      sick = path === '/sick';
      res.writeHead(204).end();
      return;
    }
    const unwell = sick && path === options.healthPath;
    const body = JSON.stringify({ status: unwell ? 'sick' : 'ok', instanceId: options.instanceId, pid: process.pid });
    res.writeHead(unwell ? 503 : 200, { 'content-type': 'application/json', connection: 'close' }).end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get sick() {
      return sick;
    },
    setSick(value) {
      sick = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Runs the instance server as this process's whole job (the `autoheal instance` command and the
 * local group's children): signals, the stdin watch, and the "listening" line.
 */
export async function runInstanceServer(input: InstanceServerOptionsInput = {}): Promise<InstanceServer> {
  const options = instanceServerOptionsSchema.parse(input);
  const server = await startInstanceServer(options);
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    // Nothing else keeps the event loop alive once the server and stdin are closed.
    process.stdin.destroy();
    void server.close();
  };
  process.on('SIGUSR1', () => server.setSick(true));
  process.on('SIGUSR2', () => server.setSick(false));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (options.exitWithParent) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.port, pid: process.pid })}\n`);
  return server;
}
