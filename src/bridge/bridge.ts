/**
 * The bridge: an SQS long-poll consumer that hands each message to a target (a Lambda function,
 * or the autoheal core in this process) and deletes it only after the target succeeded.
 *
 * The receive loop is a small state machine:
 *
 *   receiving ──room──▶ start a receive (not awaited; its messages start one unit of work each,
 *       │               or one per batch) ──▶ receiving
 *       │  └──no room, or enough receives out──▶ wait for a unit's delivery, or a receive, to end
 *       └──a receive failed──▶ backing-off (jittered, growing) ──▶ receiving
 *   any state ──stop()──▶ draining ──in-flight done, or shutdown timeout──▶ stopped
 *
 * Room is the free delivery slots (`concurrency`) less what the receives already out may bring,
 * so nothing received waits hidden in a local buffer. Up to ceil(concurrency / batchSize) + 1
 * receives overlap: a slot that frees while a long poll is out is filled by a second receive,
 * not after the first returns. Each unit of work runs on its own, and its slot frees as soon as
 * the target answered (the delete is coalesced in the background, at most `concurrency` more
 * messages waiting for theirs): the loop never waits for a slow message before receiving the
 * next (unlike sqs-consumer, which waits for its whole batch and its deletes).
 *
 * Every stage has a bound, and one that passes it is logged (a warning naming the stage), counted
 * (autoheal_bridge_stage_timeouts_total{stage}) and recovered; nothing waits forever:
 * - receive: the SQS adapter bounds a ReceiveMessage at waitSeconds + AUTOHEAL_AWS_TIMEOUT_MS (a
 *   failed receive, retried with backoff); the watchdog restarts the loop when a receive has not
 *   returned in waitSeconds + stallGraceSeconds anyway, or the loop ended without being stopped;
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
 * When the watchdog restarts the loop, the outstanding receives are abandoned and a fresh loop
 * started (counted in the metrics). On stop the loop stops receiving, in-flight work gets
 * shutdownTimeoutSeconds to finish; work still unfinished then is aborted and its messages made
 * visible again (releaseTimeoutSeconds at most), never deleted: stop() ends within
 * shutdownTimeoutSeconds + releaseTimeoutSeconds whatever hangs.
 */
import type { SQSClient } from '../aws/sqs.js';
import { z } from 'zod';
import { awsTimeouts } from '../aws/settings.js';
import { backoffMs } from '../backoff.js';
import { withDeadline } from '../deadline.js';
import { ConfigError, DeadlineError, describeError } from '../errors.js';
import { TypedEvents } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { Deleter } from './deleter.js';
import { BridgeMetricsRecorder, serveMetrics, type BridgeCounts, type BridgeMetrics, type BridgeStage } from './metrics.js';
import { bridgeDefaults, bridgeSettingsSchema, sqsLimits, type BridgeSettings, type BridgeSettingsInput } from './options.js';
import { SqsQueue, type QueueInfo, type QueuePort, type ReceivedMessage } from './queue.js';
import type { BridgeTarget, DeliveryOutcome } from './targets.js';

/** The receive loop's states (see the top of this file). */
export type BridgeState = 'receiving' | 'waiting-for-capacity' | 'backing-off' | 'draining' | 'stopped';

/** Common fields of the per-message events. */
export interface MessageEventBase {
  messageId: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** From receipt to this outcome. */
  ms: number;
}

