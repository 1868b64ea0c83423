import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { proberOptionsSchema } from '../../src/prober/options.js';
import { runDefaultCheck, startProber, type Prober, type ProberDeps, type ProbeSink } from '../../src/prober/prober.js';
import { snsSink } from '../../src/prober/sinks.js';
import { parseEvent } from '../../src/signals/index.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { eventually, withFauxqs } from '../helpers/fauxqs.js';

/** A loopback server whose /health answers `status` (or nothing at all while `hang`). */
interface Target {
  server: Server;
  port: number;
  status: number;
  hang: boolean;
}

const servers: Server[] = [];
const probers: Prober[] = [];

async function target(): Promise<Target> {
  const t = { status: 200, hang: false } as Target;
  t.server = createServer((req, res) => {
    if (t.hang) return;
    res.writeHead(t.status).end();
  });
  await new Promise<void>((resolve) => t.server.listen(0, '127.0.0.1', resolve));
  t.port = (t.server.address() as AddressInfo).port;
  servers.push(t.server);
  return t;
}

function collect(): { sink: ProbeSink; signals: HealthSignal[] } {
  const signals: HealthSignal[] = [];
  return { signals, sink: async (s) => void signals.push(s) };
}

function prober(...args: Parameters<typeof startProber>): Prober {
  const p = startProber(...args);
  probers.push(p);
  return p;
}

const fast = { intervalMs: 50, timeoutMs: 40, unhealthyThreshold: 2, healthyThreshold: 2, repeatUnhealthyAfterMs: 0 };

