/**
 * Notices: what a person must hear about, as readable messages on the alert topic. Every mark, every
 * hold that stops healing of a group until something changes (`noticeReasons`: budgetSpent, frozen,
 * loopBreaker, frozenUntilResume, paused, rateLimited), a zone reported down (healed within the
 * budget), a resume time in the future, and an observer gone silent. Each notice carries the SNS
 * message attribute `autoheal_notice` (`mark`, `hold`, `zoneDown`, `resumeInFuture`,
 * `observerSilent`), so the e-mail subscription takes notices only with the filter policy
 * `{"autoheal_notice": [{"exists": true}]}` — CloudWatch's alarm notifications and the prober's
 * verdicts carry no such attribute.
 *
 * At most one notice per group, per reason (per zone), per window (default 30 min): a mass failure
 * sends one e-mail, not a hundred, and a hold re-decided on every scheduled run (10 min) mails once
 * per window; the next notice of that key says how many were held back. Delivery is the outbox's
 * (./outbox.ts): off the decision's path, bounded, and one per key per window whatever SNS does.
 * The notifier listens to the healer's typed events (a listener that throws cannot break the
 * healer) and never throws itself: a failed publish is logged and counted, the healer's work stands.
 */
import type { TypedEvents } from '../events.js';
import type { HealerEvents, VerdictRecord } from '../healer/types.js';
import type { Hold } from '../policy/ledger.js';
import type { ZoneDown } from '../policy/suspicion.js';
import { noticeReasons, Reason, type ReasonKey } from '../policy/types.js';
import { heartbeatMetric } from '../prober/heartbeat-metric.js';
import { createOutbox, type OutboxCounts, type OutboxOptions, type Publisher } from './outbox.js';
import { evidenceLocation } from './evidence.js';
import { overrideDipText } from '../fleet/replacement.js';

/** The message attribute every notice carries, and its values. */
export const noticeAttribute = 'autoheal_notice';
export type NoticeKind = 'mark' | 'hold' | 'zoneDown' | 'resumeInFuture' | 'observerSilent' | 'retained';

/** The default de-duplication window. */
export const noticeWindowMs = 30 * 60 * 1000;

/** One notice as it goes to the topic. */
export interface Notice {
  kind: NoticeKind;
  /** The group, or the observer for `observerSilent`. */
  subjectOf: string;
  /** A reason key (src/policy/types.ts), or the kind of a notice that is not a verdict's. */
  reason: ReasonKey | 'zoneDown' | 'resumeInFuture' | 'observerSilent' | 'retained';
  /** Narrows the window's key below the subject and reason (the zone of `zoneDown`). */
  scope?: string;
  /** At most 100 characters (SNS's limit), starting `autoheal: ` so a mail rule can filter on it. */
  subject: string;
  /** What happened, why, what to do. */
  body: string;
  /** SNS message attributes (String): autoheal_notice, group or observer, reason. */
  attributes: Record<string, string>;
}

/** Sends one notice; the SNS implementation is ./sns-notices.ts. */
export type NoticePublisher = Publisher<Notice>;

/** What to do about each hold, in the words of the README's "Operate it" section. */
const whatToDo: Record<(typeof noticeReasons)[number], string> = {
  budgetSpent:
    'The instances already marked are being replaced; the held ones are decided again on the next scheduled run. If the group cannot replace them (launch failures, capacity), fix that first. Many instances failing at once may be a broken observer, not a broken fleet: check before raising the share.',
  frozen:
    'Most of the group (or most of its zones) was reported down at once, which smells like a broken observer or network, not broken instances. Check the observers and the instances. When you are sure the instances are really down, lift the hold: `autoheal resume GROUP` (tag autoheal:resumed-at); it lifts by itself when the freeze ends.',
  loopBreaker:
    'Replacements keep failing soon after they launch: the launch template, the image or a dependency is likely broken. Fix it, then `autoheal resume GROUP` (tag autoheal:resumed-at); the hold lifts by itself when the window passes.',
  frozenUntilResume:
    'The group froze again soon after each freeze lifted: the evidence (an observer, an alarm threshold, a network path) is wrong, not the fleet, and every lift would let another budget of healthy instances go. Nothing is marked until a person looks: fix the evidence, then `autoheal resume GROUP` (tag autoheal:resumed-at).',
  paused:
    'Healing of the group is paused by its autoheal:paused tag (true, or an ISO time). Remove the tag (`autoheal resume GROUP`) to heal again.',
  rateLimited:
    'The group reached its limit of marks in the rate window; held instances are decided again once older marks leave the window. Many marks in a row may mean the checks, not the instances, are wrong.',
};

