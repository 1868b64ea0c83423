/**
 * The prober's shell under vitest's fake timers: the behaviour that depends on time — the fixed
 * schedule, skipped checks, slots, repeats, rounds and heartbeats, discovery's period, the
 * self-check's recovery, and how long stopping may take — with checks, sinks and discovery that
 * are plain functions on the same fake clock. No sockets, no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { realClock, type ProberClock } from '../../src/prober/clock.js';
import type { ProberOptionsInput, ProbeTarget } from '../../src/prober/options.js';
import { startProber, type Heartbeat, type Prober, type ProberDeps } from '../../src/prober/prober.js';
import type { CheckResult, CheckTarget } from '../../src/prober/types.js';
import type { HealthSignal } from '../../src/signals/types.js';
import type { Logger } from '../../src/log.js';

const a: ProbeTarget = { instanceId: 'i-0aaa', host: '10.0.0.1', port: 80 };
const b: ProbeTarget = { instanceId: 'i-0bbb', host: '10.0.0.2', port: 80 };

/** Every second, 500 ms timeout, thresholds 2/2, no jitter, no repeats. */
const base: ProberOptionsInput = { intervalMs: 1_000, timeoutMs: 500, unhealthyThreshold: 2, healthyThreshold: 2, repeatUnhealthyAfterMs: 0, observer: 'obs-a' };

/** A fake network: each host answers with `answer[host]` after `takesMs[host]` (fake) ms; a check's start times. */
function network() {
  const answer = new Map<string, CheckResult | 'never' | 'throw'>();
  const takesMs = new Map<string, number>();
  const started: Array<{ host: string; atMs: number }> = [];
  const check: NonNullable<ProberDeps['check']> = (target: CheckTarget) => {
    started.push({ host: target.host, atMs: performance.now() });
    const result = answer.get(target.host) ?? { ok: true, status: 200 };
    if (result === 'throw') throw new Error('the injected check broke');
    if (result === 'never') return new Promise<CheckResult>(() => {});
    return new Promise((resolve) => setTimeout(() => resolve(result), takesMs.get(target.host) ?? 5));
  };
  return { answer, takesMs, started, check, startsOf: (host: string) => started.filter((s) => s.host === host).map((s) => Math.round(s.atMs)) };
}

/** The real clock (faked by vitest underneath), with no chance and a loop that is as late as the test says. */
function clock(loop: { lateMs: number } = { lateMs: 0 }): ProberClock {
  return { ...realClock, random: () => 0, watchLoop: () => ({ lateMs: () => loop.lateMs, stop: () => {} }) };
}

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = { warn: (_fields: unknown, message: string) => warnings.push(message), info: () => {}, error: () => {}, debug: () => {} } as unknown as Logger;
  return { logger, warnings };
}

const probers: Prober[] = [];
function prober(options: ProberOptionsInput, deps: ProberDeps): Prober {
  const p = startProber({ ...base, ...options }, { clock: clock(), ...deps });
  probers.push(p);
  return p;
}

let t0 = 0;
beforeEach(() => {
  vi.useFakeTimers();
  t0 = performance.now();
});
afterEach(async () => {
  const stopping = probers.splice(0).map((p) => p.stop());
  await vi.advanceTimersByTimeAsync(10_000);
  await Promise.all(stopping);
  vi.useRealTimers();
});

/** Start times relative to the prober's start. */
const rel = (times: number[]): number[] => times.map((t) => t - Math.round(t0));

