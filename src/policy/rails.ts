/**
 * The rails that need memory, as pure reducers over one group's ledger (./ledger.ts): the healer
 * reads a group's ledger, passes the clock in, and writes the result back, so tests drive them
 * table-driven without sockets or sleeps.
 *
 * - Rate limit: marks within the rate window, against maxMarksPerWindow (default twice the budget).
 * - Suspicion (./suspicion.ts): reports within the suspicion window, of the group and of its zones;
 *   past the share, the group freezes; freezes again and again escalate to a hold until resume.
 * - Loop breaker: young marks (replacements marked soon after they launched, see isYoung) within
 *   the loop window; at loopMarks, the group is held until the oldest of them leaves the window.
 * - Quorum (./quorum.ts): each instance's probe votes.
 *
 * A hold lifts by itself when its time passes (a hold until resume has none), or when an operator
 * resumes the group (a resume tag with a time after the hold began, ./tags.ts resumedAt).
 */
import { hasLeftGroup, type GroupView, type InstanceView } from '../fleet/port.js';
import { capacityOf, unhealthyBudget } from './budget.js';
import { activeHold, budgetMarks, keepMarksMs, type GroupLedger, type LedgerMark } from './ledger.js';
import type { PolicyOptions } from './options.js';
import { pruneVotes } from './quorum.js';

export { activeHold, emptyLedger, type GroupLedger, type Hold, type LedgerMark, type LedgerReport } from './ledger.js';
export { recordReport } from './suspicion.js';
export { tagUntil } from './tags.js';

/** Marks of the group within the rate window before `nowMs`. */
export function marksInWindow(ledger: GroupLedger, nowMs: number, options: PolicyOptions): number {
  return ledger.marks.filter((m) => nowMs - m.atMs < options.markRateWindowMs).length;
}

/** The group's mark limit per rate window, for a group whose shares are measured against `base` (./budget.ts). */
export function markLimit(base: number, options: PolicyOptions): number {
  return options.maxMarksPerWindow ?? 2 * unhealthyBudget(base, options.maxUnhealthyShare);
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
  const marks = [...ledger.marks, mark];
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

/**
 * Drops a reservation: a mark recorded before SetInstanceHealth was called, that Auto Scaling then
 * refused or that failed. The ledger itself when it no longer holds it (nothing to write).
 */
export function releaseMark(ledger: GroupLedger, mark: Pick<LedgerMark, 'instanceId' | 'atMs'>): GroupLedger {
  const same = (m: LedgerMark) => m.instanceId === mark.instanceId && m.atMs === mark.atMs;
  if (!ledger.marks.some(same)) return ledger;
  return { ...ledger, marks: ledger.marks.filter((m) => !same(m)) };
}

/**
 * Drops what no rail needs at `nowMs`, given the group as it is now: votes and reports past their
 * windows, a hold that lifted, a freeze streak that ended, and marks past every window — except
 * marks whose instance left while the group is still short of its replacement (the newest ones,
 * as many as the shortfall): they keep the budget spent while launches fail, however long.
 */
export function settle(ledger: GroupLedger, group: Pick<GroupView, 'desiredCapacity' | 'instances'>, nowMs: number, options: PolicyOptions, resumedAtMs?: number): GroupLedger {
  const live = new Set(group.instances.filter((i) => !hasLeftGroup(i.lifecycleState)).map((i) => i.instanceId));
  const { shortfall } = capacityOf(group, budgetMarks(ledger, group, nowMs, options));
  const owed = new Set(
    [...ledger.marks]
      .filter((m) => !live.has(m.instanceId))
      .sort((a, b) => b.atMs - a.atMs)
      .slice(0, shortfall),
  );
  const { hold: _hold, freezes, votes: _votes, ...rest } = ledger;
  const hold = activeHold(ledger, nowMs, resumedAtMs);
  const streakLives = freezes !== undefined && nowMs - freezes.lastUntilMs <= options.freezeMs && (resumedAtMs === undefined || freezes.firstMs >= resumedAtMs);
  const votes = pruneVotes(ledger.votes ?? [], nowMs, options.quorumWindowMs);
  return {
    ...rest,
    marks: ledger.marks.filter((m) => nowMs - m.atMs < keepMarksMs(options) || owed.has(m)),
    reports: ledger.reports.filter((r) => nowMs - r.atMs < options.suspicionWindowMs),
    ...(hold ? { hold } : {}),
    ...(streakLives ? { freezes } : {}),
    ...(votes.length > 0 ? { votes } : {}),
  };
}

/** Processes whose suspension makes a mark useless (never replaced) or harmful (terminated, never replaced). */
export const processesAMarkNeeds = ['Launch', 'Terminate', 'ReplaceUnhealthy'] as const;
