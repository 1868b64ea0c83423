/**
 * What the policy would decide now about each instance of a group, for `autoheal status`. Pure: the
 * caller reads the group, its alarms and its recent marks; this replays the healer's rails over
 * them and asks the real {@link decide}.
 *
 * With a ledger table the rails are the healers' own memory, read from it (groupStateFromLedger).
 * Without one, a command-line process has none of the Lambda's memory, and the rails are rebuilt
 * from what AWS keeps (groupState):
 * - marks: Auto Scaling's scaling activities whose cause is "in response to a user health-check"
 *   (SetInstanceHealth, what autoheal calls), at the time the cause names; young when the
 *   instance's launch (EC2 LaunchTime, or its launch activity) was less than loopYoungMs before;
 * - reports: autoheal's alarms now in ALARM, at the time they entered it.
 * Replayed through the same reducers (recordReport, recordMark) in time order, they give the
 * marks in the rate window, a freeze and a loop-breaker hold as the healer would have derived
 * them — from the group as it is now, so an approximation of the Lambda's memory, and said so.
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import { capacityOf, unhealthyBudget, type Capacity } from '../policy/budget.js';
import { decide, isOptedIn } from '../policy/decide.js';
import type { PolicyOptions } from '../policy/options.js';
import { budgetMarks, markedRecently } from '../policy/ledger.js';
import { agreeingObservers, votesOf } from '../policy/quorum.js';
import { activeHold, emptyLedger, markLimit, marksInWindow, recordMark, recordReport, settle, tagUntil, type GroupLedger, type Hold } from '../policy/rails.js';
import { readResume } from '../policy/tags.js';
import type { Verdict } from '../policy/types.js';
import type { HealthSignal } from '../signals/types.js';

/** A mark autoheal (or any user health-check) made, as Auto Scaling recorded it. */
export interface RecordedMark {
  instanceId: string;
  atMs: number;
  /** When the instance launched, where known. */
  launchedAtMs?: number;
}

/** An instance's alarm in ALARM, and since when. */
export interface RecordedReport {
  instanceId: string;
  atMs: number;
}

/** How the rails were derived, printed beside them. */
export const railsDerivedFrom =
  'replayed from scaling activities (user health-check marks) and the times alarms entered ALARM; the Lambda keeps its own memory';

export interface GroupState {
  managed: boolean;
  /** Why managed: named in AUTOHEAL_GROUPS/--groups, or tagged; null when not managed. */
  managedBy: 'byName' | 'byTag' | null;
  paused: boolean;
  /** ISO 8601 end of the pause; null when paused until the tag is removed (or not paused). */
  pausedUntil: string | null;
  budget: { limit: number; inUse: number };
  rails: {
    marksInWindow: number;
    markLimit: number;
    rateWindowMinutes: number;
    rateLimited: boolean;
    /** `until` is null for a hold only `autoheal resume` lifts. */
    hold: { reason: Hold['reason']; since: string; until: string | null; detail: string } | null;
    resumedAt: string | null;
    /** Instances with observers' down votes within the quorum window; null when the rails were replayed (AWS keeps no votes). */
    votes: Array<{ instanceId: string; observers: string[] }> | null;
    derivedFrom: string;
  };
  /** The verdict for each instance of the group, were its evidence to say unhealthy now. */
  verdicts: Map<string, Verdict>;
}

/** Derives the group's state and every instance's verdict now, from the rails replayed out of what AWS keeps. */
export function groupState(group: GroupView, marks: readonly RecordedMark[], reports: readonly RecordedReport[], policy: PolicyOptions, nowMs: number): GroupState {
  // No memory of when the tag was first read here: a time in the future counts as now.
  const resumedAtMs = readResume(emptyLedger, group.tags[policy.resumeTagKey], nowMs).atMs;
  const steps = [
    ...reports.map((r) => ({ atMs: r.atMs, apply: (l: GroupLedger) => recordReport(l, { instanceId: r.instanceId, atMs: r.atMs, ...zoneOf(group, r.instanceId) }, group, policy, resumedAtMs) })),
    ...marks.map((m) => ({
      atMs: m.atMs,
      apply: (l: GroupLedger) => recordMark(l, { instanceId: m.instanceId, atMs: m.atMs, young: m.launchedAtMs !== undefined && m.atMs - m.launchedAtMs < policy.loopYoungMs }, policy),
    })),
  ].filter((s) => s.atMs <= nowMs);
  steps.sort((a, b) => a.atMs - b.atMs);
  const ledger = steps.reduce((l, s) => s.apply(l), emptyLedger);
  const recent = marks.filter((m) => nowMs - m.atMs < policy.duplicateWindowMs && m.atMs <= nowMs).map((m) => m.instanceId);
  return stateOf(group, policy, nowMs, {
    ledger,
    resumedAtMs,
    capacity: capacityOf(group, recent.map((instanceId) => ({ instanceId }))),
    duplicate: (instanceId) => recent.includes(instanceId),
    votes: null,
    derivedFrom: railsDerivedFrom,
  });
}