// SNS subjects: printable ASCII, at most 100 characters.
const cut = (text: string, max: number): string => {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= max ? ascii : `${ascii.slice(0, max - 3)}...`;
};

function attributes(kind: NoticeKind, key: string, value: string, reason: string): Record<string, string> {
  return { [noticeAttribute]: kind, [key]: value, reason };
}

/** The notice of a mark; with the evidence bucket, it names where the instance's evidence is kept. */
export function markNotice(r: VerdictRecord, evidenceBucket?: string): Notice {
  const group = r.groupName ?? 'unknown group';
  const verb = r.dryRun ? 'would mark (dry run)' : 'marked';
  return {
    kind: 'mark',
    subjectOf: group,
    reason: 'unhealthy',
    subject: cut(`autoheal: ${verb} ${r.signal.instanceId} in ${group}`, 100),
    body: [
      `autoheal ${verb} instance ${r.signal.instanceId} of Auto Scaling group ${group} Unhealthy${r.dryRun ? '' : '; the group replaces it'}.`,
      `Why: ${r.verdict.detail ?? Reason.unhealthy} (reason "unhealthy").`,
      `Evidence: ${r.signal.source}${r.signal.observer ? ` from observer ${r.signal.observer}` : ''}${r.signal.alarmName ? `, alarm ${r.signal.alarmName}` : ''}: ${r.signal.reason}`,
      ...(r.replacementOverridden ? [`Capacity: ${overrideDipText}. \`autoheal status --group ${group}\` shows the group's policy; the stack's own setting is \`replacement\`.`] : []),
      ...(evidenceBucket && !r.dryRun
        ? [`Kept after it is gone: the verdict, the group's state and, once its termination starts, its latest console output, in ${evidenceLocation(evidenceBucket, r.signal.instanceId)}: \`autoheal evidence ${r.signal.instanceId} --bucket ${evidenceBucket}\` prints it.`]
        : []),
      'What to do: nothing, unless marks keep coming. `autoheal status --group ' + group + '` shows the group; `autoheal history --group ' + group + '` what autoheal decided.',
    ].join('\n\n'),
    attributes: attributes('mark', 'group', group, 'unhealthy'),
  };
}

/**
 * The notice of an instance kept for inspection (quarantine `retain`, the evidence function): where
 * its evidence is, that it runs and bills beside its replacement, and how to release it.
 */
export function retainedNotice(group: string, instanceId: string, location: string, release: string): Notice {
  return {
    kind: 'retained',
    subjectOf: group,
    reason: 'retained',
    scope: instanceId,
    subject: cut(`autoheal: RETAINED ${instanceId} in ${group} for inspection`, 100),
    body: [
      `autoheal marked instance ${instanceId} of Auto Scaling group ${group} Unhealthy, and instead of terminating it the group keeps it for inspection (Terminating:Retained, quarantine "retain"). Its replacement is launched as usual.`,
      `Evidence: ${location} (\`autoheal evidence ${instanceId}\` prints it).`,
      `It keeps running and billing beside its replacement until you release it. When you are done: ${release}`,
    ].join('\n\n'),
    attributes: attributes('retained', 'group', group, 'retained'),
  };
}

