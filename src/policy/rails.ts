/**
 * The rails that need memory: what a group was reported and marked lately, and whether it is held.
 * Pure reducers over plain data: the healer keeps one {@link GroupLedger} per group and passes the
 * clock in, so tests drive them table-driven without sockets or sleeps.
 *
 * - Rate limit: marks within the rate window, against maxMarksPerWindow (default twice the budget).
 * - Suspicion: distinct instances reported unhealthy within the suspicion window, of the group and
 *   of each of its zones; past the share, the group freezes for freezeMs (re-armed while it lasts).
 * - Loop breaker: young marks (replacements marked soon after they launched, see isYoung) within
 *   the loop window; at loopMarks, the group is held until the oldest of them leaves the window.
 *
 * A hold lifts by itself when its time passes, or when an operator resumes the group (a resume
 * tag with a time after the hold began).
 */
import type { GroupView, InstanceView } from '../fleet/port.js';
import { unhealthyBudget } from './budget.js';
import type { PolicyOptions } from './options.js';

export interface LedgerMark {
  instanceId: string;
  atMs: number;
  /** Marked less than loopYoungMs after its launch. */
  young: boolean;
}

export interface LedgerReport {
  instanceId: string;
  atMs: number;
  zone?: string;
}

/** A group held from marking, and why. */
export interface Hold {
  reason: 'frozen' | 'loopBreaker';
  sinceMs: number;
  untilMs: number;
  detail: string;
}

/** One group's memory. Bounded: entries older than every window are dropped on each change. */
export interface GroupLedger {
  marks: readonly LedgerMark[];
  /** The latest unhealthy report of each instance. */
  reports: readonly LedgerReport[];
  hold?: Hold;
}

export const emptyLedger: GroupLedger = { marks: [], reports: [] };

const keepMarksMs = (o: PolicyOptions) => Math.max(o.markRateWindowMs, o.loopWindowMs, o.duplicateWindowMs);

/** Marks of the group within the rate window before `nowMs`. */
export function marksInWindow(ledger: GroupLedger, nowMs: number, options: PolicyOptions): number {
  return ledger.marks.filter((m) => nowMs - m.atMs < options.markRateWindowMs).length;
}

/** The group's mark limit per rate window. */
export function markLimit(desiredCapacity: number, options: PolicyOptions): number {
  return options.maxMarksPerWindow ?? 2 * unhealthyBudget(desiredCapacity, options.maxUnhealthyShare);
}

/** The hold in force at `nowMs`, unless it passed or an operator resumed the group after it began. */
export function activeHold(ledger: GroupLedger, nowMs: number, resumedAtMs?: number): Hold | undefined {
  const hold = ledger.hold;
  if (hold === undefined || nowMs >= hold.untilMs) return undefined;
  if (resumedAtMs !== undefined && resumedAtMs >= hold.sinceMs) return undefined;
  return hold;
}

/**
 * Records an unhealthy report of `instance` and freezes the group when the reports within the
 * suspicion window pass the share of the group, or of the instance's zone.
 */
export function recordReport(
  ledger: GroupLedger,
  report: LedgerReport,
  group: Pick<GroupView, 'desiredCapacity' | 'instances'>,
  options: PolicyOptions,
  resumedAtMs?: number,
): GroupLedger {
  const fresh = (r: LedgerReport) =>
    report.atMs - r.atMs < options.suspicionWindowMs && (resumedAtMs === undefined || r.atMs > resumedAtMs);
  const reports = [...ledger.reports.filter((r) => r.instanceId !== report.instanceId && fresh(r)), report];
  const next: GroupLedger = { ...ledger, reports };

  const groupSize = Math.max(group.desiredCapacity, group.instances.length, 1);
  const over = (down: number, size: number) => down >= options.suspicionMinInstances && down > options.suspicionShare * size;
  let why: string | undefined;
  if (over(reports.length, groupSize)) {
    why = `${reports.length} of ${groupSize} instances reported down within ${Math.round(options.suspicionWindowMs / 1000)} s`;
  } else if (report.zone !== undefined) {
    const zoneSize = group.instances.filter((i) => i.availabilityZone === report.zone && i.lifecycleState !== 'Terminated').length;
    const zoneDown = reports.filter((r) => r.zone === report.zone).length;
    if (over(zoneDown, zoneSize)) {
      why = `${zoneDown} of ${zoneSize} instances in ${report.zone} reported down within ${Math.round(options.suspicionWindowMs / 1000)} s`;
    }
  }
  if (why === undefined) return next;
  const sinceMs = ledger.hold?.reason === 'frozen' && activeHold(ledger, report.atMs, resumedAtMs) ? ledger.hold.sinceMs : report.atMs;
  return {
    ...next,
    hold: {
      reason: 'frozen',
      sinceMs,
      untilMs: Math.max(report.atMs + options.freezeMs, ledger.hold?.untilMs ?? 0),
      detail: `${why} (more than ${options.suspicionShare} of them): a broken observer is likelier than a broken fleet`,
    },
  };
}

/**
 * Whether a mark of `instance` at `nowMs` is a young one: a replacement failing soon after it
 * came — launched less than loopYoungMs ago, and after an earlier mark of the group within the
 * loop window (so the first wave of a freshly deployed group is not taken for a loop).
 */
export function isYoung(instance: Pick<InstanceView, 'launchedAt'>, nowMs: number, options: PolicyOptions, ledger: GroupLedger): boolean {
  if (instance.launchedAt === undefined) return false;
  const launchedMs = instance.launchedAt.getTime();
  if (nowMs - launchedMs >= options.loopYoungMs) return false;
  return ledger.marks.some((m) => nowMs - m.atMs < options.loopWindowMs && m.atMs <= launchedMs);
}

/** Records a mark; at loopMarks young marks within the loop window, the loop breaker holds the group. */
export function recordMark(ledger: GroupLedger, mark: LedgerMark, options: PolicyOptions): GroupLedger {
  const marks = [...ledger.marks.filter((m) => mark.atMs - m.atMs < keepMarksMs(options)), mark];
  const young = marks.filter((m) => m.young && mark.atMs - m.atMs < options.loopWindowMs);
  if (!mark.young || young.length < options.loopMarks) return { ...ledger, marks };
  const oldest = Math.min(...young.map((m) => m.atMs));
  return {
    ...ledger,
    marks,
    hold: {
      reason: 'loopBreaker',
      sinceMs: mark.atMs,
      untilMs: Math.max(oldest + options.loopWindowMs, ledger.hold?.untilMs ?? 0),
      detail: `${young.length} instances marked within ${Math.round(options.loopWindowMs / 60_000)} min, each less than ${Math.round(options.loopYoungMs / 60_000)} min after launch`,
    },
  };
}

/** A time tag's value: `true` (no end), an ISO 8601 time, or unreadable (fail closed: treated as no end). */
export function tagUntil(value: string | undefined): { active: false } | { active: true; untilMs?: number; unreadable?: true } {
  if (value === undefined) return { active: false };
  const text = value.trim();
  if (text === '' || text.toLowerCase() === 'false') return { active: false };
  if (text.toLowerCase() === 'true') return { active: true };
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? { active: true, unreadable: true } : { active: true, untilMs: ms };
}

/** Processes whose suspension makes a mark useless (never replaced) or harmful (terminated, never replaced). */
export const processesAMarkNeeds = ['Launch', 'Terminate', 'ReplaceUnhealthy'] as const;
