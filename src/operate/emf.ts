/**
 * The healer's decision metrics, one set of names everywhere:
 * - in Lambda, CloudWatch embedded metric format (EMF) lines on stdout, which CloudWatch Logs turns
 *   into metrics with no API call: namespace `autoheal`, metric `Decisions` (Count) and `DecisionMs`
 *   (Milliseconds), dimensions `Action` (mark, skip, failed) and `Reason` (the reason key), and
 *   `Action` alone;
 * - in long-running commands (`bridge --local`), the same as Prometheus metrics
 *   (./decision-metrics.ts): `autoheal_decisions_total{action, reason}` and `autoheal_decision_ms{action, reason}`.
 * This file imports nothing heavy: it is in the Lambda bundle.
 */
import type { TypedEvents } from '../events.js';
import type { HealerEvents, VerdictRecord } from '../healer/types.js';

export const metricsNamespace = 'autoheal';
export const decisionMetric = { count: 'Decisions', latency: 'DecisionMs', action: 'Action', reason: 'Reason' } as const;

/** The Action dimension of a record: the verdict's action, or `failed` when the work failed. */
export function actionOf(r: VerdictRecord): 'mark' | 'skip' | 'failed' {
  return r.error !== undefined ? 'failed' : r.verdict.action;
}

/** One EMF document for one decision. */
export function emfDecision(r: VerdictRecord, nowMs: number): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: nowMs,
      CloudWatchMetrics: [
        {
          Namespace: metricsNamespace,
          // By action and reason (the dashboard), and by action alone (an alarm on failed decisions).
          Dimensions: [[decisionMetric.action, decisionMetric.reason], [decisionMetric.action]],
          Metrics: [
            { Name: decisionMetric.count, Unit: 'Count' },
            { Name: decisionMetric.latency, Unit: 'Milliseconds' },
          ],
        },
      ],
    },
    [decisionMetric.action]: actionOf(r),
    [decisionMetric.reason]: r.verdict.reason,
    [decisionMetric.count]: 1,
    [decisionMetric.latency]: r.ms,
    instanceId: r.signal.instanceId,
    ...(r.groupName ? { group: r.groupName } : {}),
  };
}

/** Writes one EMF line per decision with `write` (Lambda: stdout). Returns the function that unsubscribes. */
export function emitEmfDecisions(events: TypedEvents<HealerEvents>, write: (line: string) => void, clock: () => number = Date.now): () => void {
  const one = (r: VerdictRecord): void => write(`${JSON.stringify(emfDecision(r, clock()))}\n`);
  const offs = [events.on('healer:verdict:marked', one), events.on('healer:verdict:skipped', one), events.on('healer:mark:failed', one)];
  return () => offs.forEach((off) => off());
}

