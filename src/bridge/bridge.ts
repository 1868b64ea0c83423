/**
 * The bridge: an SQS long-poll consumer that hands each message to a target (a Lambda function,
 * or the autoheal core in this process) and deletes it only after the target succeeded.
 *
 * Three rooms: the machine (machine.ts) decides (the receive loop's named states, the room for
 * more messages, backoff, the watchdog, units of work, the drain); the shell (shell.ts) does the
 * I/O and owns the one clock seam (clock.ts); this file checks the settings, the queue and the
 * target at start and wires them together. Each unit of work runs on its own, and its slot frees
 * as soon as the target answered (the delete is coalesced in the background by deleter.ts): the
 * loop never waits for a slow message before receiving the next (unlike sqs-consumer, which
 * waits for its whole batch and its deletes).
 *
 * Every stage has a bound, and one that passes it is logged (a warning naming the stage), counted
 * (autoheal_bridge_stage_timeouts_total{stage}) and recovered; nothing waits forever:
 * - receive: the SQS adapter bounds a ReceiveMessage at waitSeconds + AUTOHEAL_AWS_TIMEOUT_MS (a
 *   failed receive, retried with backoff); the watchdog restarts the loop when a receive has not
 *   returned in waitSeconds + stallGraceSeconds anyway;
 * - deliver: a target that has not answered within deliveryTimeoutSeconds is aborted; the unit's
 *   messages fail (released with their backoff), its slot is freed, its visibility extension stops;
 * - visibility and delete: each ChangeMessageVisibility and DeleteMessageBatch call gets
 *   sqsCallTimeoutSeconds (default 3 × AUTOHEAL_AWS_TIMEOUT_MS); a hung backoff leaves the message
 *   to come back after its visibility timeout, a hung extension is tried again at the next tick, a
 *   hung delete is retried like a failed one (so consumption never stops behind it).
 *
 * A unit ends one of three ways, and only the first two delete:
 * - succeeded: the target did the work; the message is deleted (DeleteMessageBatch, `Failed[]`
 *   entries retried) and counted only once SQS confirmed the delete;
 * - rejected: the message can never succeed (not JSON, not an alarm, with the local target);
 *   it is logged with the core's reason and deleted;
 * - failed: ChangeMessageVisibility hides it for a jittered exponential backoff by its
 *   ApproximateReceiveCount (at least minRetrySecondsWithoutDeadLetterQueue when the queue has no
 *   redrive policy, so a message that always fails is never a hot loop); after the queue's
 *   maxReceiveCount SQS moves it to the DLQ. A failed mark is a failure, never a success.
 * While a unit runs longer than half the visibility timeout, its messages' visibility is
 * extended, so no second consumer gets them meanwhile.
 *
 * On stop the loop stops receiving, in-flight work gets shutdownTimeoutSeconds to finish; work
 * still unfinished then is aborted and its messages made visible again (releaseTimeoutSeconds at
 * most), never deleted: stop() ends within shutdownTimeoutSeconds + releaseTimeoutSeconds
 * whatever hangs.
 */
import type { SQSClient } from '../aws/sqs.js';
import { z } from 'zod';
import { awsTimeouts } from '../aws/settings.js';
import { ConfigError, describeError } from '../errors.js';
import { TypedEvents } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { realClock, type BridgeClock } from './clock.js';
import type { BridgeState, MachineConfig } from './machine.js';
import { BridgeMetricsRecorder, serveMetrics, type BridgeMetrics } from './metrics.js';
import { bridgeDefaults, bridgeSettingsSchema, type BridgeSettings, type BridgeSettingsInput } from './options.js';
import { SqsQueue, type QueueInfo, type QueuePort } from './queue.js';
import { BridgeShell } from './shell.js';
import type { BridgeTarget } from './targets.js';
import type { BridgeEvents, BridgeSummary } from './types.js';

export type { BridgeState } from './machine.js';
export type { BridgeEvents, BridgeSummary, MessageEventBase } from './types.js';

/** Options of {@link startBridge}: the settings ({@link bridgeSettingsSchema}) and the collaborators. */
export interface BridgeOptions extends BridgeSettingsInput {
  /** Where messages go. */
  target: BridgeTarget;
  /** The SQS client (src/aws/sqs.ts sqsClient); or pass `queue`. */
  sqs?: SQSClient;
  /** A queue port instead of `sqs` (tests). */
  queue?: QueuePort;
  logger?: Logger;
  /** Time, timers and chance: injected so tests control them. Default: the real ones. */
  clock?: BridgeClock;
}

/** A running bridge. */
export interface BridgeHandle {
  /** Stops receiving and drains (bounded by shutdownTimeoutSeconds). Idempotent. */
  stop(): Promise<BridgeSummary>;
  /** Resolves when the bridge has stopped (by stop(), or by `once` draining the queue). Never rejects. */
  readonly promise: Promise<BridgeSummary>;
  readonly events: TypedEvents<BridgeEvents>;
  readonly metrics: BridgeMetrics;
  readonly state: BridgeState;
  /** The queue as read at start. */
  readonly queueInfo: QueueInfo;
  /** Where the metrics are served, when `metricsPort` was set. */
  readonly metricsUrl?: string;
}

