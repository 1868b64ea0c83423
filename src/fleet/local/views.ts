/**
 * How the local group shows an instance: to the healer as an {@link InstanceView} (what Auto
 * Scaling would say), to the demo and tests as a {@link LocalInstance} (pid, port, times, exit).
 * Pure functions of the machine's state.
 */
import type { InstanceView } from '../port.js';
import type { LocalInstance } from './group-events.js';
import type { GroupState, Instance } from './machine.js';

export function instanceView(i: Instance, groupName: string): InstanceView {
  return {
    instanceId: i.instanceId,
    groupName,
    lifecycleState: i.state,
    healthStatus: i.health,
    launchedAt: new Date(i.launchedAtMs),
    ...(i.zone !== undefined ? { availabilityZone: i.zone } : {}),
  };
}

export function localInstance(i: Instance, groupName: string): LocalInstance {
  const inServiceAtMs = i.state === 'Pending' ? undefined : i.inServiceAtMs;
  const reason = i.state === 'Terminating' || i.state === 'Terminated' ? i.reason : undefined;
  const exit = i.state === 'Terminated' || i.state === 'InService' ? i.exit : undefined;
  return {
    ...instanceView(i, groupName),
    launchedAt: new Date(i.launchedAtMs),
    port: i.port ?? 0,
    ...(i.pid !== undefined ? { pid: i.pid } : {}),
    ...(inServiceAtMs !== undefined ? { inServiceAt: new Date(inServiceAtMs) } : {}),
    ...(i.state === 'Terminated' ? { terminatedAt: new Date(i.terminatedAtMs) } : {}),
    ...(i.replaces !== undefined ? { replaces: i.replaces } : {}),
    ...(reason !== undefined ? { terminationReason: reason } : {}),
    ...(exit ? { exit } : {}),
  };
}

/** One line on how far the group is: `desired 3; 2 InService/Healthy, 1 Pending/Healthy`. */
export function summary(state: GroupState): string {
  const counts = new Map<string, number>();
  for (const i of state.instances) {
    const key = `${i.state}/${i.health}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return `desired ${state.desired}; ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no instances'}`;
}
