/**
 * Finds what the prober should check in Auto Scaling groups on AWS: the groups' InService
 * instances (DescribeAutoScalingGroups) and their private IPs (EC2 DescribeInstances, signed with
 * the Auto Scaling client's parts), both through the wing (src/aws/). Used as the prober's
 * `discover` callback, it is called again every `discoverEveryMs`, so the targets follow the
 * groups as they scale and replace instances. `autoheal probe` and the observer Lambda share it.
 */
import { describeAutoScalingGroups, type AutoScalingClient } from '../aws/autoscaling.js';
import { describeInstances } from '../aws/ec2.js';
import { ConfigError } from '../errors.js';
import type { ProbeTarget } from './options.js';

/** One instance of a group as discovery sees it. */
export interface DiscoveredInstance {
  instanceId: string;
  lifecycleState: string;
  healthStatus: string;
  /** Absent when EC2 reports none (the instance is gone or has no network interface yet). */
  privateIp?: string;
  launchedAt?: Date;
}

/** The AWS client discovery uses (EC2 is asked with its parts). */
export interface AwsDiscoveryClients {
  autoscaling: AutoScalingClient;
}

/**
 * Every instance of each group (any lifecycle state) with its private IP and launch time, by group.
 * Groups that do not exist are absent.
 */
async function describeGroupsInstances(clients: AwsDiscoveryClients, groupNames: readonly string[], signal?: AbortSignal): Promise<Map<string, DiscoveredInstance[]>> {
  const groups = await describeAutoScalingGroups(clients.autoscaling, { names: groupNames }, signal);
  const byGroup = new Map(
    groups.map((g) => [g.name, g.instances.map((i): DiscoveredInstance => ({ instanceId: i.instanceId, lifecycleState: i.lifecycleState, healthStatus: i.healthStatus }))]),
  );
  const all = [...byGroup.values()].flat();
  // Never DescribeInstances without ids: that would list every instance of the account.
  if (all.length === 0) return byGroup;
  const facts = await describeInstances(clients.autoscaling, all.map((i) => i.instanceId), signal);
  for (const instance of all) {
    const known = facts.get(instance.instanceId);
    if (known?.privateIp) instance.privateIp = known.privateIp;
    if (known?.launchedAt) instance.launchedAt = known.launchedAt;
  }
  return byGroup;
}

/**
 * Every instance of the group (any lifecycle state) with its private IP and launch time.
 * Throws a ConfigError when the group does not exist.
 */
export async function describeGroupInstances(clients: AwsDiscoveryClients, groupName: string, signal?: AbortSignal): Promise<DiscoveredInstance[]> {
  const instances = (await describeGroupsInstances(clients, [groupName], signal)).get(groupName);
  if (!instances) throw new ConfigError(`Auto Scaling group "${groupName}" not found`);
  return instances;
}

/** How discovered instances become probe targets. */
export interface GroupTargetsOptions {
  /** The groups; one that does not exist has no targets. */
  groups: readonly string[];
  port: number;
  /** Overrides the prober's check for these targets. */
  check?: 'http' | 'tcp';
  path?: string;
}

/**
 * The prober's `discover` callback for groups: their InService instances that have a private IP,
 * each probed at `privateIp:port`.
 */
export function groupTargets(clients: AwsDiscoveryClients, options: GroupTargetsOptions): (signal: AbortSignal) => Promise<ProbeTarget[]> {
  return async (signal) => {
    const byGroup = await describeGroupsInstances(clients, options.groups, signal);
    // Each target names its group: the observer judges per group whether it can reach it at all.
    return [...byGroup].flatMap(([group, instances]) =>
      instances.flatMap((i) =>
        i.lifecycleState === 'InService' && i.privateIp !== undefined
          ? [{ instanceId: i.instanceId, host: i.privateIp, port: options.port, group, ...(options.check ? { check: options.check } : {}), ...(options.path ? { path: options.path } : {}) }]
          : [],
      ),
    );
  };
}
