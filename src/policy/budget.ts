/**
 * The unhealthy budget: how much of a group may be marked and not yet replaced at once. Pure.
 */
import type { GroupView } from '../fleet/port.js';

/** The most instances of a group that may be Unhealthy and not yet replaced at once: max(1, ⌊share × desired⌋). */
export function unhealthyBudget(desiredCapacity: number, maxUnhealthyShare: number): number {
  return Math.max(1, Math.floor(maxUnhealthyShare * desiredCapacity));
}

/**
 * The budget in use: instances of the group that are Unhealthy and still present (with our own
 * recent marks, which the fleet's view may not show yet), plus marked instances that already left
 * — our recent marks gone from the view, and instances the view shows Terminated and Unhealthy —
 * while their replacements are not serving yet (at most the shortfall against desired capacity).
 * The second term keeps the budget spent after a marked instance terminates (~20 s on EC2) until
 * a replacement serves, so the next wave is not marked while the first one's replacements still
 * boot. It counts only marks: instances launched by a scale-out, Pending and not yet serving,
 * spend nothing.
 */
export function budgetInUse(group: Pick<GroupView, 'desiredCapacity' | 'instances'>, recentlyMarked: readonly string[]): number {
  const live = group.instances.filter((i) => i.lifecycleState !== 'Terminated');
  const liveIds = new Set(live.map((i) => i.instanceId));
  const unhealthy = new Set(live.filter((i) => i.healthStatus === 'Unhealthy').map((i) => i.instanceId));
  for (const id of recentlyMarked) if (liveIds.has(id)) unhealthy.add(id);
  const gone = new Set(recentlyMarked.filter((id) => !liveIds.has(id)));
  for (const i of group.instances) if (i.lifecycleState === 'Terminated' && i.healthStatus === 'Unhealthy') gone.add(i.instanceId);
  const serving = live.filter((i) => i.lifecycleState === 'InService' && !unhealthy.has(i.instanceId)).length;
  const shortfall = Math.max(0, group.desiredCapacity - serving - unhealthy.size);
  return unhealthy.size + Math.min(gone.size, shortfall);
}
