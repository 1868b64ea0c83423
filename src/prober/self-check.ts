/**
 * The observer's self-check, a pure reducer: before it speaks, an observer asks whether it can
 * trust its own eyes. It is degraded when
 *
 * - `loopLate`: its event loop (or a check's own timer) ran late by more than `maxLatenessMs`: a
 *   busy machine makes healthy targets look like timeouts;
 * - `cutOff`: every target's latest check went unanswered — timed out or unreachable, not a status
 *   or a refused connection, which prove the network works (at least `cutOffMinTargets` of them):
 *   a whole group silent at once is likelier the observer's network than the group;
 * - `referenceFailed`: a reference check (something that should always answer) failed;
 * - `refused`: every target's latest check was refused or denied, or went unanswered, and at least
 *   one was refused (at least `cutOffMinTargets` of them): a firewall on the observer's own host
 *   refuses everything alike (ECONNREFUSED, EACCES, EPERM), a fleet rarely does;
 * - `lossy`: many targets lost a check and then passed again within their latest checks (at least
 *   `lossyMinTargets`, and a quarter of the targets): the observer's path drops checks, so its
 *   failures are not evidence about the instances.
 *
 * While degraded, the prober withholds unhealthy verdicts (healthy ones still go) and says so.
 * It recovers only after the condition has been clear for `recoverAfterMs`, long enough for the
 * targets' own thresholds to see them healthy again, so nothing stale is sent on recovery.
 */

/** Why an observer is degraded (a key, as the policy's reasons are). */
export type DegradedReason = 'loopLate' | 'cutOff' | 'referenceFailed' | 'refused' | 'lossy';

export const degradedReasons: Record<DegradedReason, string> = {
  loopLate: "the observer's own event loop or check timers ran late: a busy machine is not evidence",
  cutOff: "every target's latest check went unanswered: the observer is likelier cut off than the whole group dead",
  referenceFailed: 'the reference check failed: the observer cannot reach what should always answer',
  refused: "every target refused the observer's checks or never answered them: its own host or network likelier refuses than the whole fleet",
  lossy: "many targets lost checks and then answered again: the observer's path drops checks, its failures are not evidence",
};

/** The share of targets that must lose checks and answer again for the path to count as lossy. */
export const lossyShare = 0.25;

/** The self-check's settings. */
export interface SelfCheckOptions {
  maxLatenessMs: number;
  cutOffMinTargets: number;
  /** The fewest targets losing checks for `lossy`. */
  lossyMinTargets: number;
  recoverAfterMs: number;
}

/** What the observer saw of itself at `nowMs`. */
export interface SelfCheckInput {
  nowMs: number;
  /** The worst lateness of its loop or of a check's timer since the last input. */
  latenessMs: number;
  targets: number;
  /** Targets whose latest check went unanswered. */
  failing: number;
  /** Targets whose latest check was refused or denied (absent: none). */
  refused?: number;
  /** Targets that lost a check and passed again within their latest checks (absent: none). */
  recovering?: number;
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
  const refused = input.refused ?? 0;
  if (refused > 0 && input.targets >= o.cutOffMinTargets && input.failing + refused >= input.targets) reasons.push('refused');
  if ((input.recovering ?? 0) >= Math.max(o.lossyMinTargets, Math.ceil(lossyShare * input.targets))) reasons.push('lossy');
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
    lossyMinTargets: 3,
    // A target needs healthyThreshold successes to turn healthy again; one interval more of slack.
    recoverAfterMs: p.intervalMs * (p.healthyThreshold + 1),
  };
}