/** The notice of a hold (a skip for one of `noticeReasons`, or a hold that started). */
export function holdNotice(group: string, reason: (typeof noticeReasons)[number], detail: string | undefined, instanceId?: string): Notice {
  return {
    kind: 'hold',
    subjectOf: group,
    reason,
    subject: cut(`autoheal: HOLD ${reason} ${group}`, 100),
    body: [
      `autoheal is holding back marks in Auto Scaling group ${group}${instanceId ? ` (instance ${instanceId} reported down was not marked)` : ''}.`,
      `Why: ${Reason[reason]} (reason "${reason}")${detail ? `: ${detail}` : ''}.`,
      `What to do: ${whatToDo[reason]}`,
      `\`autoheal status --group ${group}\` shows the budget, rails and each instance's verdict now.`,
    ].join('\n\n'),
    attributes: attributes('hold', 'group', group, reason),
  };
}

/** The notice of a zone reported down while the others serve: healed within the budget, not frozen. */
export function zoneDownNotice(group: string, zone: ZoneDown): Notice {
  return {
    kind: 'zoneDown',
    subjectOf: group,
    reason: 'zoneDown',
    scope: zone.zone,
    subject: cut(`autoheal: ZONE DOWN ${zone.zone} in ${group}`, 100),
    body: [
      `Availability Zone ${zone.zone} of Auto Scaling group ${group} was reported down: ${zone.reported} of its ${zone.of} instances, while the group's other zones serve.`,
      `The reports come from: ${zone.from.join(', ')}.`,
      'What autoheal does: a zone down while the others serve is a zone outage, not a broken observer, so its instances are marked within the unhealthy budget and the rate limit and the group replaces them (in the zones that serve, as Auto Scaling rebalances). Marking freezes only when most zones, or the whole group, look down.',
      `What to do: check the zone (AWS Health, the subnets, the network path from the reporting observers). \`autoheal status --group ${group}\` shows the budget and each instance's verdict; \`autoheal pause ${group}\` stops marking if the reports are wrong.`,
    ].join('\n\n'),
    attributes: { ...attributes('zoneDown', 'group', group, 'zoneDown'), zone: zone.zone },
  };
}

/** The notice of a resume tag whose time lies in the future: it counts from when autoheal first read it. */
export function resumeInFutureNotice(group: string, tagKey: string, tagMs: number, countsAsMs: number): Notice {
  return {
    kind: 'resumeInFuture',
    subjectOf: group,
    reason: 'resumeInFuture',
    subject: cut(`autoheal: RESUME IN THE FUTURE ${group}`, 100),
    body: [
      `The tag ${tagKey} of Auto Scaling group ${group} says ${new Date(tagMs).toISOString()}, a time in the future (beyond a few seconds of clock skew).`,
      `autoheal counts it as ${new Date(countsAsMs).toISOString()}, when it first read it: holds that began before then are lifted, later ones stand. Taken as written, it would lift every freeze and loop-breaker hold until that time.`,
      `What to do: check the clock of whoever wrote it (\`autoheal resume ${group}\` writes the time now). Write a correct time, or remove the tag.`,
    ].join('\n\n'),
    attributes: attributes('resumeInFuture', 'group', group, 'resumeInFuture'),
  };
}

/** The notice of an observer whose heartbeat alarm went to ALARM. */
export function observerSilentNotice(observer: string, alarmName: string, reason: string): Notice {
  return {
    kind: 'observerSilent',
    subjectOf: observer,
    reason: 'observerSilent',
    subject: cut(`autoheal: OBSERVER SILENT ${observer}`, 100),
    body: [
      `Observer ${observer} stopped publishing its heartbeat (alarm ${alarmName}: ${reason}).`,
      'Why it matters: probe verdicts need a quorum of observers; with one silent, instances that stop answering may not be marked.',
      'What to do: check the observer (its function or host, its logs, its network path to the instances); `autoheal status` lists every observer\'s last heartbeat.',
    ].join('\n\n'),
    attributes: attributes('observerSilent', 'observer', observer, 'observerSilent'),
  };
}

