/**
 * The bridge's shell (src/bridge/shell.ts) on vitest's fake timers: what depends on time —
 * backoff, the watchdog, deadlines, visibility extension, the drain's bounds — happens exactly at
 * its bound and not a millisecond before, with no sleep. The queue is an in-memory fake that keeps
 * SQS's visibility rules (fake-queue.ts); the clock is the real one, whose globals the fake timers
 * replace, with chance fixed at 0.5 so that every jittered delay is exact:
 *   a failed receive after n failures in a row waits 0.75 × 100 × 2^n ms (150, 300, ...);
 *   a failed message with receive count c waits round(0.75 × 2 × 2^(c − 1)) s (2, 3, 6, ...);
 *   a failed DeleteMessageBatch entry is retried after 0.75 × 100 ms = 75 ms.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handlerTarget, startBridge, type BridgeEvents, type BridgeHandle, type BridgeOptions, type BridgeSummary } from '../../src/bridge/index.js';
import { realClock } from '../../src/bridge/clock.js';
import type { BridgeTarget } from '../../src/bridge/targets.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { FakeQueue } from './fake-queue.js';

const t0 = Date.UTC(2026, 0, 1);
const running: BridgeHandle[] = [];
const never = <T>(): Promise<T> => new Promise<T>(() => {});
const advance = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);

beforeEach(() => {
  vi.useFakeTimers({ now: t0 });
});

afterEach(async () => {
  const stopped = Promise.all(running.splice(0).map((h) => h.stop()));
  await advance(60_000);
  await stopped;
  vi.useRealTimers();
});

/** One slot, one message per receive: a single receive out at a time, so the timings read plainly. */
async function bridge(queue: FakeQueue, target: BridgeTarget, options: Partial<BridgeOptions> = {}): Promise<BridgeHandle> {
  const handle = await startBridge({
    queueUrl: queue.url,
    queue,
    target,
    clock: { ...realClock, random: () => 0.5 },
    concurrency: 1,
    batchSize: 1,
    waitSeconds: 20,
    ...options,
  });
  running.push(handle);
  return handle;
}

