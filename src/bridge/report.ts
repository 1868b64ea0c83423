/**
 * Says what the machine decided: each {@link Report} becomes its metrics, its log line and its
 * typed event, here and nowhere else, so the shell only carries out effects and the machine only
 * decides. Listeners cannot break the loop: TypedEvents catches what they throw.
 */
import type { TypedEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { BridgeClock } from './clock.js';
import type { BridgeStage, Report } from './machine.js';
import type { BridgeMetricsRecorder } from './metrics.js';
import type { ReceivedMessage } from './queue.js';
import type { BridgeEvents, BridgeSummary } from './types.js';

export interface ReporterDeps {
  logger: Logger;
  metrics: BridgeMetricsRecorder;
  events: TypedEvents<BridgeEvents>;
  clock: BridgeClock;
  /** Named in the log line of a failed message. */
  targetDescription: string;
  /** The bridge has stopped: the summary the handle's promise resolves with. */
  onStopped(summary: BridgeSummary): void;
}

/** Said with a message the target refused for want of a permission: retrying alone cannot help. */
const notRetryableHint =
  'retrying cannot help until this is fixed (the error names the IAM action to allow); the queue dead-letters the message after maxReceiveCount';

/** Counts, logs and announces a stage that passed its bound. */
export function reportTimeout(
  deps: Pick<ReporterDeps, 'logger' | 'metrics' | 'events'>,
  timeout: { stage: BridgeStage; action: string; timeoutMs: number; messageIds: string[]; error: string },
): void {
  const { stage, action, timeoutMs, messageIds } = timeout;
  deps.metrics.stageTimedOut(stage);
  deps.logger.warn({ stage, action, timeoutMs, messageIds, error: timeout.error }, `bridge stage timed out: ${stage}`);
  deps.events.emit('bridge:stage:timedout', { stage, action, timeoutMs, messageIds });
}

/** The function that says each report. */
export function createReporter(deps: ReporterDeps): (report: Report) => void {
  const { logger, metrics, events } = deps;
  return (report) => {
    switch (report.type) {
      case 'received':
        if (report.count > 0) metrics.received(report.count);
        events.emit('bridge:receive:succeeded', { count: report.count });
        return;
      case 'receive-failed':
        metrics.receiveFailed();
        logger.warn({ error: report.error, retryInMs: report.retryInMs }, 'receive failed');
        events.emit('bridge:receive:failed', { error: report.error, retryInMs: report.retryInMs });
        return;
      case 'stage-timed-out':
        reportTimeout(deps, report);
        return;
      case 'loop-restarted':
        metrics.loopRestarted();
        logger.warn({ reason: report.reason, restarts: report.restarts }, 'receive loop restarted');
        events.emit('bridge:loop:restarted', { reason: report.reason, restarts: report.restarts });
        return;
      case 'in-flight':
        metrics.inFlight(report.delta);
        return;
      case 'outcome':
        reportOutcome(deps, report);
        return;
      case 'retry-not-set':
        // The message still comes back, after the visibility timeout instead of the backoff.
        logger.warn({ messageId: report.messageId, error: report.error }, 'could not set the retry backoff');
        return;
      case 'visibility-extended':
        events.emit('bridge:visibility:extended', { messageId: report.messageId, visibilityTimeoutSeconds: report.visibilityTimeoutSeconds });
        return;
      case 'visibility-failed':
        logger.warn({ messageId: report.messageId, error: report.error }, 'could not extend the visibility timeout');
        events.emit('bridge:visibility:failed', { messageId: report.messageId, error: report.error });
        return;
      case 'release-failed':
        logger.warn({ messageId: report.messageId, error: report.error }, 'could not release the message; it returns after its visibility timeout');
        return;
      case 'stopping':
        logger.info({ inFlight: report.inFlight, reason: report.reason }, 'bridge stopping: no more receives; finishing in-flight work');
        return;
      case 'stopped': {
        const summary: BridgeSummary = { reason: report.reason, unfinished: report.unfinished, counts: { ...metrics.counts } };
        logger.info(summary, 'bridge stopped');
        events.emit('bridge:stop:completed', summary);
        deps.onStopped(summary);
        return;
      }
    }
  };
}

/** One message's outcome: counted, logged as one JSON line, announced. */
function reportOutcome(deps: ReporterDeps, report: Extract<Report, { type: 'outcome' }>): void {
  const { message, ms, outcome } = report;
  const base = { messageId: message.messageId, receiveCount: message.receiveCount, ms };
  switch (outcome.status) {
    case 'succeeded':
      deps.metrics.outcome('succeeded', ms);
      logOutcome(deps, message, 'succeeded', ms);
      deps.events.emit('bridge:message:deleted', { ...base, outcome: 'succeeded' });
      return;
    case 'rejected':
      deps.metrics.outcome('rejected', ms);
      logOutcome(deps, message, 'rejected', ms, { reason: outcome.reason });
      deps.events.emit('bridge:message:deleted', { ...base, outcome: 'rejected', reason: outcome.reason });
      return;
    case 'failed':
      deps.metrics.outcome('failed', ms);
      logOutcome(deps, message, 'failed', ms, {
        error: outcome.error,
        retryInSeconds: outcome.retryInSeconds,
        target: deps.targetDescription,
        ...(outcome.retryable === false ? { retryable: false, hint: notRetryableHint } : {}),
      });
      deps.events.emit('bridge:message:failed', { ...base, error: outcome.error, retryInSeconds: outcome.retryInSeconds });
      return;
    case 'released':
      deps.metrics.outcome('released', ms);
      logOutcome(deps, message, 'released', ms);
      deps.events.emit('bridge:message:released', base);
      return;
    case 'delete-failed':
      deps.metrics.outcome('deleteFailed', ms);
      logOutcome(deps, message, 'delete-failed', ms, { error: outcome.error });
      deps.events.emit('bridge:delete:failed', { ...base, error: outcome.error });
      return;
  }
}

/** One JSON line per message and outcome: id, receive count, outcome, ms, the age since it was sent. */
function logOutcome(deps: ReporterDeps, message: ReceivedMessage, outcome: string, ms: number, extra: Record<string, unknown> = {}): void {
  const line = {
    messageId: message.messageId,
    receiveCount: message.receiveCount,
    outcome,
    ms,
    ...(message.sentAtMs !== undefined ? { ageMs: deps.clock.now() - message.sentAtMs } : {}),
    ...extra,
  };
  if (outcome === 'succeeded') deps.logger.info(line, 'message');
  else deps.logger.warn(line, 'message');
}