afterEach(async () => {
  await Promise.all(probers.splice(0).map((p) => p.stop()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

describe('prober', () => {
  it('sends unhealthy after N consecutive failures and healthy after M successes, once each', async () => {
    // Prepare
    const t = await target();
    const { sink, signals } = collect();
    const p = prober(fast, { sink, targets: [{ instanceId: 'i-0abc', host: '127.0.0.1', port: t.port }] });
    await p.events.once('prober:check:succeeded');

    // Act
    t.status = 503;
    await p.events.once('prober:signal:sent');
    t.status = 200;
    await p.events.once('prober:signal:sent');

    // Assess
    expect(signals.map((s) => s.state)).toEqual(['unhealthy', 'healthy']);
    expect(signals[0]).toMatchObject({
      instanceId: 'i-0abc',
      source: 'probe',
      instanceIdFrom: 'probe-target',
      eventId: 'probe:observer:i-0abc:1',
      observer: 'observer',
    });
    expect(signals[0]?.reason).toContain(`http://127.0.0.1:${t.port}/health: 2 consecutive failures: status 503`);
    expect(signals[1]?.eventId).toBe('probe:observer:i-0abc:2');
  });

  it('sees a target that accepts connections but never answers, through the timeout', async () => {
    const t = await target();
    t.hang = true;
    const { sink, signals } = collect();
    const p = prober(fast, { sink, targets: [{ instanceId: 'i-0abc', host: '127.0.0.1', port: t.port }] });

    await p.events.once('prober:signal:sent');

    expect(signals[0]?.reason).toMatch(/timeout after 40 ms/);
  });

  it('an observer that sees every target fail at once is cut off: it withholds, says so, and speaks again when it sees them', async () => {
    // Prepare: two targets answering, then both hang (what a lost network looks like from the observer).
    const [a, b] = [await target(), await target()];
    const { sink, signals } = collect();
    const p = prober({ ...fast, observer: 'obs-a' }, {
      sink,
      targets: [
        { instanceId: 'i-0aaa', host: '127.0.0.1', port: a.port },
        { instanceId: 'i-0bbb', host: '127.0.0.1', port: b.port },
      ],
    });
    await p.events.once('prober:check:succeeded');

    // Act
    a.hang = true;
    b.hang = true;
    const degraded = await p.events.once('prober:observer:degraded');
    await p.events.once('prober:signal:withheld');
    a.hang = false;
    b.hang = false;
    await p.events.once('prober:observer:recovered');

    // Assess
    expect(degraded).toMatchObject({ observer: 'obs-a', reasons: ['cutOff'] });
    expect(signals.filter((s) => s.state === 'unhealthy')).toEqual([]);
    expect(p.stats().signalsWithheld).toBeGreaterThan(0);
    expect(p.selfCheck().degraded).toBe(false);
  });

  it('a stalled event loop is not evidence: a check whose own timer fired late counts neither way', async () => {
    // Prepare: a target that hangs, so each check ends on its timeout timer; and a machine so busy
    // that the loop stalls 300 ms right after every check starts (the real check, then a busy wait).
    const t = await target();
    t.hang = true;
    const { sink, signals } = collect();
    const stalled: NonNullable<ProberDeps['check']> = (checkTarget, timeoutMs, agent) => {
      const result = runDefaultCheck(checkTarget, timeoutMs, agent);
      const until = Date.now() + 300;
      while (Date.now() < until) {
        // busy: the check's 40 ms timer cannot fire before this ends
      }
      return result;
    };
    const p = prober({ ...fast, intervalMs: 400, timeoutMs: 40, unhealthyThreshold: 1, maxLatenessMs: 100 }, {
      sink,
      check: stalled,
      targets: [{ instanceId: 'i-0abc', host: '127.0.0.1', port: t.port }],
    });

    // Act
    const first = await p.events.once('prober:check:failed');
    const second = await p.events.once('prober:check:failed');

    // Assess: with threshold 1, a single counted failure would have sent "unhealthy".
    for (const check of [first, second]) expect(check).toMatchObject({ inconclusive: true, consecutiveFailures: 0 });
    expect(p.stats().inconclusive).toBeGreaterThanOrEqual(2);
    expect(p.state('i-0abc')).toBe('healthy');
    expect(signals).toEqual([]);
  });

  it('checks TCP targets by connecting, and sees a closed port', async () => {
    // Prepare
    const t = await target();
    const { sink, signals } = collect();
    const p = prober({ ...fast, check: 'tcp' }, { sink, targets: [{ instanceId: 'i-0abc', host: '127.0.0.1', port: t.port }] });
    await p.events.once('prober:check:succeeded');

    // Act
    t.server.closeAllConnections();
    await new Promise((resolve) => t.server.close(resolve));
    await p.events.once('prober:signal:sent');

    // Assess
    expect(signals[0]?.reason).toMatch(/tcp:\/\/127\.0\.0\.1:\d+: 2 consecutive failures: ECONNREFUSED/);
  });

  it('sends again after the sink failed, and repeats while the target stays unhealthy', async () => {
    // Prepare
    const t = await target();
    t.status = 500;
    let calls = 0;
    const signals: HealthSignal[] = [];
    const sink: ProbeSink = async (s) => {
      calls++;
      if (calls === 1) throw new Error('topic unavailable');
      signals.push(s);
    };

    // Act
    const p = prober({ ...fast, repeatUnhealthyAfterMs: 100 }, { sink, targets: [{ instanceId: 'i-0abc', host: '127.0.0.1', port: t.port }] });
    const failed = await p.events.once('prober:signal:failed');
    await eventually(() => signals.length >= 2, 'a retried and a repeated signal');

    // Assess
    expect(failed.error).toBe('topic unavailable');
    expect(signals.every((s) => s.state === 'unhealthy')).toBe(true);
    expect(new Set(signals.map((s) => s.eventId)).size).toBe(signals.length);
  });

  it('follows setTargets: new targets are checked, removed ones forgotten', async () => {
    // Prepare
    const a = await target();
    const b = await target();
    const { sink } = collect();
    const p = prober(fast, { sink, targets: [{ instanceId: 'i-a', host: '127.0.0.1', port: a.port }] });
    await p.events.once('prober:check:succeeded', (e) => e.instanceId === 'i-a');

    // Act
    p.setTargets([{ instanceId: 'i-b', host: '127.0.0.1', port: b.port }]);
    await p.events.once('prober:check:succeeded', (e) => e.instanceId === 'i-b');

    // Assess
    expect(p.targets().map((t) => t.instanceId)).toEqual(['i-b']);
    expect(p.lastCheck('i-a')).toBeUndefined();
    expect(p.lastCheck('i-b')).toMatchObject({ ok: true });
  });

  it('takes its targets from a discovery callback, and keeps them when discovery fails', async () => {
    const a = await target();
    let fail = false;
    const { sink } = collect();
    const p = prober(fast, {
      sink,
      discoverEveryMs: 30,
      discover: async () => {
        if (fail) throw new Error('DescribeAutoScalingGroups throttled');
        return [{ instanceId: 'i-a', host: '127.0.0.1', port: a.port }];
      },
    });
    await p.events.once('prober:check:succeeded');

    fail = true;
    const failure = await p.events.once('prober:discovery:failed');

    expect(failure.error).toMatch(/throttled/);
    expect(p.targets().map((t) => t.instanceId)).toEqual(['i-a']);
  });

  it('publishes to SNS as a CloudWatch alarm the rest of the chain parses back', async () => {
    await withFauxqs({}, async (q) => {
      // Prepare: an EC2-shaped id, as the parser on the far side requires.
      const t = await target();
      t.status = 503;
      const sink = snsSink({ client: q.sns, topicArn: q.topicArn, accountId: '000000000000' });

      // Act
      const p = prober(fast, { sink, region: q.region, targets: [{ instanceId: 'i-0abc1234', host: '127.0.0.1', port: t.port }] });
      await p.events.once('prober:signal:sent');
      const [message] = await eventually(async () => {
        const m = await q.receive();
        return m.length > 0 ? m : undefined;
      }, 'the alarm on the queue');

      // Assess
      const parsed = parseEvent(message?.Body ?? '');
      expect(parsed.rejected).toEqual([]);
      expect(parsed.signals[0]).toMatchObject({ instanceId: 'i-0abc1234', state: 'unhealthy', alarmName: 'autoheal-probe-i-0abc1234', source: 'probe' });
    });
  });

  it('rejects options that cannot work, naming the limits', () => {
    expect(() => proberOptionsSchema.parse({ intervalMs: 1000, timeoutMs: 2000 })).toThrow(/timeoutMs \(2000\) must be at most intervalMs \(1000\)/);
    expect(() => proberOptionsSchema.parse({ intervalMs: 10 })).toThrow(/intervalMs/);
    expect(() => proberOptionsSchema.parse({ interval: 10 })).toThrow(/interval/);
  });
});
