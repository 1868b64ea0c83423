/**
 * Stage 1 of the healer: the views. One describe call each (instances, then their groups) per
 * batch of signals, for the signals that need one: unhealthy evidence, and probe verdicts of
 * either kind (a healthy verdict withdraws its observer's vote, kept in the group's ledger).
 * Healthy alarm evidence needs no view: the policy skips it before any.
 */
import { isRetryable } from '../errors.js';
import type { FleetPort, GroupView, InstanceView } from '../fleet/port.js';
import type { HealthSignal } from '../signals/types.js';

export interface Views {
  instances: Map<string, InstanceView>;
  groups: Map<string, GroupView>;
  /** Instances whose view could not be read, with the error: their signals fail with it. */
  failed: Map<string, unknown>;
}

/** Whether the healer needs the fleet's view to handle `s`. */
export const needsView = (s: HealthSignal): boolean => s.state === 'unhealthy' || s.source === 'probe';

/**
 * Reads the views of the signals' instances and groups. When a batch describe fails for a reason
 * a retry cannot fix (one malformed id makes Auto Scaling refuse the whole call), each instance is
 * described alone, so only the instances that really fail carry the error.
 */
export async function readViews(fleet: FleetPort, signals: readonly HealthSignal[], signal?: AbortSignal): Promise<Views> {
  const views: Views = { instances: new Map(), groups: new Map(), failed: new Map() };
  const ids = [...new Set(signals.filter(needsView).map((s) => s.instanceId))];
  if (ids.length === 0) return views;
  try {
    views.instances = await fleet.describeInstances(ids, signal);
  } catch (error) {
    if (ids.length === 1 || isRetryable(error)) {
      for (const id of ids) views.failed.set(id, error);
      return views;
    }
    for (const id of ids) {
      try {
        for (const [key, view] of await fleet.describeInstances([id], signal)) views.instances.set(key, view);
      } catch (alone) {
        views.failed.set(id, alone);
      }
    }
  }
  const names = [...new Set([...views.instances.values()].map((i) => i.groupName))];
  if (names.length === 0) return views;
  try {
    for (const group of await fleet.describeGroups(names, signal)) views.groups.set(group.name, group);
  } catch (error) {
    for (const view of views.instances.values()) views.failed.set(view.instanceId, error);
  }
  return views;
}