/** The payloads of `event`, as they come. */
function collect<K extends keyof BridgeEvents>(handle: BridgeHandle, event: K): Array<BridgeEvents[K]> {
  const seen: Array<BridgeEvents[K]> = [];
  handle.events.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Milliseconds since the start of the test, for each call of `action`. */
function times(queue: FakeQueue, action: 'receive' | 'changeVisibility' | 'deleteBatch'): number[] {
  return queue.callsOf(action).map((c) => c.at - t0);
}

describe('the bridge shell on fake timers', () => {
  it('a failed receive: none during its jittered backoff, which grows with each failure in a row', async () => {
    // Prepare: the first two receives fail.
    const queue = new FakeQueue().fail('receive', new Error('sqs is down'), 2);
    const { logger, lines } = capturedLogger();

    // Act
    const handle = await bridge(queue, handlerTarget(async () => {}), { logger });
    await advance(149);
    const during = { receives: times(queue, 'receive'), state: handle.state };
    await advance(1 + 299);
    const beforeThird = times(queue, 'receive');
    await advance(1);

    // Assess
    expect(during).toEqual({ receives: [0], state: 'backing-off' });
    expect(beforeThird).toEqual([0, 150]);
    expect(times(queue, 'receive')).toEqual([0, 150, 450]);
    expect(lines.filter((l) => l.msg === 'receive failed').map((l) => l.retryInMs)).toEqual([150, 300]);
    expect(handle.state).toBe('receiving');
    expect(handle.metrics.counts.receiveErrors).toBe(2);
  });

  it('stop() during a backoff does not wait for it', async () => {
    // Prepare
    const queue = new FakeQueue().fail('receive', new Error('sqs is down'));
    const handle = await bridge(queue, handlerTarget(async () => {}));
    await advance(0);

    // Act
    const summary = await handle.stop();

    // Assess
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 0 });
    expect(Date.now()).toBe(t0);
    expect(handle.state).toBe('stopped');
  });

  it('a receive that never returns: the watchdog restarts the loop at waitSeconds + stallGraceSeconds, not before', async () => {
    // Prepare: the first receive hangs and ignores its abort signal.
    const queue = new FakeQueue().hang('receive');
    const handle = await bridge(queue, handlerTarget(async () => {}), { waitSeconds: 1, stallGraceSeconds: 2 });
    const restarts = collect(handle, 'bridge:loop:restarted');
    const timeouts = collect(handle, 'bridge:stage:timedout');
    const deleted = collect(handle, 'bridge:message:deleted');

    // Act
    await advance(2999);
    const before = [...restarts];
    await advance(1);
    const receives = times(queue, 'receive');
    const [id] = queue.send('{"AlarmName":"x"}');
    await advance(0);

    // Assess
    expect(before).toEqual([]);
    expect(restarts).toEqual([{ reason: 'a receive did not return in 3000 ms', restarts: 1 }]);
    expect(timeouts).toEqual([{ stage: 'receive', action: 'sqs:ReceiveMessage', timeoutMs: 3000, messageIds: [] }]);
    expect(receives).toEqual([0, 3000]);
    expect(deleted).toMatchObject([{ messageId: id, outcome: 'succeeded' }]);
    expect(handle.metrics.counts).toMatchObject({ loopRestarts: 1, receiveTimeouts: 1, succeeded: 1 });
  });

  it('a target that never answers fails at deliveryTimeoutSeconds: aborted, hidden for its backoff, its slot freed', async () => {
    // Prepare
    const queue = new FakeQueue();
    const signals: AbortSignal[] = [];
    const target = handlerTarget(async (m, signal) => {
      if (m.body !== 'hang') return;
      signals.push(signal);
      await never();
    });
    const handle = await bridge(queue, target, { deliveryTimeoutSeconds: 5 });
    const failed = collect(handle, 'bridge:message:failed');
    const timeouts = collect(handle, 'bridge:stage:timedout');

    // Act
    const [hung] = queue.send('hang');
    await advance(4999);
    const before = { failed: [...failed], aborted: signals[0]?.aborted };
    await advance(1);
    const [next] = queue.send('next');
    await advance(0);

    // Assess
    expect(before).toEqual({ failed: [], aborted: false });
    expect(failed).toEqual([
      { messageId: hung, receiveCount: 1, ms: 5000, error: 'deliver to handler: no answer within 5000 ms (--delivery-timeout-seconds)', retryInSeconds: 2 },
    ]);
    expect(timeouts).toEqual([{ stage: 'deliver', action: 'deliver to handler', timeoutMs: 5000, messageIds: [hung] }]);
    expect(signals[0]?.aborted).toBe(true);
    expect(queue.visibleAt(hung ?? '')).toBe(t0 + 5000 + 2000);
    expect(queue.visibleAt(next ?? '')).toBeUndefined();
    expect(handle.metrics.counts).toMatchObject({ deliveryTimeouts: 1, failed: 1, succeeded: 1 });
  });

  it('a failed message comes back after its backoff, not before, and is delivered again', async () => {
    // Prepare
    let attempts = 0;
    const queue = new FakeQueue();
    const handle = await bridge(
      queue,
      handlerTarget(async () => {
        if (++attempts === 1) throw new Error('the first attempt fails');
      }),
    );
    const deleted = collect(handle, 'bridge:message:deleted');

    // Act
    const [id] = queue.send('{"AlarmName":"flaky"}');
    await advance(1999);
    const before = attempts;
    await advance(1);

    // Assess
    expect(before).toBe(1);
    expect(attempts).toBe(2);
    expect(queue.callsOf('changeVisibility')).toEqual([{ at: t0, action: 'changeVisibility', messageIds: [id], seconds: 2 }]);
    expect(deleted).toEqual([{ messageId: id, receiveCount: 2, ms: 0, outcome: 'succeeded' }]);
  });

  it('work longer than half the visibility timeout is extended every half timeout, and no more once the target answered', async () => {
    // Prepare
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const queue = new FakeQueue();
    const handle = await bridge(queue, handlerTarget(() => held), { visibilityTimeoutSeconds: 10 });
    const deleted = collect(handle, 'bridge:message:deleted');

    // Act
    const [id] = queue.send('slow');
    await advance(4999);
    const before = times(queue, 'changeVisibility');
    await advance(1 + 5000);
    finish();
    await advance(20_000);

    // Assess
    expect(before).toEqual([]);
    expect(queue.callsOf('changeVisibility')).toEqual([
      { at: t0 + 5000, action: 'changeVisibility', messageIds: [id], seconds: 10 },
      { at: t0 + 10_000, action: 'changeVisibility', messageIds: [id], seconds: 10 },
    ]);
    expect(deleted).toEqual([{ messageId: id, receiveCount: 1, ms: 10_000, outcome: 'succeeded' }]);
  });

  it('a DeleteMessageBatch that never answers is abandoned at sqsCallTimeoutSeconds and retried after its backoff', async () => {
    // Prepare
    const queue = new FakeQueue().hang('deleteBatch');
    const handle = await bridge(queue, handlerTarget(async () => {}), { sqsCallTimeoutSeconds: 1 });
    const timeouts = collect(handle, 'bridge:stage:timedout');
    const deleted = collect(handle, 'bridge:message:deleted');

    // Act
    const [id] = queue.send('{"AlarmName":"x"}');
    await advance(999);
    const before = [...timeouts];
    await advance(1 + 74);
    const beforeRetry = times(queue, 'deleteBatch');
    await advance(1);

    // Assess
    expect(before).toEqual([]);
    expect(timeouts).toEqual([{ stage: 'delete', action: 'sqs:DeleteMessageBatch', timeoutMs: 1000, messageIds: [id] }]);
    expect(beforeRetry).toEqual([0]);
    expect(times(queue, 'deleteBatch')).toEqual([0, 1075]);
    expect(deleted).toEqual([{ messageId: id, receiveCount: 1, ms: 1075, outcome: 'succeeded' }]);
    expect(queue.depth()).toEqual({ visible: 0, hidden: 0 });
  });
});