/**
 * Derives the group's state and every instance's verdict now from the rails' ledger as the
 * healers wrote it (`where`: the table), read through the same reducers the healer uses: marks
 * and reservations, holds, votes — the healers' own memory, not a replay.
 */
export function groupStateFromLedger(group: GroupView, stored: GroupLedger, where: string, policy: PolicyOptions, nowMs: number): GroupState {
  const resume = readResume(stored, group.tags[policy.resumeTagKey], nowMs);
  const ledger = settle(resume.ledger, group, nowMs, policy, resume.atMs);
  const votes = group.instances.flatMap((i) => {
    const observers = agreeingObservers(votesOf(ledger, i.instanceId), nowMs, policy.quorumWindowMs);
    return observers.length > 0 ? [{ instanceId: i.instanceId, observers }] : [];
  });
  return stateOf(group, policy, nowMs, {
    ledger,
    resumedAtMs: resume.atMs,
    capacity: capacityOf(group, budgetMarks(ledger, group, nowMs, policy)),
    duplicate: (instanceId) => markedRecently(ledger, instanceId, nowMs, policy),
    votes,
    derivedFrom: `read from the rails' ledger (${where}) that every healer shares`,
  });
}

/** The rails as derived, by either way. */
interface Rails {
  ledger: GroupLedger;
  resumedAtMs: number | undefined;
  capacity: Capacity;
  duplicate: (instanceId: string) => boolean;
  votes: GroupState['rails']['votes'];
  derivedFrom: string;
}

function stateOf(group: GroupView, policy: PolicyOptions, nowMs: number, rails: Rails): GroupState {
  const { ledger, resumedAtMs, capacity } = rails;
  const hold = activeHold(ledger, nowMs, resumedAtMs);
  const inWindow = marksInWindow(ledger, nowMs, policy);
  const limit = markLimit(capacity.base, policy);
  const inUse = capacity.inUse;
  const pause = tagUntil(group.tags[policy.pauseTagKey]);
  const paused = pause.active && (pause.untilMs === undefined || nowMs < pause.untilMs);

  const verdicts = new Map<string, Verdict>();
  for (const instance of group.instances) {
    verdicts.set(
      instance.instanceId,
      decide({
        signal: hypothetical(instance, nowMs),
        instance,
        group,
        nowMs,
        options: policy,
        duplicate: rails.duplicate(instance.instanceId),
        capacity,
        marksInWindow: inWindow,
        ...(hold ? { hold } : {}),
      }),
    );
  }
  const managed = isOptedIn(group, policy);
  return {
    managed,
    managedBy: !managed ? null : policy.groups.includes(group.name) ? 'byName' : 'byTag',
    paused,
    pausedUntil: paused && pause.active && pause.untilMs !== undefined ? new Date(pause.untilMs).toISOString() : null,
    budget: { limit: unhealthyBudget(capacity.base, policy.maxUnhealthyShare), inUse },
    rails: {
      marksInWindow: inWindow,
      markLimit: limit,
      rateWindowMinutes: Math.round(policy.markRateWindowMs / 60_000),
      rateLimited: inWindow >= limit,
      hold: hold ? { reason: hold.reason, since: new Date(hold.sinceMs).toISOString(), until: hold.untilMs === undefined ? null : new Date(hold.untilMs).toISOString(), detail: hold.detail } : null,
      resumedAt: resumedAtMs === undefined ? null : new Date(resumedAtMs).toISOString(),
      votes: rails.votes,
      derivedFrom: rails.derivedFrom,
    },
    verdicts,
  };
}

function zoneOf(group: GroupView, instanceId: string): { zone?: string } {
  const zone = group.instances.find((i) => i.instanceId === instanceId)?.availabilityZone;
  return zone ? { zone } : {};
}

/** Fresh alarm evidence that the instance is down, as the healer would receive it now. */
function hypothetical(instance: InstanceView, nowMs: number): HealthSignal {
  return {
    instanceId: instance.instanceId,
    state: 'unhealthy',
    source: 'cloudwatch-alarm',
    observedAt: new Date(nowMs).toISOString(),
    eventId: `status:${instance.instanceId}`,
    reason: 'autoheal status: what the policy decides were the instance reported down now',
    instanceIdFrom: 'dimension',
  };
}
