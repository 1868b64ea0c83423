/**
 * An in-memory FleetPort for tests and benchmarks: groups with a desired capacity, a grace period
 * and tags; instances with a lifecycle state, a health status, a launch time and a zone. It records every
 * call, applies SetInstanceHealth to its state, and can be told to fail the next N calls of a
 * method (with a retryable throttling error unless another error is given).
 */
import { toRemoteError } from '../../src/errors.js';
import type {
  FleetPort,
  GroupView,
  HealthStatus,
  InstanceView,
  LifecycleState,
  SetHealthOptions,
} from '../../src/fleet/port.js';

/** An instance to put in a group; everything but the id has a default (InService, Healthy). */
export interface MemoryInstanceInit {
  instanceId: string;
  lifecycleState?: LifecycleState;
  healthStatus?: HealthStatus;
  launchedAt?: Date;
  availabilityZone?: string;
  /** The instance's own tags (suppression). */
  tags?: Record<string, string>;
  /** The fleet could not read the instance's facts, and says why (see FleetPort). */
  factsMissing?: string;
}

/** A group to create; defaults: desired = number of instances, grace 0 s, tagged `autoheal:enabled=true`. */
export interface MemoryGroupInit {
  name: string;
  desiredCapacity?: number;
  healthCheckGracePeriodSeconds?: number;
  tags?: Record<string, string>;
  suspendedProcesses?: string[];
  instances?: Array<MemoryInstanceInit | string>;
}

export interface SetHealthCall {
  instanceId: string;
  status: HealthStatus;
  respectGracePeriod: boolean;
}

type Method = 'describeInstances' | 'describeGroups' | 'setInstanceHealth';

const actionOf: Record<Method, string> = {
  describeInstances: 'autoscaling:DescribeAutoScalingInstances',
  describeGroups: 'autoscaling:DescribeAutoScalingGroups',
  setInstanceHealth: 'autoscaling:SetInstanceHealth',
};

/** A throttling error as the AWS SDK throws it, for {@link MemoryFleet.failNext}. */
export function throttlingError(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
}

/** An access-denied error as the AWS SDK throws it. */
export function accessDeniedError(): Error {
  return Object.assign(new Error('User is not authorized to perform: autoscaling:SetInstanceHealth'), {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: 403 },
  });
}

export class MemoryFleet implements FleetPort {
  private readonly groups = new Map<string, Omit<GroupView, 'instances'>>();
  private readonly instances = new Map<string, InstanceView>();
  private readonly failures: Array<{ method: Method; remaining: number; error: () => unknown; instanceId?: string }> = [];

  /** Every SetInstanceHealth call that succeeded, in order. */
  readonly setHealthCalls: SetHealthCall[] = [];
  /** The ids of every describeInstances call, in order. */
  readonly describeInstancesCalls: string[][] = [];
  /** The names of every describeGroups call, in order. */
  readonly describeGroupsCalls: string[][] = [];

  constructor(groups: readonly MemoryGroupInit[] = []) {
    for (const group of groups) this.addGroup(group);
  }

  addGroup(init: MemoryGroupInit): this {
    const instances = (init.instances ?? []).map((i) => (typeof i === 'string' ? { instanceId: i } : i));
    this.groups.set(init.name, {
      name: init.name,
      desiredCapacity: init.desiredCapacity ?? instances.length,
      healthCheckGracePeriodSeconds: init.healthCheckGracePeriodSeconds ?? 0,
      suspendedProcesses: init.suspendedProcesses ?? [],
      tags: init.tags ?? { 'autoheal:enabled': 'true' },
    });
    for (const instance of instances) this.addInstance(init.name, instance);
    return this;
  }

  addInstance(groupName: string, init: MemoryInstanceInit): this {
    this.instances.set(init.instanceId, {
      instanceId: init.instanceId,
      groupName,
      lifecycleState: init.lifecycleState ?? 'InService',
      healthStatus: init.healthStatus ?? 'Healthy',
      ...(init.launchedAt ? { launchedAt: init.launchedAt } : {}),
      ...(init.availabilityZone ? { availabilityZone: init.availabilityZone } : {}),
      ...(init.tags ? { tags: init.tags } : {}),
      ...(init.factsMissing ? { factsMissing: init.factsMissing } : {}),
    });
    return this;
  }

  /** Changes a group in place (desired capacity, tags, …). */
  updateGroup(name: string, change: Partial<Omit<GroupView, 'name' | 'instances'>>): this {
    const found = this.groups.get(name);
    if (!found) throw new Error(`no group ${name}`);
    this.groups.set(name, { ...found, ...change });
    return this;
  }

  /** The current view of one instance (a copy), or undefined. */
  instance(instanceId: string): InstanceView | undefined {
    const found = this.instances.get(instanceId);
    return found ? { ...found } : undefined;
  }

  /** Changes an instance in place (e.g. to simulate the group replacing it). */
  update(instanceId: string, change: Partial<Omit<InstanceView, 'instanceId'>>): this {
    const found = this.instances.get(instanceId);
    if (!found) throw new Error(`no instance ${instanceId}`);
    this.instances.set(instanceId, { ...found, ...change });
    return this;
  }

  /** The views of a group's instances now (copies). */
  groupInstances(groupName: string): InstanceView[] {
    return [...this.instances.values()].filter((i) => i.groupName === groupName).map((i) => ({ ...i }));
  }

  removeInstance(instanceId: string): this {
    this.instances.delete(instanceId);
    return this;
  }

  /**
   * The next `times` calls of `method` (for `setInstanceHealth`, optionally only those for
   * `instanceId`) throw; by default a retryable throttling error converted with toRemoteError.
   */
  failNext(method: Method, times = 1, options: { error?: () => unknown; instanceId?: string } = {}): this {
    this.failures.push({
      method,
      remaining: times,
      error: options.error ?? throttlingError,
      ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    });
    return this;
  }

  private maybeFail(method: Method, instanceId?: string): void {
    const failure = this.failures.find(
      (f) => f.method === method && f.remaining > 0 && (f.instanceId === undefined || f.instanceId === instanceId),
    );
    if (!failure) return;
    failure.remaining--;
    throw toRemoteError(actionOf[method], failure.error());
  }

  async describeInstances(instanceIds: readonly string[]): Promise<Map<string, InstanceView>> {
    this.describeInstancesCalls.push([...instanceIds]);
    this.maybeFail('describeInstances');
    const found = new Map<string, InstanceView>();
    for (const id of instanceIds) {
      const instance = this.instances.get(id);
      if (instance) found.set(id, { ...instance });
    }
    return found;
  }

  async describeGroups(groupNames: readonly string[]): Promise<GroupView[]> {
    this.describeGroupsCalls.push([...groupNames]);
    this.maybeFail('describeGroups');
    const views: GroupView[] = [];
    for (const name of new Set(groupNames)) {
      const group = this.groups.get(name);
      if (!group) continue;
      const instances = [...this.instances.values()].filter((i) => i.groupName === name).map((i) => ({ ...i }));
      views.push({ ...group, tags: { ...group.tags }, instances });
    }
    return views;
  }

  async setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void> {
    this.maybeFail('setInstanceHealth', instanceId);
    const instance = this.instances.get(instanceId);
    if (!instance) {
      throw toRemoteError(
        actionOf.setInstanceHealth,
        Object.assign(new Error(`Instance Id not found - ${instanceId}`), { name: 'ValidationError' }),
      );
    }
    this.instances.set(instanceId, { ...instance, healthStatus: status });
    this.setHealthCalls.push({ instanceId, status, respectGracePeriod: options.respectGracePeriod });
  }
}
