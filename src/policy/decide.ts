/**
 * The policy: one verdict for one signal, from everything passed in. Pure: no I/O, no clock,
 * no AWS. The healer gathers the views and the memory of earlier marks; this decides.
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import type { AlarmState, HealthSignal } from '../signals/types.js';
import { unhealthyBudget, type Capacity } from './budget.js';
import type { Hold } from './ledger.js';
import type { PolicyOptions } from './options.js';
import { voteExpired, voteTimeMs } from './quorum.js';
import { markLimit, processesAMarkNeeds } from './rails.js';
import { futureSkewMs, tagUntil, unreadableTag } from './tags.js';
import type { Verdict } from './types.js';

export { unhealthyBudget } from './budget.js';
export { futureSkewMs } from './tags.js';

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
  /**
   * What the group has (./budget.ts capacityOf): the budget, the rate limit and their messages are
   * measured against `base`, the instances that serve; `inUse` counts this batch's marks too.
   */
  capacity: Pick<Capacity, 'inUse' | 'base' | 'missing'>;
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
const secondsAgo = (atMs: number, nowMs: number) => `${Math.floor((nowMs - atMs) / 1000)} s`;

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
 * 7. facts missing (`unavailable`): the fleet could not read the instance's launch time or
 *    tags, and what follows needs them; missing is never read as "no grace, no suppression".
 * 8. duplicate: we marked it moments ago and the fleet's view has not caught up (or dry-run
 *    never marked it). After the fleet's facts, because those are the better explanation.
 * 9. suppressed (instance tag): a deploy or maintenance of that one instance.
 * 10. processes suspended: with Launch, Terminate or ReplaceUnhealthy suspended a mark is
 *    useless (never acted on) or harmful (terminated, never replaced).
 * 11. in grace period (when the launch time is known): a fresh instance may fail checks while
 *    it boots; the group itself ignores health during the grace period.
 * 12. stale (old, or stamped in the future) and no longer in ALARM when re-checked:
 *    verify-before-act. Late because the caller pays a CloudWatch call for it.
 * 13. vote expired (probe evidence): a verdict already older than the quorum window when it is
 *    handled (a backlog held it) is no vote; the observer's next verdict is.
 * 14. awaiting quorum (probe evidence): one observer alone never marks.
 * 15. frozen / loop breaker / frozen until resume: a hold on the whole group (suspected
 *    observer, failing replacements, evidence that keeps freezing the group).
 * 16. rate limited: the group's marks in the rate window.
 * 17. budget spent: last, because it is the only check that depends on the other instances' state
 *    now. A skip for any other reason must not be blamed on the budget, and only a mark that
 *    would otherwise happen may use it. Many failures at once smell like a broken observer.
 *    The budget is a share of what serves (./budget.ts), never of desired capacity.
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
    const value = group.tags[options.pauseTagKey] ?? '';
    return skip(
      'paused',
      paused.unreadable
        ? `${unreadableTag(options.pauseTagKey, value)}: paused until it is fixed or removed`
        : paused.untilMs === undefined
          ? `tag ${options.pauseTagKey}=true: paused until the tag is removed`
          : `tag ${options.pauseTagKey}: paused for ${secondsUntil(paused.untilMs, nowMs)} more`,
    );
  }

  if (instance.lifecycleState !== 'InService') return skip('notInService', `lifecycle state ${instance.lifecycleState}`);

  if (instance.healthStatus === 'Unhealthy') return skip('alreadyUnhealthy');

  // Facts the fleet could not read are never read as "no grace period, no suppression".
  if (instance.factsMissing !== undefined) return skip('unavailable', `the facts of ${instance.instanceId} could not be read (${instance.factsMissing}): its grace period and suppression are unknown`);

  if (input.duplicate) return skip('duplicate', `already marked within ${Math.round(options.duplicateWindowMs / 1000)} s`);

  const suppressed = tagUntil(instance.tags?.[options.suppressTagKey]);
  if (suppressed.active && (suppressed.untilMs === undefined || nowMs < suppressed.untilMs)) {
    return skip(
      'suppressed',
      suppressed.unreadable
        ? `${unreadableTag(options.suppressTagKey, instance.tags?.[options.suppressTagKey] ?? '')}: suppressed until it is fixed or removed`
        : suppressed.untilMs === undefined
          ? `tag ${options.suppressTagKey}=true: suppressed until the tag is removed`
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
    const votedMs = voteTimeMs(signal.observedAt, nowMs);
    if (voteExpired(votedMs, nowMs, options.quorumWindowMs)) {
      return skip('voteExpired', `observed ${secondsAgo(votedMs, nowMs)} ago, the quorum window is ${Math.round(options.quorumWindowMs / 1000)} s: the observer's next verdict counts`);
    }
    const agree = input.agreeingObservers ?? [];
    if (agree.length < options.probeQuorum) {
      return skip(
        'awaitingQuorum',
        `${agree.length} of ${options.probeQuorum} observers agree within ${Math.round(options.quorumWindowMs / 1000)} s${agree.length > 0 ? ` (${agree.join(', ')})` : ''}`,
      );
    }
  }

  if (input.hold) {
    const until = input.hold.untilMs === undefined ? 'held until' : `held for ${secondsUntil(input.hold.untilMs, nowMs)} more, or until`;
    return skip(input.hold.reason, `${input.hold.detail}; ${until} \`autoheal resume ${group.name}\``);
  }

  const { capacity } = input;
  const limit = markLimit(capacity.base, options);
  const marks = input.marksInWindow ?? 0;
  if (marks >= limit) {
    return skip('rateLimited', `${marks} marks within ${Math.round(options.markRateWindowMs / 60_000)} min, limit ${limit}`);
  }

  const budget = unhealthyBudget(capacity.base, options.maxUnhealthyShare);
  if (capacity.inUse >= budget) return skip('budgetSpent', budgetSpentDetail(capacity, budget, group, options));

  return {
    action: 'mark',
    reason: 'unhealthy',
    detail: `budget ${capacity.inUse + 1} of ${budget}${input.recheck ? ', re-checked: still ALARM' : ''}${signal.source === 'probe' ? `, ${input.agreeingObservers?.length ?? 0} observers agree` : ''}`,
  };
}

/** Why the budget is spent, and — when the group is short of instances nobody marked — why it stays so. */
function budgetSpentDetail(capacity: DecideInput['capacity'], budget: number, group: GroupView, options: PolicyOptions): string {
  const spent = `${capacity.inUse} of budget ${budget} Unhealthy or not yet replaced (${options.maxUnhealthyShare} of ${capacity.base} serving)`;
  if (capacity.missing === 0) return spent;
  return (
    `${spent}; ${capacity.missing} of desired ${group.desiredCapacity} are missing and were not marked: launches are failing or a scale-out is still booting, ` +
    'so the marked are not replaced and nothing more is marked until replacements serve (check the group\'s scaling activities)'
  );
}
