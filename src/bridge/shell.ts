/**
 * The bridge's shell around its machine (machine.ts): it owns the I/O (the queue, the target, the
 * deleter) and the one clock seam, turns each result into an event for the machine, and carries
 * out the effects the machine returns. It decides nothing; every rule is the machine's.
 *
 * Each SQS call it makes for the machine has a bound (withDeadline, as every remote call): a
 * ChangeMessageVisibility or DeleteMessageBatch gets sqsCallTimeoutMs, a release at shutdown
 * releaseTimeoutMs, a delivery deliveryTimeoutMs (its signal aborted, its result ignored). A call
 * that passes its bound is reported as a stage timeout and answered to the machine as a failure.
 * Once the bridge closes, every call still out is cancelled, so none keeps the process alive.
 */
import { withDeadline } from '../deadline.js';
import { DeadlineError, describeError } from '../errors.js';
import type { TypedEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { BridgeClock, ClockTimer } from './clock.js';
import { Deleter } from './deleter.js';
import {
  extendIntervalMs,
  initialMachine,
  publicState,
  step,
  timerKey,
  type BridgeMachine,
  type BridgeStage,
  type BridgeState,
  type Effect,
  type MachineConfig,
  type MachineEvent,
} from './machine.js';
import type { BridgeMetricsRecorder } from './metrics.js';
import type { QueuePort, ReceivedMessage } from './queue.js';
import { createReporter, reportTimeout } from './report.js';
import type { BridgeTarget } from './targets.js';
import type { BridgeEvents, BridgeSummary } from './types.js';

export interface ShellDeps {
  config: MachineConfig;
  queue: QueuePort;
  queueArn: string;
  target: BridgeTarget;
  clock: BridgeClock;
  logger: Logger;
  metrics: BridgeMetricsRecorder;
  events: TypedEvents<BridgeEvents>;
  /** Attempts per message to delete it. */
  deleteAttempts: number;
  deliveryTimeoutMs: number;
  /** The bound of a ChangeMessageVisibility or DeleteMessageBatch call, and the setting that sets it. */
  sqsCall: { timeoutMs: number; setBy: string };
  releaseTimeoutMs: number;
  /** Closes what the bridge serves (its metrics), last. */
  close?: () => Promise<void>;
}

type EffectOf<T extends Effect['type']> = Extract<Effect, { type: T }>;

export class BridgeShell {
  private machine: BridgeMachine;
  private readonly queued: MachineEvent[] = [];
  private dispatching = false;
  private readonly timers = new Map<string, ClockTimer>();
  private readonly receives = new Map<number, AbortController>();
  private readonly deliveries = new Map<number, AbortController>();
  /** Receipt handle to message id, for the deletes out: the deleter knows only handles, the log wants ids. */
  private readonly deleting = new Map<string, string>();
  /** Aborted once the bridge closes: SQS calls still out are cancelled. */
  private readonly closing = new AbortController();
  private readonly deleter: Deleter;
  private readonly report: ReturnType<typeof createReporter>;
  private resolveDone: (summary: BridgeSummary) => void = () => {};
  /** Resolves when the bridge has stopped. Never rejects. */
  readonly promise = new Promise<BridgeSummary>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly deps: ShellDeps) {
    this.machine = initialMachine(deps.config);
    const boundedDeletes: QueuePort = {
      url: deps.queue.url,
      describe: (signal) => deps.queue.describe(signal),
      receive: (request, signal) => deps.queue.receive(request, signal),
      changeVisibility: (handle, seconds, signal) => deps.queue.changeVisibility(handle, seconds, signal),
      deleteBatch: (handles) =>
        this.bounded('delete', 'sqs:DeleteMessageBatch', handles.map((h) => this.deleting.get(h) ?? ''), (signal) => deps.queue.deleteBatch(handles, signal)),
    };
    this.deleter = new Deleter(boundedDeletes, deps.deleteAttempts, deps.clock);
    this.report = createReporter({ ...deps, targetDescription: deps.target.description, onStopped: (summary) => this.resolveDone(summary) });
  }

  /** The loop's state, as the handle shows it. */
  get state(): BridgeState {
    return publicState(this.machine);
  }

  start(): void {
    this.dispatch({ type: 'start' });
  }

  /** Stops receiving and drains; idempotent. */
  stop(): Promise<BridgeSummary> {
    this.dispatch({ type: 'stop' });
    return this.promise;
  }

  /** Feeds the machine one event and carries out its effects; an event that arrives meanwhile waits its turn. */
  private dispatch(event: MachineEvent): void {
    this.queued.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queued.shift(); next; next = this.queued.shift()) {
        const { state, effects } = step(this.machine, next, { now: this.deps.clock.now(), random: () => this.deps.clock.random() });
        this.machine = state;
        for (const effect of effects) this.perform(effect);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private perform(effect: Effect): void {
    try {
      this.carryOut(effect);
    } catch (error) {
      // A bug, not an outcome: the machine's watchdog and deadlines still recover what it left out.
      this.deps.logger.error({ effect: effect.type, error: describeError(error) }, 'bridge effect failed unexpectedly');
    }
  }

  private carryOut(effect: Effect): void {
    switch (effect.type) {
      case 'receive':
        return this.receive(effect);
      case 'abandon-receives':
        return this.abort(this.receives, effect.polls, effect.reason);
      case 'deliver':
        return this.deliver(effect);
      case 'abort-delivery':
        return this.abort(this.deliveries, [effect.unit], effect.reason);
      case 'set-retry':
        return this.setRetry(effect);
      case 'extend':
        return this.extend(effect);
      case 'delete':
        return this.delete(effect);
      case 'release':
        return this.release(effect.messages);
      case 'close-deleter':
        return this.deleter.close();
      case 'arm':
        return this.arm(effect);
      case 'disarm':
        return this.disarm(timerKey(effect.timer));
      case 'close':
        return this.close();
      case 'report':
        return this.report(effect.report);
    }
  }

  private receive({ poll, maxMessages, waitSeconds, visibilityTimeoutSeconds }: EffectOf<'receive'>): void {
    const controller = new AbortController();
    this.receives.set(poll, controller);
    const request = { maxMessages, waitSeconds, visibilityTimeoutSeconds };
    // The SQS adapter bounds a receive itself (waitSeconds + AUTOHEAL_AWS_TIMEOUT_MS).
    this.settle(
      () => this.deps.queue.receive(request, controller.signal),
      (messages) => ({ type: 'received', poll, messages }),
      (error) => ({ type: 'receive-failed', poll, error: describeError(error), ...(error instanceof DeadlineError ? { timeoutMs: error.timeoutMs } : {}) }),
      () => this.receives.delete(poll),
    );
  }

  private deliver({ unit, messages }: EffectOf<'deliver'>): void {
    const controller = new AbortController();
    this.deliveries.set(unit, controller);
    const { target, deliveryTimeoutMs: timeoutMs, queueArn } = this.deps;
    const action = `deliver to ${target.description}`;
    this.settle(
      // The deadline aborts the target's signal and fails the delivery even if the target ignores it.
      () => withDeadline(action, timeoutMs, (signal) => target.deliver(messages, { queueArn, signal, timeoutMs }), {
        signal: controller.signal,
        setBy: '--delivery-timeout-seconds',
      }),
      (outcomes) => ({ type: 'delivered', unit, outcomes }),
      (error) => ({ type: 'delivery-failed', unit, error: describeError(error), ...(error instanceof DeadlineError ? { timeout: { action, timeoutMs } } : {}) }),
      () => this.deliveries.delete(unit),
    );
  }

  private setRetry({ unit, message, retryInSeconds }: EffectOf<'set-retry'>): void {
    const { messageId } = message;
    this.settle(
      () => this.changeVisibility(message, retryInSeconds),
      () => ({ type: 'retry-set', unit, messageId }),
      (error) => ({ type: 'retry-not-set', unit, messageId, error: describeError(error) }),
    );
  }

  private extend({ unit, message, visibilityTimeoutSeconds }: EffectOf<'extend'>): void {
    const { messageId } = message;
    // Bounded by the tick too: an extension that lands after the next tick is useless.
    const timeoutMs = Math.min(this.deps.sqsCall.timeoutMs, extendIntervalMs(visibilityTimeoutSeconds) ?? Infinity);
    this.settle(
      () => this.changeVisibility(message, visibilityTimeoutSeconds, timeoutMs),
      () => ({ type: 'extended', unit, messageId }),
      (error) => ({ type: 'extend-failed', unit, messageId, error: describeError(error) }),
    );
  }

  private release(messages: readonly ReceivedMessage[]): void {
    for (const message of messages) {
      const { messageId } = message;
      this.settle(
        () => this.changeVisibility(message, 0, this.deps.releaseTimeoutMs, 'releaseTimeoutSeconds'),
        () => ({ type: 'released', messageId }),
        (error) => ({ type: 'release-failed', messageId, error: describeError(error) }),
      );
    }
  }

  private changeVisibility(message: ReceivedMessage, seconds: number, timeoutMs?: number, setBy?: string): Promise<void> {
    return this.bounded(
      'visibility',
      'sqs:ChangeMessageVisibility',
      [message.messageId],
      (signal) => this.deps.queue.changeVisibility(message.receiptHandle, seconds, signal),
      timeoutMs,
      setBy,
    );
  }

  private delete({ unit, message }: EffectOf<'delete'>): void {
    const { messageId, receiptHandle } = message;
    this.deleting.set(receiptHandle, messageId);
    this.settle(
      () => this.deleter.delete(receiptHandle),
      (result) => (result.deleted ? { type: 'deleted', unit, messageId } : { type: 'delete-failed', unit, messageId, error: result.error ?? 'delete failed' }),
      (error) => ({ type: 'delete-failed', unit, messageId, error: describeError(error) }),
      () => this.deleting.delete(receiptHandle),
    );
  }

  /** Runs `work` (a throw becomes a rejection) and feeds the machine what came of it. */
  private settle<T>(work: () => Promise<T>, ok: (value: T) => MachineEvent, failed: (error: unknown) => MachineEvent, done?: () => void): void {
    Promise.resolve()
      .then(work)
      .then(
        (value) => {
          done?.();
          this.dispatch(ok(value));
        },
        (error: unknown) => {
          done?.();
          this.dispatch(failed(error));
        },
      )
      .catch((error: unknown) => this.deps.logger.error({ error: describeError(error) }, 'bridge step failed unexpectedly'));
  }

  /** Runs one SQS call of `stage` with its bound; a timeout is reported and rethrown. */
  private async bounded<T>(
    stage: BridgeStage,
    action: string,
    messageIds: string[],
    work: (signal: AbortSignal) => Promise<T>,
    timeoutMs = this.deps.sqsCall.timeoutMs,
    setBy = this.deps.sqsCall.setBy,
  ): Promise<T> {
    try {
      return await withDeadline(action, timeoutMs, work, { setBy, signal: this.closing.signal });
    } catch (error) {
      if (error instanceof DeadlineError && !this.closing.signal.aborted) {
        reportTimeout(this.deps, { stage, action, timeoutMs, messageIds, error: describeError(error) });
      }
      throw error;
    }
  }

  private abort(controllers: Map<number, AbortController>, ids: readonly number[], reason: string): void {
    for (const id of ids) {
      controllers.get(id)?.abort(new Error(reason));
      controllers.delete(id);
    }
  }

  private arm({ timer, ms }: EffectOf<'arm'>): void {
    const key = timerKey(timer);
    this.disarm(key);
    this.timers.set(
      key,
      this.deps.clock.setTimeout(() => {
        this.timers.delete(key);
        this.dispatch({ type: 'timer', timer });
      }, ms),
    );
  }

  private disarm(key: string): void {
    const armed = this.timers.get(key);
    if (armed !== undefined) this.deps.clock.clearTimeout(armed);
    this.timers.delete(key);
  }

  /** Cancels whatever is still out, closes what the bridge serves, and tells the machine. */
  private close(): void {
    for (const key of [...this.timers.keys()]) this.disarm(key);
    this.closing.abort(new Error('the bridge stopped'));
    const closed = this.deps.close?.() ?? Promise.resolve();
    closed
      .catch((error: unknown) => this.deps.logger.warn({ error: describeError(error) }, 'could not close the metrics server'))
      .then(() => this.dispatch({ type: 'closed' }));
  }
}
