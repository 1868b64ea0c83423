/**
 * Suspicion: when too much of a group is reported down at once, a broken observer is likelier
 * than a broken fleet, and marking freezes. Pure reducers over the group's ledger, the clock
 * passed in.
 *
 * Shares are of what serves (./budget.ts `base`), never of desired capacity. The zone rule follows
 * the anchor, the Kubernetes node controller: a zone that is fully down while the others serve is
 * a zone outage, and its instances are healed within the budget and the rate limit (the healer
 * sends a notice naming the zone and where its reports come from); the group freezes only when
 * the whole group looks down, or most of its zones do.
 *
 * Holds that hold: a freeze re-arms while reports keep coming; a group that freezes again soon
 * after each freeze lifted (escalateAfterFreezes freezes in a row, each within freezeMs of the
 * last one lifting) is held until `autoheal resume` — the evidence is wrong, not the fleet.
 */
import { capacityOf, type Capacity } from './budget.js';
import { activeHold, budgetMarks, type GroupLedger, type Hold, type LedgerReport } from './ledger.js';
import type { GroupView } from '../fleet/port.js';
import type { PolicyOptions } from './options.js';

/** A zone whose reports pass the suspicion share of the zone. */
export interface ZoneDown {
  zone: string;
  reported: number;
  /** The zone's instances that serve or are in use (./budget.ts). */
  of: number;
  /** Where its reports come from: `observer NAME`, or the alarm source (`cloudwatch-alarm`, …). */
  from: string[];
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** The reports within the suspicion window before `nowMs` (and after an operator's resume). */
function fresh(reports: readonly LedgerReport[], nowMs: number, options: PolicyOptions, resumedAtMs?: number): LedgerReport[] {
  return reports.filter((r) => nowMs - r.atMs < options.suspicionWindowMs && (resumedAtMs === undefined || r.atMs >= resumedAtMs));
}

/** Where reports come from, as a person reads it. */
export function sourcesOf(reports: readonly LedgerReport[]): string[] {
  const from = new Set<string>();
  for (const r of reports) {
    if (r.observers && r.observers.length > 0) for (const o of r.observers) from.add(`observer ${o}`);
    else from.add(r.source ?? 'unknown');
  }
  return [...from].sort();
}

/** The zones whose reports pass the share of the zone (at least one report). */
export function zonesDown(reports: readonly LedgerReport[], capacity: Pick<Capacity, 'zones'>, options: PolicyOptions): ZoneDown[] {
  const down: ZoneDown[] = [];
  for (const [zone, of] of Object.entries(capacity.zones).sort(([a], [b]) => a.localeCompare(b))) {
    const inZone = reports.filter((r) => r.zone === zone);
    if (inZone.length > 0 && inZone.length > options.suspicionShare * of) down.push({ zone, reported: inZone.length, of, from: sourcesOf(inZone) });
  }
  return down;
}

/** Why the reports look like a broken observer rather than a broken fleet, or undefined. */
function suspicion(reports: readonly LedgerReport[], capacity: Capacity, options: PolicyOptions): string | undefined {
  if (reports.length < options.suspicionMinInstances) return undefined;
  const within = `within ${seconds(options.suspicionWindowMs)}`;
  const base = Math.max(capacity.base, 1);
  if (reports.length > options.suspicionShare * base) return `${reports.length} of ${base} serving instances reported down ${within}`;
  const zones = Object.keys(capacity.zones).length;
  const down = zonesDown(reports, capacity, options);
  if (zones >= 2 && 2 * down.length > zones) {
    return `${down.length} of ${zones} zones reported down ${within} (${down.map((d) => `${d.zone}: ${d.reported} of ${d.of}`).join(', ')})`;
  }
  return undefined;
}

/** The zones down at `nowMs` by the ledger's reports (for the healer's zone notice and status). */
export function zonesDownNow(ledger: GroupLedger, group: Pick<GroupView, 'desiredCapacity' | 'instances'>, nowMs: number, options: PolicyOptions, resumedAtMs?: number): ZoneDown[] {
  const capacity = capacityOf(group, budgetMarks(ledger, group, nowMs, options));
  return zonesDown(fresh(ledger.reports, nowMs, options, resumedAtMs), capacity, options);
}

/** Freezes the group at `atMs` for `why`: re-arms a freeze in force, or starts one (escalated when it comes soon after the last). */
function freeze(ledger: GroupLedger, before: GroupLedger, atMs: number, why: string, options: PolicyOptions, resumedAtMs?: number): GroupLedger {
  const current = activeHold(before, atMs, resumedAtMs);
  if (current?.reason === 'frozenUntilResume') return ledger;
  const suspect = `${why} (more than ${options.suspicionShare} of them): a broken observer is likelier than a broken fleet`;
  if (current?.reason === 'frozen') {
    const untilMs = Math.max(atMs + options.freezeMs, current.untilMs ?? 0);
    const streak = before.freezes ?? { count: 1, firstMs: current.sinceMs, lastUntilMs: untilMs };
    return { ...ledger, hold: { ...current, untilMs, detail: suspect }, freezes: { ...streak, lastUntilMs: untilMs } };
  }
  const last = before.freezes;
  const inRow = last !== undefined && atMs - last.lastUntilMs <= options.freezeMs && (resumedAtMs === undefined || last.firstMs >= resumedAtMs);
  const count = inRow ? last.count + 1 : 1;
  const firstMs = inRow ? last.firstMs : atMs;
  if (count >= options.escalateAfterFreezes) {
    const hold: Hold = {
      reason: 'frozenUntilResume',
      sinceMs: atMs,
      detail: `frozen ${count} times in a row, each within ${seconds(options.freezeMs)} of the last one lifting; now ${why}: the evidence is wrong, not the fleet`,
    };
    return { ...ledger, hold, freezes: { count, firstMs, lastUntilMs: atMs } };
  }
  const untilMs = Math.max(atMs + options.freezeMs, current?.untilMs ?? 0);
  return { ...ledger, hold: { reason: 'frozen', sinceMs: atMs, untilMs, detail: suspect }, freezes: { count, firstMs, lastUntilMs: untilMs } };
}

/**
 * Records an unhealthy report of one instance and freezes the group when the reports within the
 * suspicion window pass the share of what serves, for the whole group or for most of its zones.
 * Only evidence that stands is reported (the healer re-checks stale alarms first).
 */
export function recordReport(
  ledger: GroupLedger,
  report: LedgerReport,
  group: Pick<GroupView, 'desiredCapacity' | 'instances'>,
  options: PolicyOptions,
  resumedAtMs?: number,
): GroupLedger {
  const reports = [...fresh(ledger.reports, report.atMs, options, resumedAtMs).filter((r) => r.instanceId !== report.instanceId), report];
  const next: GroupLedger = { ...ledger, reports };
  const why = suspicion(reports, capacityOf(group, budgetMarks(ledger, group, report.atMs, options)), options);
  return why === undefined ? next : freeze(next, ledger, report.atMs, why, options, resumedAtMs);
}
