/**
 * The unhealthy budget, measured against the instances that serve. Pure.
 *
 * Desired capacity says what a group should have, not what it has: during a scale-out the new
 * instances still boot, during a shortfall launches fail. A share of desired capacity then lets
 * 8 of 10 serving instances go (desired 20), or all 3 of 3 (desired 10). So every share — the
 * budget, and the suspicion share (./suspicion.ts) — is measured against the {@link Capacity}
 * `base`: the instances that serve, plus the ones taken out of service by a mark (ours or the
 * group's own health check) and not replaced yet.
 *
 * Why the marked ones belong to the base: they served until the mark, and the budget exists to
 * bound how many of them a wrong observer can take. If the base were only what serves now, each
 * mark would shrink it and the budget with it (10 serving at 40 %: 4, then 3 after three marks),
 * so a group would stop one wave short. With them, the base stays 10 while the first wave is
 * marked, terminated and replaced, and the budget stays 4.
 *
 * It is never more than desired capacity: during a scale-in the instances about to leave are
 * not counted on.
 */
import { hasLeftGroup, type GroupView } from '../fleet/port.js';

/** A mark the budget counts: the instance, and its zone where known. */
export interface BudgetMark {
  instanceId: string;
  zone?: string;
}

/** What a group has, for the budget and the suspicion share. */
export interface Capacity {
  /** InService, Healthy and not marked. */
  serving: number;
  /**
   * The budget in use: Unhealthy (or marked by us, which the view may not show yet) and still
   * present, plus marked instances that already left while their replacements do not serve yet
   * (at most the shortfall against desired capacity).
   */
  inUse: number;
  /** What shares are measured against: min(desired, serving + inUse). */
  base: number;
  /** Desired capacity neither serving nor present and marked: where the replacements of gone marks are owed. */
  shortfall: number;
  /** Desired capacity nobody's mark explains: launches failing, or a scale-out still booting. */
  missing: number;
  /** Per Availability Zone, the zone's share of the base (its instances that serve or are in use). */
  zones: Record<string, number>;
}

/** The most instances of a group that may be marked and not yet replaced at once: max(1, ⌊share × base⌋). */
export function unhealthyBudget(base: number, maxUnhealthyShare: number): number {
  return Math.max(1, Math.floor(maxUnhealthyShare * base));
}

/**
 * The capacity of `group` with `marked` the marks to count (the healer's recent marks, and
 * older ones whose instance left and was not replaced yet, ./rails.ts budgetMarks).
 *
 * The gone term keeps the budget spent after a marked instance terminates (~20 s on EC2) until a
 * replacement serves, so the next wave is not marked while the first one's replacements still
 * boot, and nothing more is marked while launches keep failing. It counts only marks: instances
 * launched by a scale-out, Pending and not yet serving, spend nothing.
 */
export function capacityOf(group: Pick<GroupView, 'desiredCapacity' | 'instances'>, marked: readonly BudgetMark[]): Capacity {
  const live = group.instances.filter((i) => !hasLeftGroup(i.lifecycleState));
  const liveIds = new Set(live.map((i) => i.instanceId));
  const unhealthy = new Set(live.filter((i) => i.healthStatus === 'Unhealthy').map((i) => i.instanceId));
  for (const m of marked) if (liveIds.has(m.instanceId)) unhealthy.add(m.instanceId);
  const gone = new Map<string, string | undefined>();
  for (const m of marked) if (!liveIds.has(m.instanceId)) gone.set(m.instanceId, m.zone);
  // A retained instance (quarantine `retain`) is out of the desired capacity as a terminated one is: it counts only until its replacement serves.
  for (const i of group.instances) if (hasLeftGroup(i.lifecycleState) && i.healthStatus === 'Unhealthy') gone.set(i.instanceId, i.availabilityZone);
  const serving = live.filter((i) => i.lifecycleState === 'InService' && !unhealthy.has(i.instanceId));
  const shortfall = Math.max(0, group.desiredCapacity - serving.length - unhealthy.size);
  const inUse = unhealthy.size + Math.min(gone.size, shortfall);
  const zones: Record<string, number> = {};
  const count = (zone: string | undefined) => {
    if (zone !== undefined) zones[zone] = (zones[zone] ?? 0) + 1;
  };
  for (const i of live) if (i.lifecycleState === 'InService' || unhealthy.has(i.instanceId)) count(i.availabilityZone);
  for (const zone of gone.values()) count(zone);
  return {
    serving: serving.length,
    inUse,
    base: Math.min(group.desiredCapacity, serving.length + inUse),
    shortfall,
    missing: Math.max(0, group.desiredCapacity - serving.length - inUse),
    zones,
  };
}

/** The budget in use (see {@link capacityOf}) with `recentlyMarked` the ids of the marks to count. */
export function budgetInUse(group: Pick<GroupView, 'desiredCapacity' | 'instances'>, recentlyMarked: readonly string[]): number {
  return capacityOf(group, recentlyMarked.map((instanceId) => ({ instanceId }))).inUse;
}