/** Typed events of the bridge, named `component:action:outcome`. */
export interface BridgeEvents {
  /** A receive returned (`count` may be 0). */
  'bridge:receive:succeeded': { count: number };
  'bridge:receive:failed': { error: string; retryInMs: number };
  /** SQS confirmed the delete: after success, or for input that can never succeed (`rejected`). */
  'bridge:message:deleted': MessageEventBase & { outcome: 'succeeded' | 'rejected'; reason?: string };
  /** The target failed; the message comes back after `retryInSeconds`. */
  'bridge:message:failed': MessageEventBase & { error: string; retryInSeconds: number };
  /** Unfinished at a forced shutdown: made visible again, not deleted. */
  'bridge:message:released': MessageEventBase;
  /** The target succeeded but the delete kept failing; SQS will deliver the message again. */
  'bridge:delete:failed': MessageEventBase & { error: string };
  'bridge:visibility:extended': { messageId: string; visibilityTimeoutSeconds: number };
  'bridge:visibility:failed': { messageId: string; error: string };
  /** A stage did not finish within its bound; it was abandoned and recovered (see the top of this file). */
  'bridge:stage:timedout': { stage: BridgeStage; action: string; timeoutMs: number; messageIds: string[] };
  /** The watchdog replaced a stalled or ended receive loop. */
  'bridge:loop:restarted': { reason: string; restarts: number };
  'bridge:stop:completed': BridgeSummary;
}

/** How a bridge ended. */
export interface BridgeSummary {
  /** `stopped`: stop() was called; `drained`: `once` found the queue empty. */
  reason: 'stopped' | 'drained';
  /** Messages whose work had not finished by the shutdown timeout (left undeleted). */
  unfinished: number;
  counts: BridgeCounts;
}

/** Options of {@link startBridge}: the settings ({@link bridgeSettingsSchema}) and the collaborators. */
export interface BridgeOptions extends BridgeSettingsInput {
  /** Where messages go. */
  target: BridgeTarget;
  /** The SQS client (src/aws/sqs.ts sqsClient); or pass `queue`. */
  sqs?: SQSClient;
  /** A queue port instead of `sqs` (tests). */
  queue?: QueuePort;
  logger?: Logger;
  /** Milliseconds since the epoch; injected so tests control time. */
  clock?: () => number;
  /** In [0, 1); jitters the backoffs. */
  random?: () => number;
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

interface Unit {
  messages: ReceivedMessage[];
  /** The target has answered (or thrown): the unit no longer counts against the concurrency. */
  delivered: boolean;
  receivedAt: number;
  controller: AbortController;
  /** Messages whose outcome is settled (no more visibility extensions). */
  settled: Set<string>;
  abandoned: boolean;
  done: Promise<void>;
}

interface Poll {
  maxMessages: number;
  startedAt: number;
  controller: AbortController;
}

/** The longest pause between failed receives. */
const maxReceiveBackoffMs = 20_000;

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

/**
 * Checks the queue (GetQueueAttributes) and the target (GetFunction for Lambda), then starts
 * receiving. Rejects with a {@link ConfigError} when the settings are invalid or a check fails.
 */
export async function startBridge(options: BridgeOptions): Promise<BridgeHandle> {
  const { target, sqs, queue: injectedQueue, logger = silentLogger, clock = Date.now, random = Math.random, ...input } = options;
  const parsed = bridgeSettingsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`bridge options: ${z.prettifyError(parsed.error)}`);
  const settings: BridgeSettings = parsed.data;
  if (!injectedQueue && !sqs) throw new ConfigError('bridge options: pass an SQS client (`sqs`) or a queue port (`queue`)');
  const queue = injectedQueue ?? new SqsQueue(sqs as SQSClient, settings.queueUrl);

  // Start-up check: the queue exists and is readable, and the target is usable.
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
  const visibilityTimeoutSeconds = settings.visibilityTimeoutSeconds ?? queueInfo.visibilityTimeoutSeconds;

