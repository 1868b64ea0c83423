/**
 * What the policy would decide now about each instance of a group, for `autoheal status`. Pure: the
 * caller reads the group, its alarms and its recent marks; this replays the healer's rails over
 * them and asks the real {@link decide}.
 *
 * A command-line process has none of the Lambda's memory (its per-group ledger of reports and
 * marks). The rails are rebuilt from what AWS keeps:
 * - marks: Auto Scaling's scaling activities whose cause is "in response to a user health-check"
 *   (SetInstanceHealth, what autoheal calls), at the time the cause names; young when the
 *   instance's launch (EC2 LaunchTime, or its launch activity) was less than loopYoungMs before;
 * - reports: autoheal's alarms now in ALARM, at the time they entered it.
 * Replayed through the same reducers (recordReport, recordMark) in time order, they give the
 * marks in the rate window, a freeze and a loop-breaker hold as the healer would have derived
 * them — from the group as it is now, so an approximation of the Lambda's memory, and said so.
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import { capacityOf, unhealthyBudget } from '../policy/budget.js';
import { decide, isOptedIn } from '../policy/decide.js';
import type { PolicyOptions } from '../policy/options.js';
import { activeHold, emptyLedger, markLimit, marksInWindow, recordMark, recordReport, tagUntil, type GroupLedger, type Hold } from '../policy/rails.js';
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
    derivedFrom: string;
  };
  /** The verdict for each instance of the group, were its evidence to say unhealthy now. */
  verdicts: Map<string, Verdict>;
}

/** Derives the group's state and every instance's verdict now. */
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

  const hold = activeHold(ledger, nowMs, resumedAtMs);
  const inWindow = marksInWindow(ledger, nowMs, policy);
  const recent = marks.filter((m) => nowMs - m.atMs < policy.duplicateWindowMs && m.atMs <= nowMs).map((m) => m.instanceId);
  const capacity = capacityOf(group, recent.map((instanceId) => ({ instanceId })));
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
        duplicate: recent.includes(instance.instanceId),
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
      derivedFrom: railsDerivedFrom,
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
