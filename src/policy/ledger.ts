/**
 * A group's ledger: every piece of the rails' memory of one Auto Scaling group, in one plain
 * value. Pure data, changed only by the pure reducers of ./rails.ts, ./suspicion.ts, ./quorum.ts
 * and ./tags.ts, each given the clock: no class instances, no Dates, no Maps — it survives
 * `JSON.stringify` and back unchanged, so it can live in a table keyed by group (one item,
 * conditional writes) as well as in this process (src/healer/ledger.ts).
 *
 * What it holds, and who reads it:
 * - marks: the duplicate check, the budget (marks the view may not show yet, and marked instances
 *   gone while no replacement serves), the rate limit and the loop breaker;
 * - reports: the suspicion share of the group and of each zone;
 * - hold and freezes: a freeze, a loop-breaker hold, their escalation to a hold until resume;
 * - votes: each instance's latest probe vote per observer (the quorum);
 * - resume: the resume tag as first read, so a time in the future counts from then.
 */
import { hasLeftGroup, type GroupView } from '../fleet/port.js';
import type { BudgetMark } from './budget.js';
import type { PolicyOptions } from './options.js';

export interface LedgerMark {
  instanceId: string;
  atMs: number;
  /** Marked less than loopYoungMs after its launch. */
  young: boolean;
  /** The instance's zone, where known: a mark gone from the view still counts in its zone. */
  zone?: string;
}

export interface LedgerReport {
  instanceId: string;
  atMs: number;
  zone?: string;
  /** Where the report came from: the signal's source (`cloudwatch-alarm`, `probe`, …). */
  source?: string;
  /** For probe reports: the observers that agreed. */
  observers?: readonly string[];
}

/** Why a group is held from marking. */
export type HoldReason = 'frozen' | 'loopBreaker' | 'frozenUntilResume';

/** A group held from marking, and why. */
export interface Hold {
  reason: HoldReason;
  sinceMs: number;
  /** When it lifts by itself; absent: only `autoheal resume` lifts it. */
  untilMs?: number;
  detail: string;
}

/** One observer's latest vote about one instance of the group. */
export interface InstanceVote {
  instanceId: string;
  observer: string;
  unhealthy: boolean;
  atMs: number;
}

/** Freezes in a row, each starting soon after the last one lifted (./suspicion.ts escalates them). */
export interface FreezeStreak {
  count: number;
  firstMs: number;
  /** When the latest freeze lifts (or lifted). */
  lastUntilMs: number;
}

/** One group's memory. Bounded: ./rails.ts `settle` drops what no rail needs any more. */
export interface GroupLedger {
  marks: readonly LedgerMark[];
  /** The latest unhealthy report of each instance. */
  reports: readonly LedgerReport[];
  hold?: Hold;
  freezes?: FreezeStreak;
  votes?: readonly InstanceVote[];
  /** The resume tag's value as first read, and the time it counts as. */
  resume?: { tag: string; atMs: number };
}

export const emptyLedger: GroupLedger = { marks: [], reports: [] };

/** How long a mark is kept for the rate limit, the loop breaker and the duplicate check. */
export const keepMarksMs = (o: PolicyOptions): number => Math.max(o.markRateWindowMs, o.loopWindowMs, o.duplicateWindowMs);

/**
 * The hold in force at `nowMs`, unless it passed or an operator resumed the group after it began.
 * A resume at time T forgives what came strictly before T: holds begun and reports made at T or
 * later stand (so a resume that counts as now never lifts the hold its own moment's evidence made).
 */
export function activeHold(ledger: GroupLedger, nowMs: number, resumedAtMs?: number): Hold | undefined {
  const hold = ledger.hold;
  if (hold === undefined || (hold.untilMs !== undefined && nowMs >= hold.untilMs)) return undefined;
  if (resumedAtMs !== undefined && resumedAtMs > hold.sinceMs) return undefined;
  return hold;
}

/**
 * The marks the budget counts at `nowMs` (./budget.ts capacityOf): those within the duplicate
 * window, which the fleet's view may not show yet, and every remembered mark whose instance left
 * the group (capacityOf counts them only while the group is short of a replacement).
 */
export function budgetMarks(ledger: GroupLedger, group: Pick<GroupView, 'instances'>, nowMs: number, options: PolicyOptions): BudgetMark[] {
  const live = new Set(group.instances.filter((i) => !hasLeftGroup(i.lifecycleState)).map((i) => i.instanceId));
  return ledger.marks
    .filter((m) => nowMs - m.atMs < options.duplicateWindowMs || !live.has(m.instanceId))
    .map((m) => ({ instanceId: m.instanceId, ...(m.zone !== undefined ? { zone: m.zone } : {}) }));
}

/** Whether `instanceId` was marked within the duplicate window before `nowMs`. */
export function markedRecently(ledger: GroupLedger, instanceId: string, nowMs: number, options: PolicyOptions): boolean {
  return ledger.marks.some((m) => m.instanceId === instanceId && nowMs - m.atMs < options.duplicateWindowMs);
}
