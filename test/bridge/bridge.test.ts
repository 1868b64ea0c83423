import { GetFunctionCommand, InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  handlerTarget,
  healerTarget,
  lambdaTarget,
  SqsQueue,
  startBridge,
  type BridgeHandle,
  type BridgeOptions,
  type QueuePort,
  type ReceivedMessage,
} from '../../src/bridge/index.js';
import { ConfigError } from '../../src/errors.js';
import { createHealer } from '../../src/healer/healer.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { eventually, startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

/** A response Payload as the SDK returns it (a Uint8Array with helpers the bridge does not use). */
function payload(text: string): InvokeCommandOutput['Payload'] {
  return Buffer.from(text) as unknown as InvokeCommandOutput['Payload'];
}

let q: FauxqsFixture;
const running: BridgeHandle[] = [];

/** Starts a bridge on the test queue with settings that keep the suite fast. */
async function bridge(options: Partial<BridgeOptions> & Pick<BridgeOptions, 'target'>): Promise<BridgeHandle> {
  const handle = await startBridge({
    queueUrl: q.queueUrl,
    sqs: q.sqs,
    waitSeconds: 1,
    retryBaseSeconds: 0,
    shutdownTimeoutSeconds: 5,
    ...options,
  });
  running.push(handle);
  return handle;
}

/** The test queue through the real SQS adapter, with `overrides` in place of some of its calls. */
function realQueueExcept(overrides: Partial<QueuePort>): QueuePort {
  const real = new SqsQueue(q.sqs, q.queueUrl);
  return {
    url: real.url,
    describe: (s) => real.describe(s),
    receive: (r, s) => real.receive(r, s),
    changeVisibility: (h, v, s) => real.changeVisibility(h, v, s),
    deleteBatch: (h, s) => real.deleteBatch(h, s),
    ...overrides,
  };
}

