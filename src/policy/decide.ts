/**
 * The policy: one verdict for one signal, from everything passed in. Pure: no I/O, no clock,
 * no AWS. The healer gathers the views and the memory of earlier marks; this decides.
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import type { HealthSignal } from '../signals/types.js';
import type { PolicyOptions } from './options.js';
import type { Verdict } from './types.js';

/** An alarm's state re-read from CloudWatch; `undefined` when the alarm no longer exists. */
export type RecheckedAlarmState = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA' | undefined;

/** Everything {@link decide} needs, gathered by the caller. */
export interface DecideInput {
  signal: HealthSignal;
  /** The instance as the fleet sees it now; absent when it is in no group (or gone). */
  instance?: InstanceView;
  /** The instance's group; absent when it is in no group (or the group is gone). */
  group?: GroupView;
  /** Milliseconds since the epoch. */
  nowMs: number;
  options: PolicyOptions;
  /**
   * Present only when the evidence was stale and its alarm was re-read: `{ state }` with the state
   * now. Absent means "not re-checked" (fresh evidence, or no way to re-check it).
   */
  recheck?: { state: RecheckedAlarmState };
  /** The instance was already marked within the duplicate window (by this healer). */
  duplicate: boolean;
  /** Instances of the group that are marked Unhealthy and not yet replaced, this batch's marks included. */
  unhealthyInGroup: number;
}

/** The most instances of a group that may be Unhealthy and not yet replaced at once: max(1, ⌊share × desired⌋). */
export function unhealthyBudget(desiredCapacity: number, maxUnhealthyShare: number): number {
  return Math.max(1, Math.floor(maxUnhealthyShare * desiredCapacity));
}

/** Whether autoheal manages the group: named in the options, or tagged with the opt-in tag. */
export function isOptedIn(group: GroupView, options: PolicyOptions): boolean {
  return options.groups.includes(group.name) || group.tags[options.optInTagKey] === options.optInTagValue;
}

/**
 * Whether the evidence is old enough to be re-checked before acting. Evidence whose time cannot
 * be read counts as stale: verifying costs one call, acting on a stale alarm costs an instance.
 */
export function isStale(signal: HealthSignal, nowMs: number, options: PolicyOptions): boolean {
  const ageMs = nowMs - Date.parse(signal.observedAt);
  return !(ageMs <= options.staleAfterMs);
}

const skip = (reason: Verdict['reason'], detail?: string): Verdict => ({
  action: 'skip',
  reason,
  ...(detail !== undefined ? { detail } : {}),
});

/**
 * Decides one signal. The checks run in this order, and the first that applies names the reason:
 *
 * 1. signal says healthy: nothing to heal, whatever the fleet looks like (so healthy signals
 *    need no views at all).
 * 2. not in a group: without a group there is nothing that would replace the instance.
 * 3. group not opted in: a group autoheal does not manage is none of its business; this comes
 *    before any instance state so the operator reads the reason that matters to them.
 * 4. not InService: Pending, Standby, Terminating… instances are the group's own business.
 * 5. already Unhealthy: the group is replacing it; marking again changes nothing.
 * 6. duplicate: we marked it moments ago and the fleet's view has not caught up (or dry-run
 *    never marked it). After the fleet's facts, because those are the better explanation.
 * 7. in grace period (when the launch time is known): a fresh instance may fail checks while
 *    it boots; the group itself ignores health during the grace period.
 * 8. stale and no longer in ALARM when re-checked: verify-before-act. Late in the order because
 *    the caller has to pay a CloudWatch call for it, and only a would-be mark is worth that.
 * 9. budget spent: last, because it is the only check that depends on the other instances. A
 *    skip for any other reason must not be blamed on the budget, and only a mark that would
 *    otherwise happen may use it. Many failures at once smell like a broken observer.
 */
export function decide(input: DecideInput): Verdict {
  const { signal, instance, group, nowMs, options } = input;

  if (signal.state === 'healthy') return skip('signalHealthy', signal.reason);

  if (!instance || !group) {
    return skip('notInGroup', instance ? `group ${instance.groupName} not found` : 'the instance is in no Auto Scaling group');
  }

  if (!isOptedIn(group, options)) {
    return skip('notOptedIn', `${group.name} lacks tag ${options.optInTagKey}=${options.optInTagValue} and is not named in groups`);
  }

  if (instance.lifecycleState !== 'InService') return skip('notInService', `lifecycle state ${instance.lifecycleState}`);

  if (instance.healthStatus === 'Unhealthy') return skip('alreadyUnhealthy');

  if (input.duplicate) return skip('duplicate', `already marked within ${Math.round(options.duplicateWindowMs / 1000)} s`);

  if (instance.launchedAt) {
    const graceEndsMs = instance.launchedAt.getTime() + group.healthCheckGracePeriodSeconds * 1000;
    if (nowMs < graceEndsMs) return skip('inGracePeriod', `grace period ends in ${Math.ceil((graceEndsMs - nowMs) / 1000)} s`);
  }

  if (input.recheck && input.recheck.state !== 'ALARM') {
    const alarm = signal.alarmName ? `alarm ${signal.alarmName}` : 'the alarm';
    return skip('stale', `${alarm} is ${input.recheck.state ?? 'deleted'} now`);
  }

  const budget = unhealthyBudget(group.desiredCapacity, options.maxUnhealthyShare);
  if (input.unhealthyInGroup >= budget) {
    return skip(
      'budgetSpent',
      `${input.unhealthyInGroup} of budget ${budget} Unhealthy or not yet replaced (${options.maxUnhealthyShare} of desired ${group.desiredCapacity})`,
    );
  }

  return {
    action: 'mark',
    reason: 'unhealthy',
    detail: `budget ${input.unhealthyInGroup + 1} of ${budget}${input.recheck ? ', re-checked: still ALARM' : ''}`,
  };
}
