/**
 * Why the policy decided what it decided. One const object so logs, tests and the CLI agree
 * on the words; the keys are stable identifiers, the values are what people read.
 */
export const Reason = {
  /** The signal is unhealthy and every rail passed. */
  unhealthy: 'unhealthy',
  notInGroup: 'not in a group',
  notOptedIn: 'group not opted in',
  notInService: 'not InService',
  alreadyUnhealthy: 'already Unhealthy',
  signalHealthy: 'signal says healthy',
  inGracePeriod: 'in grace period',
  stale: 'stale: no longer in ALARM',
  duplicate: 'duplicate',
  budgetSpent: 'budget spent',
  /**
   * Not a policy decision: the healer could not gather what the policy needs (the fleet or the
   * alarm state could not be read). The record carries the error; the work may be retried.
   */
  unavailable: 'could not decide: views unavailable',
} as const;

export type ReasonKey = keyof typeof Reason;

/** A decision about one signal: a value, never an exception. */
export interface Verdict {
  action: 'mark' | 'skip';
  reason: ReasonKey;
  /** A short explanation with the numbers behind the decision (budget 2 of 2, grace ends in 41 s). */
  detail?: string;
}
