/**
 * The observer's self-check, a pure reducer: before it speaks, an observer asks whether it can
 * trust its own eyes. It is degraded when
 *
 * - `loopLate`: its event loop (or a check's own timer) ran late by more than `maxLatenessMs`: a
 *   busy machine makes healthy targets look like timeouts;
 * - `cutOff`: every target's latest check went unanswered — timed out or unreachable, not a status
 *   or a refused connection, which prove the network works (at least `cutOffMinTargets` of them):
 *   a whole group silent at once is likelier the observer's network than the group;
 * - `referenceFailed`: a reference check (something that should always answer) failed.
 *
 * While degraded, the prober withholds unhealthy verdicts (healthy ones still go) and says so.
 * It recovers only after the condition has been clear for `recoverAfterMs`, long enough for the
 * targets' own thresholds to see them healthy again, so nothing stale is sent on recovery.
 */

/** Why an observer is degraded (a key, as the policy's reasons are). */
export type DegradedReason = 'loopLate' | 'cutOff' | 'referenceFailed';

export const degradedReasons: Record<DegradedReason, string> = {
  loopLate: "the observer's own event loop or check timers ran late: a busy machine is not evidence",
  cutOff: "every target's latest check went unanswered: the observer is likelier cut off than the whole group dead",
  referenceFailed: 'the reference check failed: the observer cannot reach what should always answer',
};

/** The self-check's settings. */
export interface SelfCheckOptions {
  maxLatenessMs: number;
  cutOffMinTargets: number;
  recoverAfterMs: number;
}

/** What the observer saw of itself at `nowMs`. */
export interface SelfCheckInput {
  nowMs: number;
  /** The worst lateness of its loop or of a check's timer since the last input. */
  latenessMs: number;
  targets: number;
  /** Targets whose latest check failed. */
  failing: number;
  /** Undefined: no reference check configured (or none ran yet). */
  referenceOk?: boolean;
}

export interface SelfCheckState {
  degraded: boolean;
  reasons: DegradedReason[];
  /** When the current degraded spell began. */
  sinceMs?: number;
  /** When the condition was last seen, while degraded (recovery counts from here). */
  lastBadMs?: number;
}

export const initialSelfCheck: SelfCheckState = { degraded: false, reasons: [] };

/** The reasons the input alone gives. */
export function conditionOf(input: SelfCheckInput, o: SelfCheckOptions): DegradedReason[] {
  const reasons: DegradedReason[] = [];
  if (input.latenessMs > o.maxLatenessMs) reasons.push('loopLate');
  if (input.targets >= o.cutOffMinTargets && input.failing >= input.targets) reasons.push('cutOff');
  if (input.referenceOk === false) reasons.push('referenceFailed');
  return reasons;
}

/** The next state and whether the observer just became degraded or recovered. */
export function stepSelfCheck(
  state: SelfCheckState,
  input: SelfCheckInput,
  o: SelfCheckOptions,
): { state: SelfCheckState; changed?: 'degraded' | 'recovered' } {
  const reasons = conditionOf(input, o);
  if (reasons.length > 0) {
    if (!state.degraded) return { state: { degraded: true, reasons, sinceMs: input.nowMs, lastBadMs: input.nowMs }, changed: 'degraded' };
    const merged = [...new Set([...state.reasons, ...reasons])];
    return { state: { ...state, reasons: merged, lastBadMs: input.nowMs } };
  }
  if (!state.degraded) return { state };
  if (input.nowMs - (state.lastBadMs ?? input.nowMs) >= o.recoverAfterMs) return { state: initialSelfCheck, changed: 'recovered' };
  return { state };
}

/** The default settings for a prober's interval and thresholds. */
export function selfCheckDefaults(p: { intervalMs: number; timeoutMs: number; healthyThreshold: number }): SelfCheckOptions {
  return {
    // A whole interval late (at least 250 ms): the loop itself stalls, not one slow answer. A single
    // check whose own timer fired late is judged on its own (inconclusive, see the prober).
    maxLatenessMs: Math.max(250, p.intervalMs),
    cutOffMinTargets: 2,
    // A target needs healthyThreshold successes to turn healthy again; one interval more of slack.
    recoverAfterMs: p.intervalMs * (p.healthyThreshold + 1),
  };
}
