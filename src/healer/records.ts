/**
 * The last stage of the healer: what it did with each signal, as a {@link VerdictRecord}, logged
 * and emitted. Marks and failures are always logged; skips up to maxItemsPerEvent per call, then
 * counted by reason, so a body of a million records writes a hundred lines and a count.
 */
import { describeError, isRetryable } from '../errors.js';
import type { TypedEvents } from '../events.js';
import { maxItemsPerEvent, type Logger } from '../log.js';
import type { Verdict } from '../policy/types.js';
import type { HealthSignal } from '../signals/types.js';
import { overrideDipText } from '../fleet/replacement.js';
import type { HealerEvents, VerdictRecord } from './types.js';

/** The record of one signal's verdict; `failure` is the error of work that failed. */
export function verdictRecord(
  signal: HealthSignal,
  verdict: Verdict,
  options: { groupName?: string | undefined; dryRun: boolean; startedMs: number; failure?: unknown; replacementOverridden?: boolean },
): VerdictRecord {
  const { failure } = options;
  return {
    signal,
    verdict,
    ...(options.groupName !== undefined ? { groupName: options.groupName } : {}),
    dryRun: options.dryRun && verdict.action === 'mark',
    ...(options.replacementOverridden && verdict.action === 'mark' ? { replacementOverridden: true as const } : {}),
    ...(failure !== undefined ? { error: describeError(failure), retryable: isRetryable(failure) } : {}),
    ms: Math.round((performance.now() - options.startedMs) * 10) / 10,
  };
}

/** Logs and emits one record; a skip is only emitted (not logged) when `quiet`. */
function report(logger: Logger, events: TypedEvents<HealerEvents>, r: VerdictRecord, quiet: boolean): void {
  const line = {
    instanceId: r.signal.instanceId,
    group: r.groupName ?? null,
    action: r.verdict.action,
    reason: r.verdict.reason,
    detail: r.verdict.detail ?? null,
    source: r.signal.source,
    eventId: r.signal.eventId,
    ms: r.ms,
    ...(r.signal.observer ? { observer: r.signal.observer } : {}),
    ...(r.dryRun ? { dryRun: true } : {}),
    ...(r.replacementOverridden ? { capacity: overrideDipText } : {}),
    ...(r.signal.recordId ? { recordId: r.signal.recordId } : {}),
  };
  if (r.error !== undefined) {
    logger.error({ ...line, error: r.error, retryable: r.retryable }, 'verdict: work failed');
    events.emit('healer:mark:failed', r);
  } else {
    if (!quiet) logger.info(line, 'verdict');
    events.emit(r.verdict.action === 'mark' ? 'healer:verdict:marked' : 'healer:verdict:skipped', r);
  }
}

/** Logs and emits the records of one call, in order, skips capped. */
export function reportAll(logger: Logger, events: TypedEvents<HealerEvents>, records: readonly VerdictRecord[]): void {
  let skipsLogged = 0;
  const skipsOmitted: Record<string, number> = {};
  for (const r of records) {
    const quiet = r.verdict.action === 'skip' && r.error === undefined && skipsLogged >= maxItemsPerEvent;
    if (quiet) skipsOmitted[r.verdict.reason] = (skipsOmitted[r.verdict.reason] ?? 0) + 1;
    else if (r.verdict.action === 'skip' && r.error === undefined) skipsLogged++;
    report(logger, events, r, quiet);
  }
  const omitted = Object.values(skipsOmitted).reduce((a, b) => a + b, 0);
  if (omitted > 0) logger.info({ omitted, byReason: skipsOmitted }, 'verdicts: more skips, not logged one by one');
}