/** Serves the metrics; a port that cannot be had (in use, not allowed) is a start-up failure naming it. */
async function startMetrics(metrics: BridgeMetricsRecorder, port: number, host: string): ReturnType<typeof serveMetrics> {
  try {
    return await serveMetrics(metrics.registry, port, host);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === 'EADDRINUSE' ? 'the address is in use by another process' : code === 'EACCES' ? 'not allowed for this user' : describeError(error);
    throw new ConfigError(`metrics port ${port} (--metrics-port) on ${host}: cannot listen: ${why}; pick a free port or stop what holds it`, {
      cause: error,
    });
  }
}

/** The settings the machine decides by, from the bridge's settings and the queue as read at start. */
function machineConfig(settings: BridgeSettings, queueInfo: QueueInfo, target: BridgeTarget): MachineConfig {
  return {
    concurrency: settings.concurrency,
    batchSize: settings.batchSize,
    unitPerReceive: target.unit === 'batch',
    once: settings.once,
    waitSeconds: settings.waitSeconds,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds ?? queueInfo.visibilityTimeoutSeconds,
    stallMs: (settings.waitSeconds + settings.stallGraceSeconds) * 1000,
    shutdownTimeoutMs: settings.shutdownTimeoutSeconds * 1000,
    retryBaseMs: settings.retryBaseSeconds * 1000,
    retryMaxMs: settings.retryMaxSeconds * 1000,
    retryFloorMs: (queueInfo.redrivePolicy ? 0 : bridgeDefaults.minRetrySecondsWithoutDeadLetterQueue) * 1000,
  };
}

/** Start-up check: the queue exists and is readable, and the target is usable. */
async function checkQueueAndTarget(queue: QueuePort, target: BridgeTarget, settings: BridgeSettings, logger: Logger): Promise<QueueInfo> {
  let queueInfo: QueueInfo;
  try {
    queueInfo = await queue.describe(AbortSignal.timeout(30_000));
  } catch (error) {
    throw new ConfigError(`queue ${settings.queueUrl} is not readable: ${describeError(error)}`, { cause: error });
  }
  await target.check?.(AbortSignal.timeout(30_000));
  if (!queueInfo.redrivePolicy) {
    logger.warn(
      { queueUrl: settings.queueUrl },
      'the queue has no redrive policy: a message that always fails is retried until it expires; give it a dead-letter queue',
    );
  }
  return queueInfo;
}

/**
 * Checks the queue (GetQueueAttributes) and the target (GetFunction for Lambda), then starts
 * receiving. Rejects with a {@link ConfigError} when the settings are invalid or a check fails.
 */
export async function startBridge(options: BridgeOptions): Promise<BridgeHandle> {
  const { target, sqs, queue: injectedQueue, logger = silentLogger, clock = realClock, ...input } = options;
  const parsed = bridgeSettingsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`bridge options: ${z.prettifyError(parsed.error)}`);
  const settings: BridgeSettings = parsed.data;
  if (!injectedQueue && !sqs) throw new ConfigError('bridge options: pass an SQS client (`sqs`) or a queue port (`queue`)');
  const queue = injectedQueue ?? new SqsQueue(sqs as SQSClient, settings.queueUrl);
  const queueInfo = await checkQueueAndTarget(queue, target, settings, logger);

  const metrics = new BridgeMetricsRecorder();
  const events = new TypedEvents<BridgeEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'bridge event listener failed'),
  );
  const server = settings.metricsPort !== undefined ? await startMetrics(metrics, settings.metricsPort, settings.metricsHost) : undefined;
  const config = machineConfig(settings, queueInfo, target);
  const shell = new BridgeShell({
    config,
    queue,
    queueArn: queueInfo.queueArn,
    target,
    clock,
    logger,
    metrics,
    events,
    deleteAttempts: settings.deleteAttempts,
    deliveryTimeoutMs: settings.deliveryTimeoutSeconds * 1000,
    sqsCall:
      settings.sqsCallTimeoutSeconds === undefined
        ? { timeoutMs: awsTimeouts().callTimeoutMs, setBy: awsTimeouts().setBy }
        : { timeoutMs: settings.sqsCallTimeoutSeconds * 1000, setBy: 'sqsCallTimeoutSeconds' },
    releaseTimeoutMs: bridgeDefaults.releaseTimeoutSeconds * 1000,
    ...(server ? { close: () => server.close() } : {}),
  });

  logger.info(
    {
      queueUrl: settings.queueUrl,
      target: target.description,
      concurrency: settings.concurrency,
      batchSize: settings.batchSize,
      waitSeconds: settings.waitSeconds,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      deadLetterQueue: queueInfo.redrivePolicy?.deadLetterTargetArn,
      maxReceiveCount: queueInfo.redrivePolicy?.maxReceiveCount,
      ...(server ? { metricsUrl: server.url } : {}),
    },
    'bridge started',
  );
  shell.start();

  return {
    stop: () => shell.stop(),
    promise: shell.promise,
    events,
    metrics,
    get state() {
      return shell.state;
    },
    queueInfo,
    ...(server ? { metricsUrl: server.url } : {}),
  };
}
