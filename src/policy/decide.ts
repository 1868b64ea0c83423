/**
 * The policy: one verdict for one signal, from everything passed in. Pure: no I/O, no clock,
 * no AWS. The healer gathers the views and the memory of earlier marks; this decides.
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import type { AlarmState, HealthSignal } from '../signals/types.js';
import { unhealthyBudget } from './budget.js';
import type { PolicyOptions } from './options.js';
import { markLimit, processesAMarkNeeds, tagUntil, type Hold } from './rails.js';
import type { Verdict } from './types.js';

export { unhealthyBudget } from './budget.js';

/** An alarm's state re-read from CloudWatch; `undefined` when the alarm no longer exists. */
export type RecheckedAlarmState = AlarmState | undefined;

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
  /** Instances of the group that are marked Unhealthy and not yet replaced, this batch's marks included (see budgetInUse). */
  unhealthyInGroup: number;
  /** Marks of the group within the rate window (see rails.ts). Default 0. */
  marksInWindow?: number;
  /** A freeze or loop-breaker hold in force on the group (see rails.ts). */
  hold?: Hold;
  /** For probe evidence: the observers that agree the instance is down now (see quorum.ts). */
  agreeingObservers?: readonly string[];
}

/** Whether autoheal manages the group: named in the options, or tagged with the opt-in tag. */
export function isOptedIn(group: GroupView, options: PolicyOptions): boolean {
  return options.groups.includes(group.name) || group.tags[options.optInTagKey] === options.optInTagValue;
}

/** Evidence stamped this far in the future is not believed without a re-check (clock skew allowance). */
export const futureSkewMs = 5_000;

/**
 * Whether the evidence must be re-checked before acting: older than staleAfterMs, stamped in the
 * future, or with a time that cannot be read. Verifying costs one call; acting on a stale alarm
 * costs an instance.
 */
export function isStale(signal: HealthSignal, nowMs: number, options: PolicyOptions): boolean {
  const ageMs = nowMs - Date.parse(signal.observedAt);
  return !(ageMs <= options.staleAfterMs && ageMs >= -futureSkewMs);
}

const secondsUntil = (untilMs: number, nowMs: number) => `${Math.ceil((untilMs - nowMs) / 1000)} s`;

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
 * 4. paused (group tag): the operator said so; that is the reason they want to read.
 * 5. not InService: Pending, Standby, Terminating… instances are the group's own business.
 * 6. already Unhealthy: the group is replacing it; marking again changes nothing.
 * 7. duplicate: we marked it moments ago and the fleet's view has not caught up (or dry-run
 *    never marked it). After the fleet's facts, because those are the better explanation.
 * 8. suppressed (instance tag): a deploy or maintenance of that one instance.
 * 9. processes suspended: with Launch, Terminate or ReplaceUnhealthy suspended a mark is
 *    useless (never acted on) or harmful (terminated, never replaced).
 * 10. in grace period (when the launch time is known): a fresh instance may fail checks while
 *    it boots; the group itself ignores health during the grace period.
 * 11. stale (old, or stamped in the future) and no longer in ALARM when re-checked:
 *    verify-before-act. Late because the caller pays a CloudWatch call for it.
 * 12. awaiting quorum (probe evidence): one observer alone never marks.
 * 13. frozen / loop breaker: a hold on the whole group (suspected observer, failing replacements).
 * 14. rate limited: the group's marks in the rate window.
 * 15. budget spent: last, because it is the only check that depends on the other instances' state
 *    now. A skip for any other reason must not be blamed on the budget, and only a mark that
 *    would otherwise happen may use it. Many failures at once smell like a broken observer.
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

  const paused = tagUntil(group.tags[options.pauseTagKey]);
  if (paused.active && (paused.untilMs === undefined || nowMs < paused.untilMs)) {
    const value = group.tags[options.pauseTagKey];
    return skip(
      'paused',
      paused.unreadable
        ? `tag ${options.pauseTagKey}="${value}" is neither true nor an ISO 8601 time: paused until it is fixed or removed`
        : paused.untilMs === undefined
          ? `tag ${options.pauseTagKey}=true: paused until the tag is removed`
          : `tag ${options.pauseTagKey}: paused for ${secondsUntil(paused.untilMs, nowMs)} more`,
    );
  }

  if (instance.lifecycleState !== 'InService') return skip('notInService', `lifecycle state ${instance.lifecycleState}`);

  if (instance.healthStatus === 'Unhealthy') return skip('alreadyUnhealthy');

  if (input.duplicate) return skip('duplicate', `already marked within ${Math.round(options.duplicateWindowMs / 1000)} s`);

  const suppressed = tagUntil(instance.tags?.[options.suppressTagKey]);
  if (suppressed.active && (suppressed.untilMs === undefined || nowMs < suppressed.untilMs)) {
    return skip(
      'suppressed',
      suppressed.untilMs === undefined
        ? `tag ${options.suppressTagKey} is not an ISO 8601 time: suppressed until it is fixed or removed`
        : `tag ${options.suppressTagKey}: suppressed for ${secondsUntil(suppressed.untilMs, nowMs)} more`,
    );
  }

  const suspended = processesAMarkNeeds.filter((p) => group.suspendedProcesses.includes(p));
  if (suspended.length > 0) return skip('processesSuspended', `${group.name} suspended ${suspended.join(', ')}`);

  if (instance.launchedAt) {
    const graceEndsMs = instance.launchedAt.getTime() + group.healthCheckGracePeriodSeconds * 1000;
    if (nowMs < graceEndsMs) return skip('inGracePeriod', `grace period of ${group.healthCheckGracePeriodSeconds} s ends in ${secondsUntil(graceEndsMs, nowMs)}`);
  }

  if (input.recheck && input.recheck.state !== 'ALARM') {
    const alarm = signal.alarmName ? `alarm ${signal.alarmName}` : 'the alarm';
    return skip('stale', `${alarm} is ${input.recheck.state ?? 'deleted'} now`);
  }

  if (signal.source === 'probe') {
    const agree = input.agreeingObservers ?? [];
    if (agree.length < options.probeQuorum) {
      return skip(
        'awaitingQuorum',
        `${agree.length} of ${options.probeQuorum} observers agree within ${Math.round(options.quorumWindowMs / 1000)} s${agree.length > 0 ? ` (${agree.join(', ')})` : ''}`,
      );
    }
  }

  if (input.hold) return skip(input.hold.reason, `${input.hold.detail}; held for ${secondsUntil(input.hold.untilMs, nowMs)} more, or until \`autoheal resume ${group.name}\``);

  const limit = markLimit(group.desiredCapacity, options);
  const marks = input.marksInWindow ?? 0;
  if (marks >= limit) {
    return skip('rateLimited', `${marks} marks within ${Math.round(options.markRateWindowMs / 60_000)} min, limit ${limit}`);
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
    detail: `budget ${input.unhealthyInGroup + 1} of ${budget}${input.recheck ? ', re-checked: still ALARM' : ''}${signal.source === 'probe' ? `, ${input.agreeingObservers?.length ?? 0} observers agree` : ''}`,
  };
}