describe('prober shell (fake timers)', () => {
  it('checks each target on its fixed schedule: slow checks do not make it drift', async () => {
    // Prepare: every check takes 400 ms of a 1 s interval.
    const net = network();
    net.takesMs.set(a.host, 400);
    prober({}, { sink: async () => {}, targets: [a], check: net.check });

    // Act
    await vi.advanceTimersByTimeAsync(4_500);

    // Assess
    expect(rel(net.startsOf(a.host))).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
  });

  it('skips the check of a target whose previous check is still running, and counts it', async () => {
    // Prepare: a check that ignores its timeout and takes 1.5 intervals.
    const net = network();
    net.takesMs.set(a.host, 1_500);
    const p = prober({}, { sink: async () => {}, targets: [a], check: net.check });

    // Act
    await vi.advanceTimersByTimeAsync(4_100);

    // Assess
    expect(rel(net.startsOf(a.host))).toEqual([0, 2_000, 4_000]);
    expect(p.stats()).toMatchObject({ skipped: 2, checks: 2 });
  });

  it('runs at most `concurrency` checks at once: a due check waits for a slot, and its lateness is counted', async () => {
    const net = network();
    net.takesMs.set(a.host, 300);
    net.takesMs.set(b.host, 300);
    const p = prober({ concurrency: 1 }, { sink: async () => {}, targets: [a, b], check: net.check });

    await vi.advanceTimersByTimeAsync(700);

    const starts = [...rel(net.startsOf(a.host)), ...rel(net.startsOf(b.host))].sort((x, y) => x - y);
    expect(starts).toEqual([0, 300]);
    expect(p.stats()).toMatchObject({ checks: 2, maxLatenessMs: 300, meanLatenessMs: 150, lateOver100Ms: 1 });
  });

  it('sends an unhealthy verdict once, again every repeatUnhealthyAfterMs while it lasts, and after a sink failure at the next check', async () => {
    // Prepare
    const net = network();
    net.answer.set(a.host, { ok: false, status: 503, error: 'status 503' });
    const sent: Array<{ atMs: number; signal: HealthSignal }> = [];
    let refuse = 1;
    const sink = async (signal: HealthSignal): Promise<void> => {
      if (refuse-- > 0) throw new Error('topic unavailable');
      sent.push({ atMs: performance.now() - t0, signal });
    };
    prober({ repeatUnhealthyAfterMs: 2_500 }, { sink, targets: [a], check: net.check });

    // Act
    await vi.advanceTimersByTimeAsync(6_500);

    // Assess: refused after the second check (1 s), sent after the third (2 s), repeated after the
    // first check at least 2.5 s after it was accepted (each check answers in 5 ms).
    expect(sent.map((s) => Math.round(s.atMs))).toEqual([2_005, 5_005]);
    expect(sent.map((s) => s.signal.eventId)).toEqual(['probe:obs-a:i-0aaa:2', 'probe:obs-a:i-0aaa:3']);
  });

  it('beats once a round, at most every heartbeatEveryMs, the first beat counting the targets it was given', async () => {
    const net = network();
    const beats: Array<{ atMs: number; beat: Heartbeat }> = [];
    prober({ heartbeatEveryMs: 3_000 }, { sink: async () => {}, targets: [a, b], check: net.check, heartbeat: (beat) => void beats.push({ atMs: performance.now() - t0, beat }) });

    await vi.advanceTimersByTimeAsync(7_000);

    expect(beats.map((x) => Math.round(x.atMs))).toEqual([0, 3_000, 6_000]);
    expect(beats[0]?.beat).toMatchObject({ observer: 'obs-a', targets: 2, unhealthy: 0, degraded: false });
  });

  it('a heartbeat callback that throws is logged and the next one still goes', async () => {
    const { logger, warnings } = recordingLogger();
    let beats = 0;
    prober({ heartbeatEveryMs: 1_000 }, {
      sink: async () => {},
      logger,
      heartbeat: () => {
        beats++;
        throw new Error('PutMetricData throttled');
      },
    });

    await vi.advanceTimersByTimeAsync(2_500);

    expect(beats).toBe(3);
    expect(warnings.filter((w) => w === 'prober: heartbeat failed')).toHaveLength(3);
  });

  it('discovers at the start and again discoverEveryMs after each discovery ended; a failure keeps the targets', async () => {
    // Prepare: discovery takes 200 ms; its second answer is a failure.
    const net = network();
    const calls: number[] = [];
    const discover = (): Promise<ProbeTarget[]> => {
      calls.push(Math.round(performance.now() - t0));
      const n = calls.length;
      return new Promise((resolve, reject) => setTimeout(() => (n === 2 ? reject(new Error('throttled')) : resolve(n === 1 ? [a] : [a, b])), 200));
    };
    const p = prober({}, { sink: async () => {}, discover, discoverEveryMs: 5_000, check: net.check });
    const failures: string[] = [];
    p.events.on('prober:discovery:failed', (e) => failures.push(e.error));

    // Act
    await vi.advanceTimersByTimeAsync(6_000);
    const afterFailure = p.targets().map((t) => t.instanceId);
    await vi.advanceTimersByTimeAsync(5_000);

    // Assess
    expect(calls).toEqual([0, 5_200, 10_400]);
    expect(failures).toEqual(['throttled']);
    expect(afterFailure).toEqual(['i-0aaa']);
    expect(p.targets().map((t) => t.instanceId)).toEqual(['i-0aaa', 'i-0bbb']);
  });

  it('a discovery that answers with no list fails, saying what came back', async () => {
    const discover = (async () => undefined) as unknown as NonNullable<ProberDeps['discover']>;
    const p = prober({}, { sink: async () => {}, discover });
    const failure = p.events.once('prober:discovery:failed');
    await vi.advanceTimersByTimeAsync(10);
    expect((await failure).error).toBe('discover returned undefined, not a list of targets');
  });

  it('a late loop degrades the observer: unhealthy verdicts are withheld, and flow again recoverAfterMs after it kept up', async () => {
    // Prepare
    const loop = { lateMs: 0 };
    const net = network();
    net.answer.set(a.host, { ok: false, status: 503, error: 'status 503' });
    const sent: HealthSignal[] = [];
    const p = startProber({ ...base, maxLatenessMs: 300, recoverAfterMs: 2_000 }, { sink: async (s) => void sent.push(s), targets: [a, b], check: net.check, clock: clock(loop) });
    probers.push(p);
    const degradedAt: number[] = [];
    const recovered: number[] = [];
    p.events.on('prober:observer:degraded', () => degradedAt.push(performance.now() - t0));
    p.events.on('prober:observer:recovered', (e) => recovered.push(e.degradedForMs));

    // Act: the loop runs 800 ms late from the start until 3.5 s.
    loop.lateMs = 800;
    await vi.advanceTimersByTimeAsync(3_500);
    const whileDegraded = { sent: sent.length, withheld: p.stats().signalsWithheld };
    loop.lateMs = 0;
    await vi.advanceTimersByTimeAsync(3_000);

    // Assess: degraded at the first check's end (5 ms); a's verdict (unhealthy from 1 s) withheld at
    // 1, 2 and 3 s. Late last seen at 3.005 s, clear for recoverAfterMs from then: recovered at 5.005 s,
    // where a's verdict goes out at last.
    expect(degradedAt.map(Math.round)).toEqual([5]);
    expect(whileDegraded).toEqual({ sent: 0, withheld: 3 });
    expect(recovered).toEqual([5_000]);
    expect(sent.map((s) => s.state)).toEqual(['unhealthy']);
  });

  it('a check that throws fails like an unanswered one and frees its slot', async () => {
    const net = network();
    net.answer.set(a.host, 'throw');
    const p = prober({ concurrency: 1 }, { sink: async () => {}, targets: [a], check: net.check });
    const failed = p.events.once('prober:check:failed');

    await vi.advanceTimersByTimeAsync(2_100);

    expect(await failed).toMatchObject({ error: 'check threw: the injected check broke' });
    expect(p.stats().checks).toBe(3);
  });

  it('stop waits for the checks in flight, and no new one starts', async () => {
    // Prepare
    const net = network();
    net.takesMs.set(a.host, 300);
    const p = prober({}, { sink: async () => {}, targets: [a], check: net.check });
    await vi.advanceTimersByTimeAsync(100);

    // Act
    let stopped = false;
    void p.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(150);
    const modeBefore = p.mode();
    const stoppedBefore = stopped;
    await vi.advanceTimersByTimeAsync(100);

    // Assess
    expect({ modeBefore, stoppedBefore }).toEqual({ modeBefore: 'stopping', stoppedBefore: false });
    expect(stopped).toBe(true);
    expect(p.mode()).toBe('stopped');
    expect(p.stats().checks).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(net.started).toHaveLength(1);
  });

  it('stop aborts a send in flight: a sink that honours the signal ends at once', async () => {
    const net = network();
    net.answer.set(a.host, { ok: false, status: 503, error: 'status 503' });
    const sink: ProberDeps['sink'] = (_signal, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    const p = prober({ unhealthyThreshold: 1 }, { sink, targets: [a], check: net.check });
    const failed = p.events.once('prober:signal:failed');
    await vi.advanceTimersByTimeAsync(50);
    expect(p.stats()).toMatchObject({ checks: 1, signalsSent: 0, signalsFailed: 0 });

    const stopping = p.stop();
    await vi.advanceTimersByTimeAsync(0);

    expect((await failed).error).toBe('prober stopped');
    await stopping;
    expect(p.mode()).toBe('stopped');
  });

  it('stop is bounded: a check and a sink that never settle hold it timeoutMs at most, and it says what it left', async () => {
    // Prepare: b never answers; a fails at once into a sink that never settles and ignores the abort.
    const net = network();
    net.answer.set(b.host, 'never');
    net.answer.set(a.host, { ok: false, status: 503, error: 'status 503' });
    const { logger, warnings } = recordingLogger();
    const p = prober({ unhealthyThreshold: 1 }, { sink: () => new Promise(() => {}), targets: [a, b], check: net.check, logger });
    await vi.advanceTimersByTimeAsync(50);
    expect(p.stats().signalsSent + p.stats().signalsFailed).toBe(0);

    // Act
    let stopped = false;
    void p.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(499);
    const before = stopped;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(before).toBe(false);
    expect(stopped).toBe(true);
    expect(p.mode()).toBe('stopped');
    expect(warnings).toContain('prober: stopped with work still in flight: it did not settle within the stop bound');
  });

  it('a listener that stops the prober from inside an event does not break the event being handled', async () => {
    const net = network();
    net.answer.set(a.host, { ok: false, status: 503, error: 'status 503' });
    const sent: HealthSignal[] = [];
    const p = prober({ unhealthyThreshold: 1 }, { sink: async (s) => void sent.push(s), targets: [a], check: net.check });
    p.events.on('prober:target:unhealthy', () => void p.stop());

    await vi.advanceTimersByTimeAsync(100);

    // The verdict decided in the same step as the crossing still went out; the stop came after it.
    expect(p.mode()).toBe('stopped');
    expect(p.stats()).toMatchObject({ checks: 1, signalsSent: 1 });
    expect(sent.map((x) => x.state)).toEqual(['unhealthy']);
  });
});
