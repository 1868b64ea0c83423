/**
 * Why the policy decided what it decided. One const object so JSON, logs, the timeline, notices,
 * metrics and the README agree on the words: the key (`budgetSpent`) is what every machine-read
 * output carries; the value is the sentence a person reads beside it.
 */
export const Reason = {
  /** The signal is unhealthy and every rail passed. */
  unhealthy: 'marked Unhealthy: the evidence says so and every rail passed',
  notInGroup: 'the instance is in no Auto Scaling group',
  notOptedIn: 'the group is not managed (no opt-in tag, not named)',
  paused: 'healing of the group is paused by its autoheal:paused tag',
  notInService: 'the instance is not InService',
  alreadyUnhealthy: 'the instance is already Unhealthy',
  signalHealthy: 'the evidence says healthy',
  duplicate: 'the instance was marked moments ago',
  suppressed: 'healing of the instance is suppressed by its autoheal:suppressed-until tag',
  processesSuspended: 'the group suspended a process a mark needs (Launch, Terminate or ReplaceUnhealthy)',
  inGracePeriod: 'the instance is in its health check grace period',
  stale: 'the evidence is old and no longer holds when re-checked',
  awaitingQuorum: 'fewer observers than the quorum agree that the instance is down',
  unknownObserver: 'the verdict is not from an observer whose votes count (AUTOHEAL_OBSERVERS), so it is no vote',
  /** A backlog held the verdict past the quorum window: it is not counted as a vote, and the observer's next verdict is. */
  voteExpired: 'the probe verdict is older than the quorum window: it no longer counts as a vote',
  frozen: 'marking is frozen: too much of the group was reported down at once (a broken observer?)',
  loopBreaker: 'marking is held: replacements keep failing soon after they launch',
  frozenUntilResume: 'marking is held until an operator resumes: the group froze again soon after each freeze lifted, so the evidence is wrong, not the fleet',
  rateLimited: 'the group reached its limit of marks in the rate window',
  budgetSpent: 'the group\'s unhealthy budget is spent',
  /**
   * Not a policy decision: the healer could not gather what the policy needs (the fleet, the
   * alarm state or the rails' ledger could not be read), or could not commit what it decided (the
   * ledger kept changing). The record carries the error; the work may be retried.
   */
  unavailable: 'could not decide: the fleet, the instance\'s facts, the alarm or the rails\' ledger could not be read (or the ledger not written)',
} as const;

export type ReasonKey = keyof typeof Reason;

/**
 * Skip reasons whose instance may still need healing once the rail lets go: the evidence is
 * kept and decided again (the scheduled run on AWS, the next probe verdict locally).
 */
export const heldReasons = ['inGracePeriod', 'awaitingQuorum', 'voteExpired', 'frozen', 'loopBreaker', 'frozenUntilResume', 'rateLimited', 'budgetSpent', 'paused', 'suppressed', 'processesSuspended'] as const satisfies readonly ReasonKey[];

/** Holds a person should hear about: they stop healing of a whole group until something changes. */
export const noticeReasons = ['budgetSpent', 'frozen', 'loopBreaker', 'frozenUntilResume', 'paused', 'rateLimited'] as const satisfies readonly ReasonKey[];

/** A decision about one signal: a value, never an exception. */
export interface Verdict {
  action: 'mark' | 'skip';
  reason: ReasonKey;
  /** A short explanation with the numbers behind the decision (budget 2 of 2, grace ends in 41 s). */
  detail?: string;
}
