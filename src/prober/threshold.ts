/**
 * The per-target threshold as a pure reducer: consecutive failures turn a target unhealthy,
 * consecutive successes turn it healthy again. A check the observer cannot vouch for (it ran
 * while the observer was degraded, or its own timer fired far too late) is `inconclusive`: it
 * counts neither way, so a stalled event loop cannot add up to a verdict.
 */
import type { CheckResult } from './types.js';

/** What one check of a target said. */
export type CheckOutcome = { kind: 'ok' } | { kind: 'failed'; error: string } | { kind: 'inconclusive'; why: string };

/** What the prober holds for one target between checks. */
export interface ThresholdState {
  verdict: 'healthy' | 'unhealthy';
  failures: number;
  successes: number;
  lastError: string;
}

/** The thresholds (the prober's options of the same names). */
export interface Thresholds {
  unhealthyThreshold: number;
  healthyThreshold: number;
}

/** Targets start healthy: nothing is sent for a target that never failed. */
export const initialThreshold: ThresholdState = { verdict: 'healthy', failures: 0, successes: 0, lastError: '' };

/** The next state, and the verdict it crossed to, if it crossed one. */
export function stepThreshold(
  state: ThresholdState,
  outcome: CheckOutcome,
  t: Thresholds,
): { state: ThresholdState; crossed?: 'healthy' | 'unhealthy' } {
  if (outcome.kind === 'inconclusive') return { state };
  const next: ThresholdState =
    outcome.kind === 'ok'
      ? { ...state, successes: state.successes + 1, failures: 0 }
      : { ...state, failures: state.failures + 1, successes: 0, lastError: outcome.error };
  if (next.verdict === 'healthy' && next.failures >= t.unhealthyThreshold) return { state: { ...next, verdict: 'unhealthy' }, crossed: 'unhealthy' };
  if (next.verdict === 'unhealthy' && next.successes >= t.healthyThreshold) return { state: { ...next, verdict: 'healthy' }, crossed: 'healthy' };
  return { state: next };
}

/**
 * What a check's result says. How late a timed-out check's own timer fired (`overrunMs`) decides
 * whether the observer can vouch for it: beyond half the timeout (at least 20 ms) the answer may
 * have sat unread in the socket while the loop was busy, so the check is inconclusive and counts
 * neither way.
 */
export function outcomeOf(result: CheckResult, ms: number, timeoutMs: number): { outcome: CheckOutcome; overrunMs: number } {
  if (result.ok) return { outcome: { kind: 'ok' }, overrunMs: 0 };
  const overrunMs = result.error?.startsWith('timeout') ? Math.max(0, ms - timeoutMs) : 0;
  if (overrunMs > Math.max(20, timeoutMs / 2)) return { outcome: { kind: 'inconclusive', why: `the check's timer fired ${Math.round(overrunMs)} ms late` }, overrunMs };
  return { outcome: { kind: 'failed', error: result.error ?? 'failed' }, overrunMs };
}

/** Why a target holds its verdict, for the signal's detail. */
export function thresholdDetail(s: ThresholdState): string {
  return s.verdict === 'unhealthy' ? `${s.failures} consecutive failures: ${s.lastError}` : `${s.successes} consecutive successes`;
}

/**
 * Whether the verdict should be sent now: it differs from the last one the sink accepted, or it
 * is unhealthy and was last sent `repeatUnhealthyAfterMs` ago (so a quorum can form after an
 * observer restarts, and work the healer held is retried). Unhealthy verdicts are withheld while
 * the observer is degraded; healthy ones still go.
 */
export function shouldSend(input: {
  verdict: 'healthy' | 'unhealthy';
  reported: 'healthy' | 'unhealthy';
  reportedAtMs: number;
  nowMs: number;
  repeatUnhealthyAfterMs: number;
  degraded: boolean;
}): 'send' | 'withhold' | 'none' {
  const repeat =
    input.verdict === 'unhealthy' && input.repeatUnhealthyAfterMs > 0 && input.nowMs - input.reportedAtMs >= input.repeatUnhealthyAfterMs;
  if (input.verdict === input.reported && !repeat) return 'none';
  if (input.verdict === 'unhealthy' && input.degraded) return 'withhold';
  return 'send';
}
