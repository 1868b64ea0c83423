/**
 * The observer's path, as its checks show it: what each failure says about where the observer
 * stands, which groups it has ever seen answer, and whether its losses look like its own network.
 * Pure, like the rest of the machine (machine.ts); the self-check (self-check.ts) turns the counts
 * kept here into reasons.
 *
 * - A check is `passed`, `answered` (a status or a reset came back from the target: the path works),
 *   `refused` (refused, or denied by this host: ECONNREFUSED, EACCES, EPERM, no route) or `silent`
 *   (nothing came back). A firewall on the observer's side refuses or drops every target alike.
 * - A group is `unknown` until one of its instances passes a check (`reachable` from then on). A
 *   target of a group that never passed turning unhealthy makes the group `unreachable`: its
 *   security group, route, port or path, not its instances. The observer withholds its votes about
 *   that group and reports it instead; the first check that passes makes it reachable again, and
 *   its other targets start their counts afresh.
 * - A target whose last checks went silent and then passed again (`recovering`) is a lost check,
 *   not a dead instance; many of them at once is a lossy path (the self-check's `lossy`).
 */
import { initialThreshold } from './threshold.js';
import { emit, type Effect, type GroupRecord, type PathOutcome, type PathRecord, type ProberState, type Reading, type TargetRecord } from './state.js';
import type { CheckResult } from './types.js';

/** What the observer says of a group it cannot reach, in logs, events and reports. */
export const unreachableReason = 'none of its instances has passed a check of this observer: its security group, route, port or path, not the instances';

/** Errors that come from the observer's own side, or a refusal: nothing of the target answered. */
const refusedErrors = /ECONNREFUSED|EACCES|EPERM|ENETUNREACH|EHOSTUNREACH/;

/** How many of a target's latest checks `recovering` looks back on. */
export const pathHistoryChecks = 8;
const historyMask = (1 << pathHistoryChecks) - 1;

export function pathOutcomeOf(result: CheckResult): PathOutcome {
  if (result.ok) return 'passed';
  if (result.status !== undefined || /ECONNRESET/.test(result.error ?? '')) return 'answered';
  return refusedErrors.test(result.error ?? '') ? 'refused' : 'silent';
}

export const initialPath = (): PathRecord => ({ silentBits: 0, passedBits: 0, recovering: false });

/** Whether a check passed after one of the latest went silent. */
function recoveringOf(p: PathRecord): boolean {
  if (p.passedBits === 0) return false;
  const newestPass = 31 - Math.clz32(p.passedBits & -p.passedBits);
  return p.silentBits >>> (newestPass + 1) !== 0;
}

/** Counts a check of a current target: its path, its group's reach, the observer's totals. */
export function notePath(s: ProberState, rec: TargetRecord, result: CheckResult, r: Reading, out: Effect[]): void {
  const outcome = pathOutcomeOf(result);
  const p = rec.path;
  uncount(s, p);
  p.outcome = outcome;
  p.silentBits = ((p.silentBits << 1) | Number(outcome === 'silent')) & historyMask;
  p.passedBits = ((p.passedBits << 1) | Number(outcome === 'passed')) & historyMask;
  p.recovering = recoveringOf(p);
  count(s, p, 1);
  if (rec.beat !== s.beats) {
    rec.beat = s.beats;
    s.probed++;
  }
  const group = groupOf(s, rec);
  if (outcome !== 'passed' || !group || group.reach.name === 'reachable') return;
  const was = group.reach;
  group.reach = { name: 'reachable' };
  if (was.name !== 'unreachable') return;
  // Failures counted while the group was out of reach say nothing about its instances: they start
  // afresh, so a stale streak cannot turn into a vote the moment the group answers.
  for (const other of s.byKey.values()) {
    if (other.target.group !== group.name) continue;
    if (other.threshold.verdict === 'unhealthy') s.unhealthy--;
    other.threshold = initialThreshold;
  }
  const fields = { observer: s.settings.options.observer, group: group.name, unreachableForMs: Math.max(0, r.atMs - was.sinceMs) };
  out.push({ type: 'log', level: 'warn', fields, message: 'prober: group reachable again; its verdicts count again' });
  emit(out, 'prober:group:reachable', { ...fields, atMs: r.atMs });
}

function count(s: ProberState, p: PathRecord, sign: 1 | -1): void {
  if (p.outcome === 'silent') s.failing += sign;
  if (p.outcome === 'refused') s.refused += sign;
  if (p.recovering) s.recovering += sign;
}

function uncount(s: ProberState, p: PathRecord): void {
  count(s, p, -1);
}

/** A target became current: its group counts it. */
export function joinGroup(s: ProberState, rec: TargetRecord): void {
  const name = rec.target.group;
  if (name === undefined) return;
  const group = s.groups.get(name) ?? { name, targets: 0, reach: { name: 'unknown' } };
  group.targets++;
  s.groups.set(name, group);
}

/** A target is no longer current: its path leaves the totals, its group forgets it (and is forgotten when empty). */
export function leaveGroup(s: ProberState, rec: TargetRecord): void {
  uncount(s, rec.path);
  const group = groupOf(s, rec);
  if (!group) return;
  group.targets--;
  if (group.targets <= 0) s.groups.delete(group.name);
}

function groupOf(s: ProberState, rec: TargetRecord): GroupRecord | undefined {
  return rec.target.group === undefined ? undefined : s.groups.get(rec.target.group);
}

/**
 * Whether the target's unhealthy verdict must be withheld because its group never answered this
 * observer; the first time, the group becomes `unreachable` and the observer says so.
 */
export function withholdForReach(s: ProberState, rec: TargetRecord, r: Reading, out: Effect[]): boolean {
  const group = groupOf(s, rec);
  if (!group || group.reach.name === 'reachable') return false;
  if (group.reach.name === 'unknown') {
    group.reach = { name: 'unreachable', sinceMs: r.atMs };
    const fields = { observer: s.settings.options.observer, group: group.name, targets: group.targets, reason: unreachableReason };
    out.push({ type: 'log', level: 'warn', fields, message: 'prober: group unreachable from this observer; withholding its verdicts' });
    emit(out, 'prober:group:unreachable', { ...fields, atMs: r.atMs });
  }
  return true;
}

/** The groups this observer cannot reach, by name, with since when (epoch ms). */
export function unreachableGroups(s: ProberState): Array<{ group: string; sinceMs: number }> {
  const out: Array<{ group: string; sinceMs: number }> = [];
  for (const g of s.groups.values()) if (g.reach.name === 'unreachable') out.push({ group: g.name, sinceMs: g.reach.sinceMs });
  return out.sort((x, y) => x.group.localeCompare(y.group));
}