/**
 * The observer an EventBridge "CloudWatch Alarm State Change" event is about, when the alarm watches
 * a heartbeat (namespace autoheal, metric ObserverHeartbeat, dimension Observer) and entered ALARM;
 * undefined for every other event. Recognized by the metric, not the alarm's name, so it holds
 * whatever the observers' stack names its alarms.
 */
export function silentObserverOf(event: unknown): { observer: string; alarmName: string; reason: string } | undefined {
  const e = event as { source?: unknown; 'detail-type'?: unknown; detail?: Record<string, unknown> } | null;
  if (typeof e !== 'object' || e === null || e.source !== 'aws.cloudwatch' || e['detail-type'] !== 'CloudWatch Alarm State Change') return undefined;
  const detail = e.detail ?? {};
  const state = detail.state as { value?: unknown; reason?: unknown } | undefined;
  const metrics = (detail.configuration as { metrics?: unknown } | undefined)?.metrics;
  if (!Array.isArray(metrics)) return undefined;
  for (const m of metrics) {
    const metric = (m as { metricStat?: { metric?: { namespace?: unknown; name?: unknown; dimensions?: Record<string, unknown> } } }).metricStat?.metric;
    const observer = metric?.dimensions?.[heartbeatMetric.dimension];
    if (metric?.namespace === heartbeatMetric.namespace && metric.name === heartbeatMetric.name && typeof observer === 'string') {
      if (state?.value !== 'ALARM') return undefined;
      return { observer, alarmName: String(detail.alarmName ?? ''), reason: typeof state.reason === 'string' ? state.reason : 'no heartbeat' };
    }
  }
  return undefined;
}

/** The publisher, and how its notices are delivered (./outbox.ts: window 30 min, publish bound 5 s, flush at most 1 s). */
export type NotifierOptions = OutboxOptions<Notice> & {
  /** The bucket the healer keeps each mark's evidence in (AUTOHEAL_EVIDENCE_BUCKET): mark notices name it. */
  evidenceBucket?: string;
};

/** Counts, for tests and the summary. */
export type NotifierCounts = OutboxCounts;

export interface Notifier {
  /** Subscribes to the healer's events; returns the function that unsubscribes. */
  attach(events: TypedEvents<HealerEvents>): () => void;
  /** Sends a notice (subject to the window), off the caller's path. Never throws; resolves once its publish is settled. */
  notify(notice: Notice): Promise<void>;
  /** Resolves when every notice so far is settled, or after at most `maxWaitMs` (default: the flush bound). */
  flush(maxWaitMs?: number): Promise<void>;
  readonly counts: Readonly<NotifierCounts>;
}

const isNoticeReason = (reason: ReasonKey): reason is (typeof noticeReasons)[number] => (noticeReasons as readonly string[]).includes(reason);

/** Creates a notifier over a publisher. */
export function createNotifier(options: NotifierOptions): Notifier {
  const outbox = createOutbox(options);
  const notify = (notice: Notice): Promise<void> => outbox.submit(notice);

  function attach(events: TypedEvents<HealerEvents>): () => void {
    const offs = [
      events.on('healer:verdict:marked', (r) => void notify(markNotice(r, options.evidenceBucket))),
      events.on('healer:verdict:skipped', (r) => {
        if (r.groupName !== undefined && isNoticeReason(r.verdict.reason)) void notify(holdNotice(r.groupName, r.verdict.reason, r.verdict.detail, r.signal.instanceId));
      }),
      events.on('healer:hold:started', ({ groupName, hold }: { groupName: string; hold: Hold }) => void notify(holdNotice(groupName, hold.reason, hold.detail))),
      events.on('healer:zone:down', ({ groupName, zone }) => void notify(zoneDownNotice(groupName, zone))),
      events.on('healer:resume:future', ({ groupName, tagKey, tagMs, countsAsMs }) => void notify(resumeInFutureNotice(groupName, tagKey, tagMs, countsAsMs))),
    ];
    return () => offs.forEach((off) => off());
  }

  return { attach, notify, flush: (maxWaitMs) => outbox.flush(maxWaitMs), counts: outbox.counts };
}