  const metrics = new BridgeMetricsRecorder();
  const events = new TypedEvents<BridgeEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'bridge event listener failed'),
  );
  const server = settings.metricsPort !== undefined ? await startMetrics(metrics, settings.metricsPort, settings.metricsHost) : undefined;
  const sqsCallTimeoutMs = (settings.sqsCallTimeoutSeconds ?? awsTimeouts().callTimeoutMs / 1000) * 1000;
  const sqsCallSetBy = settings.sqsCallTimeoutSeconds === undefined ? awsTimeouts().setBy : 'sqsCallTimeoutSeconds';
  const deliveryTimeoutMs = settings.deliveryTimeoutSeconds * 1000;
  const releaseTimeoutMs = bridgeDefaults.releaseTimeoutSeconds * 1000;
  const retryFloorSeconds = queueInfo.redrivePolicy ? 0 : bridgeDefaults.minRetrySecondsWithoutDeadLetterQueue;

  /** Aborted once the bridge has stopped: SQS calls still out are cancelled, so none keeps the process alive. */
  const closing = new AbortController();

  /** Counts, logs and announces a stage that passed its bound. */
  function timedOut(stage: BridgeStage, action: string, timeoutMs: number, messageIds: string[], error: string): void {
    metrics.stageTimedOut(stage);
    logger.warn({ stage, action, timeoutMs, messageIds, error }, `bridge stage timed out: ${stage}`);
    events.emit('bridge:stage:timedout', { stage, action, timeoutMs, messageIds });
  }

  /** Runs one SQS call of `stage` with its bound; a timeout is reported by {@link timedOut} and rethrown. */
  async function bounded<T>(
    stage: BridgeStage,
    action: string,
    messageIds: string[],
    work: (signal: AbortSignal) => Promise<T>,
    timeoutMs = sqsCallTimeoutMs,
    setBy = sqsCallSetBy,
  ): Promise<T> {
    try {
      return await withDeadline(action, timeoutMs, work, { setBy, signal: closing.signal });
    } catch (error) {
      if (error instanceof DeadlineError && !closing.signal.aborted) timedOut(stage, action, timeoutMs, messageIds, describeError(error));
      throw error;
    }
  }

  /** The queue as the deleter sees it: each DeleteMessageBatch bounded. */
  const boundedDeletes: QueuePort = {
    url: queue.url,
    describe: (signal) => queue.describe(signal),
    receive: (request, signal) => queue.receive(request, signal),
    changeVisibility: (handle, seconds, signal) => queue.changeVisibility(handle, seconds, signal),
    deleteBatch: (handles) =>
      bounded('delete', 'sqs:DeleteMessageBatch', handles.map(messageIdOf), (signal) => queue.deleteBatch(handles, signal)),
  };
  const deleter = new Deleter(boundedDeletes, settings.deleteAttempts, random);

  const units = new Set<Unit>();
  /** Receipt handle to message id, for the messages in flight (log lines of the deleter's stage). */
  const byHandle = new Map<string, string>();
  /** Messages at the target: what `concurrency` bounds. */
  let delivering = 0;
  /** Messages received and not finished (at the target, or their delete or backoff being sent). */
  let inFlight = 0;
  // Deletes are coalesced in the background; this bounds how many may wait for theirs.
  const maxUnfinished = settings.concurrency * 2;
  // Receives overlap, so a slot that frees while one long poll is out is filled without waiting for it.
  const maxPolls = Math.ceil(settings.concurrency / settings.batchSize) + 1;
  /** Messages received during shutdown, being made visible again. */
  const releases = new Set<Promise<void>>();
  let state: BridgeState = 'receiving';
  let generation = 0;
  /** Outstanding receives, and the messages they may bring. */
  const polls = new Set<Poll>();
  let requested = 0;
  let receiveFailures = 0;
  /** No receive starts before this (after failed receives). */
  let backoffUntil = 0;
  /** `once`: a receive came back empty while work was in flight; receive again when it settled. */
  let onceSettling = false;
  let wakeUp: (() => void) | undefined;
  let stopping: Promise<BridgeSummary> | undefined;
  let resolveDone: (summary: BridgeSummary) => void = () => {};
  const done = new Promise<BridgeSummary>((resolve) => (resolveDone = resolve));

  function setState(next: BridgeState): void {
    state = next;
  }

  /** Waits until wake() (a unit finished, stop) or `ms` elapsed. */
  function pause(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(finish, ms);
      function finish(): void {
        if (timer) clearTimeout(timer);
        if (wakeUp === finish) wakeUp = undefined;
        resolve();
      }
      const previous = wakeUp;
      wakeUp = finish;
      previous?.();
    });
  }

  function wake(): void {
    wakeUp?.();
  }

  function retryDelaySeconds(receiveCount: number): number {
    const ms = backoffMs({
      attempt: receiveCount,
      baseMs: settings.retryBaseSeconds * 1000,
      maxMs: settings.retryMaxSeconds * 1000,
      minMs: retryFloorSeconds * 1000,
      random,
    });
    return Math.min(sqsLimits.maxVisibilityTimeoutSeconds, Math.round(ms / 1000));
  }

  /** Receipt handles are opaque; the deleter knows only them, so the log finds the message id here. */
  function messageIdOf(receiptHandle: string): string {
    return byHandle.get(receiptHandle) ?? '';
  }

  function logOutcome(message: ReceivedMessage, outcome: string, ms: number, extra: Record<string, unknown> = {}): void {
    const line = {
      messageId: message.messageId,
      receiveCount: message.receiveCount,
      outcome,
      ms,
      ...(message.sentAtMs !== undefined ? { ageMs: clock() - message.sentAtMs } : {}),
      ...extra,
    };
    if (outcome === 'succeeded') logger.info(line, 'message');
    else logger.warn(line, 'message');
  }

  async function settle(unit: Unit, message: ReceivedMessage, outcome: DeliveryOutcome): Promise<void> {
    const base = (): MessageEventBase => ({
      messageId: message.messageId,
      receiveCount: message.receiveCount,
      ms: clock() - unit.receivedAt,
    });
    if (outcome.status === 'failed') {
      unit.settled.add(message.messageId);
      const retryInSeconds = retryDelaySeconds(message.receiveCount);
      try {
        await bounded('visibility', 'sqs:ChangeMessageVisibility', [message.messageId], (signal) =>
          queue.changeVisibility(message.receiptHandle, retryInSeconds, signal),
        );
      } catch (error) {
        // The message still comes back, after the visibility timeout instead of the backoff.
        logger.warn({ messageId: message.messageId, error: describeError(error) }, 'could not set the retry backoff');
      }
      const event = { ...base(), error: outcome.error, retryInSeconds };
      metrics.outcome('failed', event.ms);
      logOutcome(message, 'failed', event.ms, {
        error: outcome.error,
        retryInSeconds,
        target: target.description,
        ...(outcome.retryable === false
          ? {
              retryable: false,
              hint: 'retrying cannot help until this is fixed (the error names the IAM action to allow); the queue dead-letters the message after maxReceiveCount',
            }
          : {}),
      });
      events.emit('bridge:message:failed', event);
      return;
    }
    const result = await deleter.delete(message.receiptHandle);
    unit.settled.add(message.messageId);
    if (unit.abandoned) return;
    if (!result.deleted) {
      const event = { ...base(), error: result.error ?? 'delete failed' };
      metrics.outcome('deleteFailed', event.ms);
      logOutcome(message, 'delete-failed', event.ms, { error: event.error });
      events.emit('bridge:delete:failed', event);
      return;
    }
    const event =
      outcome.status === 'rejected'
        ? { ...base(), outcome: 'rejected' as const, reason: outcome.reason }
        : { ...base(), outcome: 'succeeded' as const };
    metrics.outcome(outcome.status, event.ms);
    logOutcome(message, outcome.status, event.ms, outcome.status === 'rejected' ? { reason: outcome.reason } : {});
    events.emit('bridge:message:deleted', event);
  }

  function extendVisibility(unit: Unit): NodeJS.Timeout | undefined {
    if (visibilityTimeoutSeconds < 2) return undefined;
    const intervalMs = (visibilityTimeoutSeconds * 1000) / 2;
    /** Messages whose extension is still out: no second one is sent meanwhile. */
    const extending = new Set<string>();
    const timer = setInterval(() => {
      for (const message of unit.messages) {
        if (unit.settled.has(message.messageId) || unit.abandoned || unit.delivered || extending.has(message.messageId)) continue;
        extending.add(message.messageId);
        // Bounded by the tick too: an extension that lands after the next tick is useless.
        bounded('visibility', 'sqs:ChangeMessageVisibility', [message.messageId], (signal) =>
          queue.changeVisibility(message.receiptHandle, visibilityTimeoutSeconds, signal),
          Math.min(sqsCallTimeoutMs, intervalMs),
        )
          .then(
            () => events.emit('bridge:visibility:extended', { messageId: message.messageId, visibilityTimeoutSeconds }),
            (error: unknown) => {
              const text = describeError(error);
              logger.warn({ messageId: message.messageId, error: text }, 'could not extend the visibility timeout');
              events.emit('bridge:visibility:failed', { messageId: message.messageId, error: text });
            },
          )
          .finally(() => extending.delete(message.messageId));
      }
    }, intervalMs);
    timer.unref();
    return timer;
  }

  async function work(unit: Unit): Promise<void> {
    const heartbeat = extendVisibility(unit);
    let outcomes: DeliveryOutcome[];
    const messageIds = unit.messages.map((m) => m.messageId);
    try {
      // The deadline aborts the target's signal and fails the delivery even if the target ignores it.
      outcomes = await withDeadline(
        `deliver to ${target.description}`,
        deliveryTimeoutMs,
        (signal) => target.deliver(unit.messages, { queueArn: queueInfo.queueArn, signal, timeoutMs: deliveryTimeoutMs }),
        { signal: unit.controller.signal, setBy: '--delivery-timeout-seconds' },
      );
    } catch (error) {
      const text = describeError(error);
      if (error instanceof DeadlineError && !unit.abandoned) timedOut('deliver', `deliver to ${target.description}`, deliveryTimeoutMs, messageIds, text);
      outcomes = unit.messages.map((m) => ({ messageId: m.messageId, status: 'failed', error: text }));
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      // The slot is free for the next message while this one's delete or backoff is sent.
      delivered(unit);
    }
    if (unit.abandoned) return;
    const byId = new Map(outcomes.map((o) => [o.messageId, o]));
    await Promise.all(
      unit.messages.map((m) =>
        settle(unit, m, byId.get(m.messageId) ?? { messageId: m.messageId, status: 'failed', error: 'the target reported no outcome' }),
      ),
    );
  }

  function delivered(unit: Unit): void {
    if (unit.delivered) return;
    unit.delivered = true;
    delivering -= unit.messages.length;
    wake();
  }

  function startUnit(messages: ReceivedMessage[]): void {
    const unit: Unit = {
      messages,
      delivered: false,
      receivedAt: clock(),
      controller: new AbortController(),
      settled: new Set(),
      abandoned: false,
      done: Promise.resolve(),
    };
    units.add(unit);
    for (const m of messages) byHandle.set(m.receiptHandle, m.messageId);
    delivering += messages.length;
    inFlight += messages.length;
    metrics.inFlight(messages.length);
    unit.done = work(unit)
      .catch((error: unknown) => logger.error({ error: describeError(error) }, 'bridge unit failed unexpectedly'))
      .finally(() => {
        delivered(unit);
        units.delete(unit);
        for (const m of messages) byHandle.delete(m.receiptHandle);
        inFlight -= messages.length;
        metrics.inFlight(-messages.length);
        wake();
      });
  }

  /** Makes messages visible again at once (best effort): received during shutdown, or abandoned. */
  async function release(messages: readonly ReceivedMessage[]): Promise<void> {
    await Promise.all(
      messages.map((m) =>
        bounded(
          'visibility',
          'sqs:ChangeMessageVisibility',
          [m.messageId],
          (signal) => queue.changeVisibility(m.receiptHandle, 0, signal),
          releaseTimeoutMs,
          'releaseTimeoutSeconds',
        ).catch((error: unknown) => {
          logger.warn({ messageId: m.messageId, error: describeError(error) }, 'could not release the message; it returns after its visibility timeout');
        }),
      ),
    );
  }

  /** Room for more messages: free delivery slots, less what outstanding receives may still bring. */
  function room(): number {
    return Math.min(settings.concurrency - delivering, maxUnfinished - inFlight) - requested;
  }

  /** Hands a receive's messages to units; at shutdown makes them visible again instead. */
  function accept(messages: ReceivedMessage[]): void {
    if (messages.length > 0) metrics.received(messages.length);
    events.emit('bridge:receive:succeeded', { count: messages.length });
    if (stopping) {
      const releasing = release(messages).finally(() => releases.delete(releasing));
      releases.add(releasing);
      return;
    }
    // Messages that a superseded loop received are hidden already: work them rather than wait.
    if (target.unit === 'batch' && messages.length > 0) startUnit(messages);
    else for (const message of messages) startUnit([message]);
    if (settings.once && messages.length === 0) {
      if (inFlight === 0 && polls.size === 0) void stop('drained');
      // Failed messages come back only after their backoff; receive again once the rest settled.
      else onceSettling = true;
    }
  }

  /** One ReceiveMessage, not awaited by the loop: its messages count against the room until it returns. */
  function startPoll(maxMessages: number): void {
    const poll: Poll = { maxMessages, startedAt: clock(), controller: new AbortController() };
    polls.add(poll);
    requested += maxMessages;
    const done = (): void => {
      // A poll the watchdog gave up on was already taken off the books.
      if (polls.delete(poll)) requested -= maxMessages;
    };
    queue
      .receive({ maxMessages, waitSeconds: settings.waitSeconds, visibilityTimeoutSeconds }, poll.controller.signal)
      .then(
        (messages) => {
          done();
          receiveFailures = 0;
          accept(messages);
        },
        (error: unknown) => {
          done();
          if (stopping || poll.controller.signal.aborted) return;
          receiveFailures++;
          const retryInMs = Math.round(backoffMs({ attempt: receiveFailures + 1, baseMs: 100, maxMs: maxReceiveBackoffMs, random }));
          const text = describeError(error);
          if (error instanceof DeadlineError) timedOut('receive', 'sqs:ReceiveMessage', error.timeoutMs, [], text);
          metrics.receiveFailed();
          logger.warn({ error: text, retryInMs }, 'receive failed');
          events.emit('bridge:receive:failed', { error: text, retryInMs });
          backoffUntil = Math.max(backoffUntil, clock() + retryInMs);
        },
      )
      .catch((error: unknown) => logger.error({ error: describeError(error) }, 'bridge receive handling failed unexpectedly'))
      .finally(wake);
  }

  async function loop(myGeneration: number): Promise<void> {
    while (!stopping && myGeneration === generation) {
      const backoffMs = backoffUntil - clock();
      if (backoffMs > 0) {
        setState('backing-off');
        await pause(backoffMs);
        continue;
      }
      if (onceSettling) {
        if (inFlight > 0 || polls.size > 0) {
          setState(polls.size > 0 ? 'receiving' : 'waiting-for-capacity');
          await pause();
          continue;
        }
        onceSettling = false;
      }
      const free = room();
      if (free <= 0 || polls.size >= maxPolls) {
        setState(polls.size > 0 ? 'receiving' : 'waiting-for-capacity');
        await pause();
        continue;
      }
      setState('receiving');
      startPoll(Math.min(settings.batchSize, free));
    }
  }

  function runLoop(myGeneration: number): void {
    loop(myGeneration).then(
      () => {
        if (!stopping && myGeneration === generation) restart('the receive loop ended');
      },
      (error: unknown) => {
        if (!stopping && myGeneration === generation) restart(`the receive loop crashed: ${describeError(error)}`);
      },
    );
  }

  /** Gives up on every outstanding receive (their messages, should they still come, are worked on). */
  function abandonPolls(reason: string): void {
    for (const poll of polls) poll.controller.abort(new Error(reason));
    polls.clear();
    requested = 0;
  }

  function restart(reason: string): void {
    generation++;
    abandonPolls('the watchdog restarted the receive loop');
    metrics.loopRestarted();
    logger.warn({ reason, restarts: metrics.counts.loopRestarts }, 'receive loop restarted');
    events.emit('bridge:loop:restarted', { reason, restarts: metrics.counts.loopRestarts });
    // The superseded loop may be paused: wake it so that it sees the new generation and ends.
    wake();
    runLoop(generation);
  }

  const stallMs = (settings.waitSeconds + settings.stallGraceSeconds) * 1000;
  const watchdog = setInterval(
    () => {
      if (stopping) return;
      const now = clock();
      let oldest = now;
      for (const poll of polls) oldest = Math.min(oldest, poll.startedAt);
      if (now - oldest > stallMs) {
        timedOut('receive', 'sqs:ReceiveMessage', stallMs, [], `a receive did not return in ${now - oldest} ms`);
        restart(`a receive did not return in ${now - oldest} ms`);
      }
    },
    Math.max(10, Math.min(1000, stallMs / 4)),
  );

  function stop(reason: BridgeSummary['reason'] = 'stopped'): Promise<BridgeSummary> {
    if (stopping) return stopping;
    stopping = (async () => {
      setState('draining');
      clearInterval(watchdog);
      abandonPolls('the bridge is stopping');
      wake();
      logger.info({ inFlight, reason }, 'bridge stopping: no more receives; finishing in-flight work');
      const pending = [...units];
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.all(pending.map((u) => u.done)).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), settings.shutdownTimeoutSeconds * 1000))),
      ]);
      if (timer) clearTimeout(timer);
      let unfinished = 0;
      if (!finished) {
        const abandoned: ReceivedMessage[] = [];
        for (const unit of units) {
          unit.abandoned = true;
          unit.controller.abort(new Error('the bridge stopped before this work finished'));
          for (const message of unit.messages) {
            if (unit.settled.has(message.messageId)) continue;
            abandoned.push(message);
            const ms = clock() - unit.receivedAt;
            metrics.outcome('released', ms);
            logOutcome(message, 'released', ms);
            events.emit('bridge:message:released', { messageId: message.messageId, receiveCount: message.receiveCount, ms });
          }
        }
        unfinished = abandoned.length;
        deleter.close();
        await release(abandoned);
      }
      await Promise.all(releases);
      closing.abort(new Error('the bridge stopped'));
      await server?.close();
      setState('stopped');
      const summary: BridgeSummary = { reason, unfinished, counts: { ...metrics.counts } };
      logger.info(summary, 'bridge stopped');
      events.emit('bridge:stop:completed', summary);
      resolveDone(summary);
      return summary;
    })();
    return stopping;
  }

  logger.info(
    {
      queueUrl: settings.queueUrl,
      target: target.description,
      concurrency: settings.concurrency,
      batchSize: settings.batchSize,
      waitSeconds: settings.waitSeconds,
      visibilityTimeoutSeconds,
      deadLetterQueue: queueInfo.redrivePolicy?.deadLetterTargetArn,
      maxReceiveCount: queueInfo.redrivePolicy?.maxReceiveCount,
      ...(server ? { metricsUrl: server.url } : {}),
    },
    'bridge started',
  );
  runLoop(generation);

  return {
    stop: () => stop('stopped'),
    promise: done,
    events,
    metrics,
    get state() {
      return state;
    },
    queueInfo,
    ...(server ? { metricsUrl: server.url } : {}),
  };
}
