/**
 * An observer honest about what it cannot see, on real sockets on loopback (real HTTP servers,
 * real refusals from the kernel, the real clock): a path that loses checks across many targets,
 * and a host that refuses every connection on its own side, count the observer degraded instead
 * of voting; a group none of whose instances ever answered is reported, not voted against; a real
 * dead instance among answering ones is still voted against.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeTarget } from '../../src/prober/options.js';
import { startProber, type Prober } from '../../src/prober/prober.js';
import type { HealthSignal } from '../../src/signals/types.js';

const servers: Server[] = [];
const probers: Prober[] = [];
afterEach(async () => {
  await Promise.all(probers.splice(0).map((p) => p.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** An HTTP server on a free loopback port; `answers(k)` says whether its k-th request (from 0) gets a 200 or hangs. */
async function server(answers: (k: number) => boolean): Promise<number> {
  let k = 0;
  const s = createServer((_req, res) => {
    if (answers(k++)) res.writeHead(200).end();
    // Else the request hangs, as a lost packet looks; the check's timeout ends it.
  });
  s.on('clientError', () => {});
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

/** A port nothing listens on (bound, then closed): the kernel refuses it. */
async function closedPort(): Promise<number> {
  const port = await server(() => true);
  const s = servers.pop() as Server;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Probes `targets` every 150 ms (timeout 100 ms, thresholds 2/2) for `ms`, collecting what it sends. */
async function observe(targets: ProbeTarget[], ms: number): Promise<{ prober: Prober; sent: HealthSignal[]; sentWhileDegraded: HealthSignal[] }> {
  const sent: HealthSignal[] = [];
  const sentWhileDegraded: HealthSignal[] = [];
  const prober = startProber(
    { intervalMs: 150, timeoutMs: 100, unhealthyThreshold: 2, healthyThreshold: 2, repeatUnhealthyAfterMs: 0, observer: 'obs-loopback' },
    {
      targets,
      sink: async (signal) => {
        sent.push(signal);
        if (prober.selfCheck().degraded) sentWhileDegraded.push(signal);
      },
    },
  );
  probers.push(prober);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { prober, sent, sentWhileDegraded };
}

const target = (n: number, port: number, host = '127.0.0.1', group = 'web'): ProbeTarget => ({ instanceId: `i-0${String(n).padStart(16, '0')}`, host, port, group });

describe('an observer on real sockets', () => {
  it('losing checks across many targets, it counts itself degraded (lossy) and votes against none while it is', async () => {
    // Prepare: 10 healthy servers behind a path that loses two checks of every three, each server at its own phase.
    const ports = await Promise.all(Array.from({ length: 10 }, (_, i) => server((k) => (k + i) % 3 === 0)));

    // Act
    const { prober, sent, sentWhileDegraded } = await observe(
      ports.map((port, i) => target(i, port)),
      2_000,
    );

    // Assess
    expect(prober.selfCheck()).toMatchObject({ degraded: true, reasons: expect.arrayContaining(['lossy']) });
    expect(sentWhileDegraded.filter((s) => s.state === 'unhealthy')).toEqual([]);
    // Only what slipped out in the first rounds, before any target had lost a check and answered again.
    expect(sent.filter((s) => s.state === 'unhealthy').length).toBeLessThan(ports.length);
    expect(prober.stats().signalsWithheld).toBeGreaterThan(0);
  });

  it("refused everywhere by its own side (the kernel refuses or has no route), it counts itself degraded and votes against nothing", async () => {
    // Prepare: closed ports (ECONNREFUSED) and addresses this host will not connect to (ENETUNREACH).
    const closed = await Promise.all([closedPort(), closedPort(), closedPort()]);
    const targets = [...closed.map((port, i) => target(i, port)), target(3, 80, '255.255.255.255'), target(4, 80, '224.0.0.1')];

    // Act
    const { prober, sent } = await observe(targets, 1_000);

    // Assess
    expect(prober.selfCheck()).toMatchObject({ degraded: true, reasons: ['refused'] });
    expect(sent.filter((s) => s.state === 'unhealthy')).toEqual([]);
  });

  it('a group none of whose instances ever answered is reported unreachable, not voted against; a dead instance of a group that answers is voted against', async () => {
    // Prepare: "web" answers, except one instance that dies after its first answer; "dark" never answers.
    const web = await Promise.all([server(() => true), server(() => true), server((k) => k === 0)]);
    const dark = await Promise.all([server(() => false), server(() => false)]);
    const targets = [...web.map((port, i) => target(i, port)), ...dark.map((port, i) => target(10 + i, port, '127.0.0.1', 'dark'))];
    const unreachable: string[] = [];

    // Act
    const run = observe(targets, 1_500);
    probers.at(-1)?.events.on('prober:group:unreachable', (e) => unreachable.push(e.group));
    const { prober, sent } = await run;

    // Assess
    expect(sent.filter((s) => s.state === 'unhealthy').map((s) => s.instanceId)).toEqual([target(2, 0).instanceId]);
    expect(unreachable).toEqual(['dark']);
    expect(prober.selfCheck().degraded).toBe(false);
  });
});