beforeEach(async () => {
  q = await startFauxqs({ deadLetter: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 5, messageSpies: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
  await q.stop();
});

describe('bridge', () => {
  it('delivers a message published to the topic and deletes it after success', async () => {
    // Prepare
    const bodies: string[] = [];
    const handle = await bridge({ target: handlerTarget(async (m) => void bodies.push(m.body)) });
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    const snsId = await q.publish('{"AlarmName":"a"}');
    const event = await deleted;

    // Assess
    expect(JSON.parse(bodies[0] ?? '{}')).toMatchObject({ Type: 'Notification', MessageId: snsId, Message: '{"AlarmName":"a"}' });
    expect(event).toMatchObject({ outcome: 'succeeded', receiveCount: 1 });
    expect(handle.metrics.counts).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('gives a message that failed twice a third delivery and deletes it once', async () => {
    // Prepare
    const seen: number[] = [];
    const handle = await bridge({
      target: handlerTarget(async (m) => {
        seen.push(m.receiveCount);
        if (seen.length <= 2) throw new Error(`attempt ${seen.length} fails`);
      }),
    });
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    const [id] = await q.send(['{"AlarmName":"flaky"}']);
    const event = await deleted;
    await q.server.spy.waitForMessageWithId(id ?? '', 'consumed', 5_000);

    // Assess
    expect(seen).toEqual([1, 2, 3]);
    expect(event).toMatchObject({ messageId: id, receiveCount: 3, outcome: 'succeeded' });
    expect(handle.metrics.counts).toMatchObject({ received: 3, failed: 2, succeeded: 1 });
    const consumed = q.server.spy.getAllMessages().filter((m) => m.service === 'sqs' && m.status === 'consumed');
    expect(consumed).toHaveLength(1);
  });

  it('handles 1,000 messages with 10% malformed in-process: every alarm marked, every bad body rejected and deleted', async () => {
    // Prepare: 90 groups of 10 instances; a budget that lets all of them be marked.
    const fleet = new MemoryFleet(
      Array.from({ length: 90 }, (_, g) => ({
        name: `group-${g}`,
        instances: Array.from({ length: 10 }, (_, i) => `i-${String(g * 10 + i).padStart(17, '0')}`),
      })),
    );
    // Every instance of each group fails at once here: no freeze (suspicionShare 1 never trips).
    const healer = createHealer({ fleet, policy: policyOptionsSchema.parse({ maxUnhealthyShare: 1, suspicionShare: 1 }) });
    const bad = ['not json', '{"Type":"Notification","Message":"{oops"}', '[]', '{"hello":"world"}', ''];
    const bodies = Array.from({ length: 1000 }, (_, n) =>
      n % 10 === 9 ? (bad[n % bad.length] ?? 'x') || ' ' : statusCheckAlarmMessage(`i-${String(n - Math.floor(n / 10)).padStart(17, '0')}`),
    );
    await q.send(bodies);

    // Act
    const handle = await bridge({ target: healerTarget(healer), once: true, waitSeconds: 0, concurrency: 20 });
    const summary = await handle.promise;

    // Assess
    expect(summary.reason).toBe('drained');
    expect(summary.counts).toMatchObject({ received: 1000, succeeded: 900, rejected: 100, failed: 0, deleteFailed: 0 });
    expect(new Set(fleet.setHealthCalls.map((c) => c.instanceId)).size).toBe(900);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('retries the entries a DeleteMessageBatch reports in Failed[] and counts the message once it is really deleted', async () => {
    // Prepare
    const real = new SqsQueue(q.sqs, q.queueUrl);
    let failuresLeft = 2;
    const queue = realQueueExcept({
      async deleteBatch(handles) {
        if (failuresLeft-- > 0) return handles.map((h) => ({ receiptHandle: h, code: 'InternalError', message: 'try again', senderFault: false }));
        return real.deleteBatch(handles);
      },
    });
    const handle = await bridge({ queue, target: handlerTarget(async () => {}) });
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    await q.send(['{"AlarmName":"x"}']);
    await deleted;

    // Assess
    expect(failuresLeft).toBeLessThan(0);
    expect(handle.metrics.counts).toMatchObject({ succeeded: 1, deleteFailed: 0 });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('restarts a receive loop that stalled, and counts the restart', async () => {
    // Prepare: the first receive never returns and ignores its abort signal.
    const real = new SqsQueue(q.sqs, q.queueUrl);
    let receives = 0;
    const queue = realQueueExcept({
      receive: (r, s) => (receives++ === 0 ? new Promise<ReceivedMessage[]>(() => {}) : real.receive(r, s)),
    });
    const handle = await bridge({ queue, target: handlerTarget(async () => {}), waitSeconds: 0, stallGraceSeconds: 0.2 });
    const restarted = handle.events.once('bridge:loop:restarted');
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    await q.send(['{"AlarmName":"x"}']);

    // Assess
    expect(await restarted).toMatchObject({ restarts: 1 });
    await deleted;
    expect(handle.metrics.counts.loopRestarts).toBeGreaterThanOrEqual(1);
    const metrics = await handle.metrics.registry.metrics();
    expect(metrics).toMatch(/autoheal_bridge_loop_restarts_total [1-9]/);
    expect(metrics).toMatch(/autoheal_bridge_stage_timeouts_total\{stage="receive"\} [1-9]/);
    expect(handle.metrics.counts.receiveTimeouts).toBeGreaterThanOrEqual(1);
  });

  it('extends the visibility of work that runs longer than half the visibility timeout, so it is not redelivered', async () => {
    // Prepare
    let calls = 0;
    const handle = await bridge({
      visibilityTimeoutSeconds: 2,
      target: handlerTarget(async () => {
        calls++;
        // Work for two extensions: longer than the visibility timeout itself.
        let extensions = 0;
        await new Promise<void>((resolve) => {
          const off = handle.events.on('bridge:visibility:extended', () => {
            if (++extensions < 3) return;
            off();
            resolve();
          });
        });
      }),
    });
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    await q.send(['{"AlarmName":"slow"}']);
    const event = await deleted;

    // Assess
    expect(calls).toBe(1);
    expect(event.receiveCount).toBe(1);
  });

  it('on stop, leaves unfinished work undeleted and visible again; a new bridge then processes it', async () => {
    // Prepare
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const first = await bridge({
      shutdownTimeoutSeconds: 0.2,
      target: handlerTarget(
        (_m, signal) =>
          new Promise<void>((_resolve, reject) => {
            started();
            signal.addEventListener('abort', () => reject(new Error('aborted')));
          }),
      ),
    });
    const [id] = await q.send(['{"AlarmName":"long"}']);
    await isStarted;

    // Act
    const summary = await first.stop();
    const handled: string[] = [];
    const second = await bridge({ target: handlerTarget(async (m) => void handled.push(m.messageId)) });
    const event = await second.events.once('bridge:message:deleted');

    // Assess
    expect(summary).toMatchObject({ reason: 'stopped', unfinished: 1 });
    expect(summary.counts).toMatchObject({ released: 1, succeeded: 0 });
    expect(handled).toEqual([id]);
    expect(event).toMatchObject({ messageId: id, receiveCount: 2 });
  });

  it('does not let a slow message hold back the messages behind it', async () => {
    // Prepare: concurrency 2; the first message is held until the test lets it go.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const handle = await bridge({
      concurrency: 2,
      batchSize: 1,
      target: handlerTarget(async (m) => {
        if (m.body === 'slow') await held;
        handled.push(m.body);
      }),
    });
    await q.send(['slow']);
    await eventually(() => handle.metrics.counts.received === 1, 'the slow message to be taken');

    // Act
    await q.send(['f1', 'f2', 'f3', 'f4', 'f5']);
    await eventually(() => handle.metrics.counts.succeeded === 5, 'the five fast messages while the slow one runs');
    const whileHeld = [...handled];
    release();
    await eventually(() => handle.metrics.counts.succeeded === 6, 'the slow message');

    // Assess
    expect(whileHeld.sort()).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
    expect(handled.at(-1)).toBe('slow');
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('logs one JSON line per message: id, receive count, outcome, ms; a rejected body with the core\'s reason', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'] }]);
    const healer = createHealer({ fleet, policy: policyOptionsSchema.parse({ maxUnhealthyShare: 0.5 }) });
    const [good, bad] = await q.send([statusCheckAlarmMessage('i-00000000000000001'), 'not json']);
    const { logger, lines } = capturedLogger();

    // Act
    const handle = await bridge({ target: healerTarget(healer), once: true, waitSeconds: 0, logger });
    await handle.promise;

    // Assess
    const messages = lines.filter((l) => l.msg === 'message');
    expect(messages).toHaveLength(2);
    expect(messages.find((l) => l.messageId === good)).toMatchObject({ outcome: 'succeeded', receiveCount: 1, ms: expect.any(Number) });
    expect(messages.find((l) => l.messageId === bad)).toMatchObject({
      outcome: 'rejected',
      receiveCount: 1,
      ms: expect.any(Number),
      reason: expect.stringMatching(/JSON/i),
    });
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(['i-00000000000000001']);
    expect(lines.some((l) => String(l.msg).includes('no redrive policy'))).toBe(false);
  });

  it('warns at start when the queue has no redrive policy', async () => {
    // Prepare
    const plain = q.server.createQueue('no-dlq');
    const { logger, lines } = capturedLogger();

    // Act
    await bridge({ queueUrl: plain.queueUrl, target: handlerTarget(async () => {}), logger });

    // Assess
    const warning = lines.find((l) => String(l.msg).includes('no redrive policy'));
    expect(warning).toMatchObject({ level: 40, queueUrl: plain.queueUrl });
    expect(lines.find((l) => l.msg === 'bridge started')).not.toHaveProperty('deadLetterQueue');
  });

  it('serves Prometheus metrics', async () => {
    // Prepare
    const handle = await bridge({ target: handlerTarget(async () => {}), metricsPort: 0, metricsHost: '127.0.0.1' });
    const deleted = handle.events.once('bridge:message:deleted');
    await q.send(['{}']);
    await deleted;

    // Act
    const response = await fetch(handle.metricsUrl ?? '');
    const text = await response.text();

    // Assess
    expect(response.status).toBe(200);
    expect(text).toContain('autoheal_bridge_messages_total{outcome="received"} 1');
    expect(text).toContain('autoheal_bridge_messages_total{outcome="succeeded"} 1');
    expect(text).toContain('autoheal_bridge_messages_in_flight 0');
    expect(text).toContain('autoheal_bridge_message_duration_seconds_bucket');
  });

  it('rejects at start a queue that does not exist, with a clear ConfigError', async () => {
    // Act
    const start = startBridge({ queueUrl: `${q.queueUrl}-missing`, sqs: q.sqs, target: handlerTarget(async () => {}) });

    // Assess
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/is not readable.*sqs:GetQueueAttributes/);
  });

  it('rejects unknown and out-of-range options, naming them', async () => {
    // Act
    const start = startBridge({ queueUrl: q.queueUrl, sqs: q.sqs, target: handlerTarget(async () => {}), batchSize: 11 });
    const typo = startBridge({ queueUrl: q.queueUrl, sqs: q.sqs, target: handlerTarget(async () => {}), ...{ concurency: 3 } });

    // Assess
    await expect(start).rejects.toThrow(/batchSize/);
    await expect(typo).rejects.toThrow(/concurency/);
  });
});

describe('bridge with a Lambda target', () => {
  const lambda = mockClient(LambdaClient);
  afterEach(() => lambda.reset());

  it('invokes with the body unchanged (RequestResponse) and treats a FunctionError as a failure', async () => {
    // Prepare
    lambda.on(GetFunctionCommand).resolves({ Configuration: { FunctionName: 'heal' } });
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 200, FunctionError: 'Unhandled', Payload: payload('{"errorMessage":"boom"}') })
      .resolves({ StatusCode: 200, Payload: payload('null') });
    const handle = await bridge({ target: lambdaTarget({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'heal' }) });
    const failed = handle.events.once('bridge:message:failed');
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    await q.send(['not json at all']);
    const failure = await failed;
    await deleted;

    // Assess
    expect(failure.error).toMatch(/function error \(Unhandled\).*boom/);
    const invokes = lambda.commandCalls(InvokeCommand);
    expect(invokes).toHaveLength(2);
    expect(invokes[0]?.args[0].input).toMatchObject({ FunctionName: 'heal', InvocationType: 'RequestResponse' });
    expect(Buffer.from(invokes[0]?.args[0].input.Payload as Uint8Array).toString()).toBe('not json at all');
  });

  it('sends a Lambda SQS event per batch and honours batchItemFailures', async () => {
    // Prepare
    lambda.on(GetFunctionCommand).resolves({});
    const ids = await q.send(['{"n":1}', '{"n":2}', '{"n":3}']);
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 200, Payload: payload(JSON.stringify({ batchItemFailures: [{ itemIdentifier: ids[1] }] })) })
      .resolves({ StatusCode: 200, Payload: payload('{"batchItemFailures":[]}') });

    // Act
    const handle = await bridge({
      target: lambdaTarget({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'heal', payload: 'sqs-event' }),
    });
    await eventually(() => handle.metrics.counts.succeeded === 3, 'three deletes');

    // Assess
    expect(handle.metrics.counts).toMatchObject({ succeeded: 3, failed: 1 });
    const first = JSON.parse(Buffer.from(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString()) as {
      Records: Array<Record<string, unknown>>;
    };
    expect(first.Records.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(first.Records[0]).toMatchObject({
      messageId: ids[0],
      eventSource: 'aws:sqs',
      eventSourceARN: q.queueArn,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1' },
    });
    const retried = JSON.parse(Buffer.from(lambda.commandCalls(InvokeCommand)[1]?.args[0].input.Payload as Uint8Array).toString()) as {
      Records: Array<{ messageId: string }>;
    };
    expect(retried.Records.map((r) => r.messageId)).toEqual([ids[1]]);
  });

  it('with Event invocation counts an accepted invoke (202) as success', async () => {
    // Prepare
    lambda.on(GetFunctionCommand).resolves({});
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const handle = await bridge({
      target: lambdaTarget({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'heal', invocationType: 'Event' }),
    });
    const deleted = handle.events.once('bridge:message:deleted');

    // Act
    await q.send(['{}']);

    // Assess
    expect(await deleted).toMatchObject({ outcome: 'succeeded' });
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.InvocationType).toBe('Event');
  });

  it('fails the start-up check when the function does not exist', async () => {
    // Prepare
    lambda
      .on(GetFunctionCommand)
      .rejects(Object.assign(new Error('Function not found: arn:aws:lambda:us-east-1:1:function:nope'), { name: 'ResourceNotFoundException' }));

    // Act
    const start = startBridge({
      queueUrl: q.queueUrl,
      sqs: q.sqs,
      target: lambdaTarget({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'nope' }),
    });

    // Assess
    await expect(start).rejects.toThrow(/function "nope" is not usable.*Function not found/);
  });
});
