/**
 * The prober against targets that misbehave on purpose, on real loopback servers: a /health
 * that streams its body forever, one with a 1 GiB body, one that accepts and never answers,
 * one that sends its headers a byte at a time. Each check must close its connection, read only
 * the status and headers, and end by its deadline; the healthy targets around them stay healthy.
 */
import { Agent, createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCheck, maxHeaderBytes } from '../../src/prober/checks.js';
import { startProber, type Prober } from '../../src/prober/prober.js';
import { eventually } from '../helpers/fauxqs.js';

const servers: Array<Server | TcpServer> = [];
const probers: Prober[] = [];

afterEach(async () => {
  await Promise.all(probers.splice(0).map((p) => p.stop()));
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    s.close();
  }
});

/** Connections a server holds open now, and the most it ever held at once; bytes it wrote. */
interface Connections {
  open: number;
  maxOpen: number;
  total: number;
  bytesWritten: number;
}

function countConnections(server: Server | TcpServer): Connections {
  const c: Connections = { open: 0, maxOpen: 0, total: 0, bytesWritten: 0 };
  server.on('connection', (socket: Socket) => {
    c.open++;
    c.total++;
    c.maxOpen = Math.max(c.maxOpen, c.open);
    socket.on('close', () => {
      c.open--;
      c.bytesWritten += socket.bytesWritten;
    });
  });
  return c;
}

