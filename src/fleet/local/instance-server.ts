/**
 * The built-in instance of the local group (`autoheal instance`): a tiny HTTP server on loopback.
 *
 * - `GET /health` answers 200 while well and 503 once sick; every other GET answers 200.
 * - It turns sick on SIGUSR1 or `POST /sick`, and well again on SIGUSR2 or `POST /well`.
 * - SIGTERM and SIGINT close it and exit 0.
 * - With `exitWithParent`, it exits when its stdin closes: the local group keeps a pipe open,
 *   so an instance never outlives a group that was killed without a chance to clean up.
 *
 * Once listening it writes one JSON line to stdout: `{"event":"listening","port":N,"pid":N}`; then
 * one for each change it lives through (`sick`, `well`, `closing`, with what caused it). The local
 * group keeps an instance's last lines, so a replaced instance's evidence says what it went through.
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
    /** The zone the local group placed it in, written in every answer when set. */
    availabilityZone: z.string().min(1).optional(),
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
    const zone = options.availabilityZone !== undefined ? { availabilityZone: options.availabilityZone } : {};
    const body = JSON.stringify({ status: unwell ? 'sick' : 'ok', instanceId: options.instanceId, ...zone, pid: process.pid });
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
 * local group's children): signals, the stdin watch, and the lines on stdout. The signal handlers
 * come first: the port answers before this function returns, and a SIGUSR1 that found no handler
 * would start Node's inspector instead of making the server sick.
 */
export async function runInstanceServer(input: InstanceServerOptionsInput = {}): Promise<InstanceServer> {
  const options = instanceServerOptionsSchema.parse(input);
  // A parent that is gone leaves a broken pipe: the line is lost, the server goes on.
  process.stdout.on('error', () => {});
  const say = (line: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  // Set once it listens; the handlers below may run before that.
  const started: { server?: InstanceServer } = {};
  let sick = false;
  let closing = false;
  const shutdown = (why: Record<string, string>): void => {
    if (closing) return;
    closing = true;
    say({ event: 'closing', ...why });
    // Nothing else keeps the event loop alive once the server and stdin are closed.
    process.stdin.destroy();
    void started.server?.close();
  };
  const sickness = (value: boolean, via: string) => (): void => {
    sick = value;
    started.server?.setSick(value);
    say({ event: value ? 'sick' : 'well', via });
  };
  process.on('SIGUSR1', sickness(true, 'SIGUSR1'));
  process.on('SIGUSR2', sickness(false, 'SIGUSR2'));
  process.on('SIGTERM', () => shutdown({ signal: 'SIGTERM' }));
  process.on('SIGINT', () => shutdown({ signal: 'SIGINT' }));
  if (options.exitWithParent) {
    process.stdin.on('end', () => shutdown({ reason: 'stdin closed: the group stopped it, or is gone' }));
    process.stdin.on('error', () => shutdown({ reason: 'stdin failed: the group is gone' }));
    process.stdin.resume();
  }
  const server = await startInstanceServer(options);
  started.server = server;
  server.setSick(sick);
  const zone = options.availabilityZone !== undefined ? { availabilityZone: options.availabilityZone } : {};
  say({ event: 'listening', port: server.port, pid: process.pid, ...zone });
  // Told to close while it was starting: close now.
  if (closing) void server.close();
  return server;
}
