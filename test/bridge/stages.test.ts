/**
 * Every stage of the bridge has a bound, and a stage that passes it is logged, counted and
 * recovered (src/bridge/bridge.ts): a hung DeleteMessageBatch or ChangeMessageVisibility, a target
 * that never answers; and a failed mark is a failure. fauxqs with the real SQS adapter; the stage
 * under test is replaced by a call that never settles and ignores its abort signal.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  handlerTarget,
  healerTarget,
  SqsQueue,
  startBridge,
  type BridgeHandle,
  type BridgeOptions,
  type QueuePort,
} from '../../src/bridge/index.js';
import { ConfigError } from '../../src/errors.js';
import { createHealer } from '../../src/healer/healer.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { eventually, startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { accessDeniedError, MemoryFleet, throttlingError } from '../helpers/memory-fleet.js';

let q: FauxqsFixture;
const running: BridgeHandle[] = [];
const never = <T>(): Promise<T> => new Promise<T>(() => {});

async function bridge(options: Partial<BridgeOptions> & Pick<BridgeOptions, 'target'>): Promise<BridgeHandle> {
  const handle = await startBridge({ queueUrl: q.queueUrl, sqs: q.sqs, waitSeconds: 1, retryBaseSeconds: 0, shutdownTimeoutSeconds: 5, ...options });
  running.push(handle);
  return handle;
}

function realQueueExcept(overrides: (real: SqsQueue) => Partial<QueuePort>): QueuePort {
  const real = new SqsQueue(q.sqs, q.queueUrl);
  return {
    url: real.url,
    describe: (s) => real.describe(s),
    receive: (r, s) => real.receive(r, s),
    changeVisibility: (h, v, s) => real.changeVisibility(h, v, s),
    deleteBatch: (h, s) => real.deleteBatch(h, s),
    ...overrides(real),
  };
}

beforeEach(async () => {
  q = await startFauxqs({ deadLetter: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 5, messageSpies: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
  await q.stop();
});

describe('bridge stages with a bound', () => {
  it('a DeleteMessageBatch that never answers is abandoned after its bound, retried, and consumption goes on', async () => {
    // Prepare: the first delete hangs for good; the later ones reach fauxqs.
    let deletes = 0;
    const queue = realQueueExcept((real) => ({ deleteBatch: (h, s) => (deletes++ === 0 ? never() : real.deleteBatch(h, s)) }));
    const { logger, lines } = capturedLogger();
    const handle = await bridge({ queue, logger, target: handlerTarget(async () => {}), sqsCallTimeoutSeconds: 0.3 });
    const timedOut = handle.events.once('bridge:stage:timedout');

    // Act
    const [first] = await q.send(['{"n":1}']);
    const event = await timedOut;
    await eventually(() => handle.metrics.counts.succeeded === 1, 'the first message deleted on a second attempt');
    await q.send(['{"n":2}', '{"n":3}']);
    await eventually(() => handle.metrics.counts.succeeded === 3, 'the messages behind it');

    // Assess
    expect(event).toEqual({ stage: 'delete', action: 'sqs:DeleteMessageBatch', timeoutMs: 300, messageIds: [first] });
    expect(lines.find((l) => l.msg === 'bridge stage timed out: delete')).toMatchObject({
      level: 40,
      stage: 'delete',
      timeoutMs: 300,
      messageIds: [first],
      error: expect.stringMatching(/sqs:DeleteMessageBatch: no answer within 300 ms/),
    });
    expect(await handle.metrics.registry.metrics()).toContain('autoheal_bridge_stage_timeouts_total{stage="delete"} 1');
    expect(handle.metrics.counts).toMatchObject({ deleteTimeouts: 1, deleteFailed: 0, succeeded: 3 });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('a ChangeMessageVisibility that never answers does not hold the failed message\'s slot or the ones behind it', async () => {
    // Prepare: the backoff of the failed message hangs; it comes back after its visibility timeout instead.
    const queue = realQueueExcept(() => ({ changeVisibility: () => never() }));
    const { logger, lines } = capturedLogger();
    const handle = await bridge({
      queue,
      logger,
      concurrency: 1,
      batchSize: 1,
      sqsCallTimeoutSeconds: 0.3,
      target: handlerTarget(async (m) => {
        if (m.body === 'bad') throw new Error('always fails');
      }),
    });

    // Act
    await q.send(['bad']);
    await eventually(() => handle.metrics.counts.failed === 1, 'the failure');
    await q.send(['good']);
    await eventually(() => handle.metrics.counts.succeeded === 1, 'the next message');

    // Assess
    expect(handle.metrics.counts.visibilityTimeouts).toBe(1);
    expect(lines.find((l) => l.msg === 'bridge stage timed out: visibility')).toMatchObject({ action: 'sqs:ChangeMessageVisibility', timeoutMs: 300 });
    expect(lines.find((l) => l.msg === 'could not set the retry backoff')).toBeDefined();
    expect(await handle.metrics.registry.metrics()).toContain('autoheal_bridge_stage_timeouts_total{stage="visibility"} 1');
  });

  it('a target that never answers: the delivery fails at its deadline, is released with its backoff, and frees its slot', async () => {
    // Prepare: concurrency 1; the target holds "hang" for good and ignores its signal.
    let hungSignal: AbortSignal | undefined;
    const { logger, lines } = capturedLogger();
    const handle = await bridge({
      logger,
      concurrency: 1,
      batchSize: 1,
      deliveryTimeoutSeconds: 0.3,
      retryBaseSeconds: 60,
      visibilityTimeoutSeconds: 2,
      target: handlerTarget(async (m, signal) => {
        if (m.body !== 'hang') return;
        hungSignal = signal;
        await never();
      }),
    });
    const extended: string[] = [];
    handle.events.on('bridge:visibility:extended', (e) => extended.push(e.messageId));
    const failed = handle.events.once('bridge:message:failed');

    // Act
    const [hung] = await q.send(['hang']);
    const failure = await failed;
    await q.send(['next']);
    await eventually(() => handle.metrics.counts.succeeded === 1, 'the message behind it');

    // Assess
    expect(failure).toMatchObject({ messageId: hung, retryInSeconds: expect.any(Number) });
    expect(failure.retryInSeconds).toBeGreaterThanOrEqual(30);
    expect(failure.error).toMatch(/deliver to handler: no answer within 300 ms \(--delivery-timeout-seconds\)/);
    expect(hungSignal?.aborted).toBe(true);
    expect(extended).not.toContain(hung);
    expect(lines.find((l) => l.msg === 'bridge stage timed out: deliver')).toMatchObject({ messageIds: [hung], timeoutMs: 300 });
    expect(handle.metrics.counts).toMatchObject({ deliveryTimeouts: 1, failed: 1, succeeded: 1 });
    // Hidden for its backoff, not deleted.
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
  });

  it('stop() with a hung delete ends within its drain bound and hands the message back undeleted', async () => {
    // Prepare: every delete hangs, with a bound far past the shutdown timeout. Short polls: a long
    // poll abandoned at stop may still be answered by the emulator and hide the released message.
    const queue = realQueueExcept(() => ({ deleteBatch: () => never() }));
    const handle = await bridge({ queue, target: handlerTarget(async () => {}), waitSeconds: 0, sqsCallTimeoutSeconds: 600, shutdownTimeoutSeconds: 0.3 });
    await q.send(['{"n":1}']);
    await eventually(() => handle.metrics.counts.received === 1 && handle.metrics.counts.inFlight === 1, 'the delivery');

    // Act
    const summary = await handle.stop();

    // Assess
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 1, counts: { released: 1, succeeded: 0 } });
    const again = await eventually(async () => (await q.receive()).length > 0 || undefined, 'the message to be visible again', 3_000);
    expect(again).toBe(true);
  });
});

describe('a failed mark is never a success', () => {
  const alarmFor = (id: string): string => statusCheckAlarmMessage(id);
  const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'];

  it.each([
    ['denied (AccessDenied)', accessDeniedError, false, /access denied: the IAM policy of this role must allow "autoscaling:SetInstanceHealth"/],
    ['throttled', throttlingError, true, /autoscaling:SetInstanceHealth failed: Throttling: Rate exceeded/],
  ])('%s: the message is not deleted, it comes back with its backoff, and `once` reports the failure', async (_name, error, retryable, text) => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: ids }]).failNext('setInstanceHealth', 100, { error });
    const healer = createHealer({ fleet, policy: policyOptionsSchema.parse({ maxUnhealthyShare: 1 }) });
    const [id] = await q.send([alarmFor(ids[0] ?? '')]);
    const { logger, lines } = capturedLogger();

    // Act
    const handle = await bridge({ logger, target: healerTarget(healer), once: true, waitSeconds: 0, retryBaseSeconds: 60 });
    const summary = await handle.promise;

    // Assess
    expect(summary).toMatchObject({ reason: 'drained', counts: { received: 1, failed: 1, succeeded: 0 } });
    const line = lines.find((l) => l.msg === 'message' && l.messageId === id);
    expect(line).toMatchObject({ outcome: 'failed', error: expect.stringMatching(text) });
    if (!retryable) expect(line).toMatchObject({ retryable: false, hint: expect.stringMatching(/IAM action/) });
    else expect(line).not.toHaveProperty('retryable');
    expect(q.server.spy.getAllMessages().filter((m) => m.service === 'sqs' && m.status === 'consumed')).toHaveLength(0);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
  });
});

describe('retries without a dead-letter queue', () => {
  it('wait at least the floor even with retryBaseSeconds 0: never a hot loop', async () => {
    // Prepare
    const plain = q.server.createQueue('no-dlq', { attributes: { VisibilityTimeout: '5' } });
    let deliveries = 0;
    const { logger, lines } = capturedLogger();

    // Act
    const handle = await bridge({
      queueUrl: plain.queueUrl,
      logger,
      once: true,
      waitSeconds: 0,
      retryBaseSeconds: 0,
      target: handlerTarget(async () => {
        deliveries++;
        throw new Error('always fails');
      }),
    });
    await q.send(['x'], plain.queueUrl);
    const summary = await handle.promise;

    // Assess
    expect(deliveries).toBe(1);
    expect(summary.counts).toMatchObject({ failed: 1 });
    expect(lines.find((l) => l.msg === 'message')).toMatchObject({ outcome: 'failed', retryInSeconds: 10 });
  });
});

describe('a metrics port that cannot be had', () => {
  let holder: Server;
  beforeEach(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('is a start-up failure (ConfigError) naming the port and the flag', async () => {
    // Prepare
    const port = (holder.address() as AddressInfo).port;

    // Act
    const start = startBridge({ queueUrl: q.queueUrl, sqs: q.sqs, target: handlerTarget(async () => {}), metricsPort: port, metricsHost: '127.0.0.1' });

    // Assess
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(`metrics port ${port} (--metrics-port) on 127.0.0.1: cannot listen: the address is in use by another process`);
  });
});