async function listen<T extends Server | TcpServer>(server: T): Promise<{ server: T; port: number }> {
  // The prober ends every check with a reset: on the server's side that is an ECONNRESET, expected here.
  server.on('connection', (socket: Socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Writes `chunk` again each time the previous write was taken, until `limitBytes` or the
 * connection ends; one chunk per turn of the event loop, as a server across a network sends
 * (a loop of synchronous writes would fill the kernel's socket buffers, megabytes on loopback,
 * before the client in this same process could read a byte).
 */
function streamLazily(res: ServerResponse, chunk: Buffer, limitBytes = Infinity): void {
  let sent = 0;
  const next = (error?: Error | null): void => {
    if (error || res.destroyed || sent >= limitBytes) return;
    sent += chunk.length;
    res.write(chunk, () => setImmediate(next));
  };
  res.on('error', () => {});
  next();
}

const healthy = (): Promise<{ server: Server; port: number }> =>
  listen(createServer((_req, res) => res.writeHead(200, { connection: 'close' }).end('ok')));

function prober(...args: Parameters<typeof startProber>): Prober {
  const p = startProber(...args);
  probers.push(p);
  return p;
}

describe('prober hygiene', () => {
  it('keeps 20 healthy targets healthy beside a /health that streams its body forever, holding no socket open', async () => {
    // Prepare: a small concurrency, so that one socket leaked per check would fill every slot within a second.
    const streaming = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        streamLazily(res, Buffer.alloc(16 * 1024, 'x'));
      }),
    );
    const streamingConnections = countConnections(streaming.server);
    const others = await Promise.all(Array.from({ length: 20 }, healthy));
    const targets = [
      { instanceId: 'i-stream', host: '127.0.0.1', port: streaming.port },
      ...others.map((o, i) => ({ instanceId: `i-ok${i}`, host: '127.0.0.1', port: o.port })),
    ];
    const p = prober({ intervalMs: 100, timeoutMs: 90, concurrency: 4, unhealthyThreshold: 2, healthyThreshold: 2, repeatUnhealthyAfterMs: 0 }, {
      sink: async () => {},
      targets,
    });
    const unhealthy: string[] = [];
    p.events.on('prober:target:unhealthy', (e) => unhealthy.push(`${e.instanceId}: ${e.detail}`));
    const succeeded = new Map<string, number>();
    p.events.on('prober:check:succeeded', (e) => succeeded.set(e.instanceId, (succeeded.get(e.instanceId) ?? 0) + 1));

    // Act: many more checks of the streaming target than there are slots.
    await eventually(() => (succeeded.get('i-stream') ?? 0) >= 40, '40 checks of the streaming target', 60_000);

    // Assess
    expect(unhealthy).toEqual([]);
    for (const t of targets) expect(succeeded.get(t.instanceId) ?? 0, t.instanceId).toBeGreaterThanOrEqual(10);
    expect(streamingConnections.total).toBeGreaterThanOrEqual(40);
    // One check at a time per target, each closing its socket: never more than a couple open at once.
    expect(streamingConnections.maxOpen).toBeLessThanOrEqual(3);
    // Each check took the headers and left: far less than a MiB per connection went out.
    expect(streamingConnections.bytesWritten / streamingConnections.total).toBeLessThan(1024 * 1024);
  });

  it('reads the status of a target with a 1 GiB body, not its body: the server sends far less than 1 MiB per check', async () => {
    // Prepare: the body is written lazily, only as fast as the client takes it.
    const gib = 1024 ** 3;
    const big = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'content-length': String(gib), 'content-type': 'application/octet-stream' });
        streamLazily(res, Buffer.alloc(64 * 1024, 'y'), gib);
      }),
    );
    const connections = countConnections(big.server);
    const agent = new Agent({ keepAlive: false, maxSockets: 4, maxTotalSockets: 4 });

    // Act
    const results = [];
    for (let i = 0; i < 10; i++) {
      results.push(await httpCheck({ host: '127.0.0.1', port: big.port, path: '/health', expectedStatus: 200 }, 2_000, agent));
    }
    await eventually(() => connections.open === 0, 'the server sees every connection closed', 5_000);
    agent.destroy();

    // Assess
    expect(results.every((r) => r.ok && r.status === 200)).toBe(true);
    expect(connections.total).toBe(10);
    expect(connections.bytesWritten / connections.total).toBeLessThan(1024 * 1024);
  });

  it('times out a target that accepts and never answers, and one that sends its headers byte by byte, closing their connections; the healthy ones stay healthy', async () => {
    // Prepare
    // Reads (so that it sees the client leave) and never writes a byte.
    const silent = await listen(createTcpServer((socket) => socket.resume()));
    const silentConnections = countConnections(silent.server);
    const drip = await listen(
      createTcpServer((socket) => {
        const text = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n' + 'x-pad: y\r\n'.repeat(10_000);
        let i = 0;
        const timer = setInterval(() => (i < text.length ? socket.write(text[i++] ?? '') : undefined), 5);
        socket.resume();
        socket.on('error', () => {});
        socket.on('close', () => clearInterval(timer));
      }),
    );
    const dripConnections = countConnections(drip.server);
    const others = await Promise.all(Array.from({ length: 10 }, healthy));
    const p = prober({ intervalMs: 150, timeoutMs: 100, concurrency: 4, unhealthyThreshold: 2, healthyThreshold: 2, repeatUnhealthyAfterMs: 0 }, {
      sink: async () => {},
      targets: [
        { instanceId: 'i-silent', host: '127.0.0.1', port: silent.port },
        { instanceId: 'i-drip', host: '127.0.0.1', port: drip.port },
        ...others.map((o, i) => ({ instanceId: `i-ok${i}`, host: '127.0.0.1', port: o.port })),
      ],
    });
    const unhealthy = new Map<string, string>();
    p.events.on('prober:target:unhealthy', (e) => unhealthy.set(e.instanceId, e.detail));
    const failed = new Map<string, number>();
    p.events.on('prober:check:failed', (e) => failed.set(e.instanceId, (failed.get(e.instanceId) ?? 0) + 1));

    // Act
    await eventually(() => (failed.get('i-silent') ?? 0) >= 10 && (failed.get('i-drip') ?? 0) >= 10, '10 failed checks of each', 60_000);

    // Assess
    expect([...unhealthy.keys()].sort()).toEqual(['i-drip', 'i-silent']);
    expect(unhealthy.get('i-silent')).toMatch(/timeout after 100 ms/);
    expect(unhealthy.get('i-drip')).toMatch(/timeout after 100 ms/);
    for (let i = 0; i < others.length; i++) expect(p.state(`i-ok${i}`), `i-ok${i}`).toBe('healthy');
    expect(silentConnections.maxOpen).toBeLessThanOrEqual(3);
    expect(dripConnections.maxOpen).toBeLessThanOrEqual(3);
  });

  it(`fails a response whose headers pass ${maxHeaderBytes} bytes, without reading on`, async () => {
    // Prepare
    const fat = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'x-pad': 'z'.repeat(maxHeaderBytes * 2) }).end();
      }),
    );
    const agent = new Agent({ keepAlive: false });

    // Act
    const result = await httpCheck({ host: '127.0.0.1', port: fat.port, path: '/health', expectedStatus: 200 }, 2_000, agent);
    agent.destroy();

    // Assess
    expect(result).toMatchObject({ ok: false, error: 'HPE_HEADER_OVERFLOW' });
  });
});