describe('stopping the bridge shell on fake timers', () => {
  it('stop() with work that never ends resolves at shutdownTimeoutSeconds: the message released, never deleted', async () => {
    // Prepare
    const queue = new FakeQueue();
    const handle = await bridge(queue, handlerTarget(() => never()), { shutdownTimeoutSeconds: 3 });
    const [id] = queue.send('stuck');
    await advance(0);

    // Act
    let summary: BridgeSummary | undefined;
    const stopping = handle.stop().then((s) => (summary = s));
    const state = handle.state;
    await advance(2999);
    const before = summary;
    await advance(1);
    await stopping;

    // Assess
    expect(state).toBe('draining');
    expect(before).toBeUndefined();
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 1, counts: { released: 1, succeeded: 0, inFlight: 0 } });
    expect(queue.callsOf('deleteBatch')).toEqual([]);
    expect(queue.callsOf('changeVisibility')).toEqual([{ at: t0 + 3000, action: 'changeVisibility', messageIds: [id], seconds: 0 }]);
    expect(queue.depth()).toEqual({ visible: 1, hidden: 0 });
    expect(handle.state).toBe('stopped');
  });

  it('stop() when the release hangs too still ends at shutdownTimeoutSeconds + releaseTimeoutSeconds (2 s)', async () => {
    // Prepare
    const queue = new FakeQueue().hang('changeVisibility');
    const { logger, lines } = capturedLogger();
    const handle = await bridge(queue, handlerTarget(() => never()), { shutdownTimeoutSeconds: 3, logger });
    queue.send('stuck');
    await advance(0);

    // Act
    let summary: BridgeSummary | undefined;
    const stopping = handle.stop().then((s) => (summary = s));
    await advance(4999);
    const before = summary;
    await advance(1);
    await stopping;

    // Assess
    expect(before).toBeUndefined();
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 1 });
    expect(lines.find((l) => l.msg === 'could not release the message; it returns after its visibility timeout')).toBeDefined();
    expect(queue.depth()).toEqual({ visible: 0, hidden: 1 });
  });

  it('stop() lets in-flight work finish within the bound and deletes it', async () => {
    // Prepare: the work ends 1 s after stop(), well within the shutdown timeout.
    const queue = new FakeQueue();
    const handle = await bridge(
      queue,
      handlerTarget(() => new Promise<void>((resolve) => setTimeout(resolve, 2000))),
      { shutdownTimeoutSeconds: 30 },
    );
    queue.send('{"AlarmName":"x"}');
    await advance(1000);

    // Act
    const stopping = handle.stop();
    await advance(1000);
    const summary = await stopping;

    // Assess
    expect(Date.now()).toBe(t0 + 2000);
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 0, counts: { succeeded: 1, released: 0 } });
    expect(queue.depth()).toEqual({ visible: 0, hidden: 0 });
  });
});
