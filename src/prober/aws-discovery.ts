/**
 * Finds what the prober should check in an Auto Scaling group on AWS: the group's InService
 * instances (DescribeAutoScalingGroups) and their private IPs (EC2 DescribeInstances). Thin
 * adapter: clients injected, abort signal passed, errors converted naming the IAM action. Used
 * as the prober's `discover` callback, it is called again every `discoverEveryMs`, so the
 * targets follow the group as it scales and replaces instances.
 */
import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { callAws, chunks, pages } from '../aws/call.js';
import { ConfigError } from '../errors.js';
import type { InstanceFacts, InstanceFactsReader } from '../fleet/aws/ec2-instances.js';
import type { ProbeTarget } from './options.js';

/** Instance ids per EC2 DescribeInstances call (the API takes up to 1000 with InstanceIds). */
export const instanceIdsPerDescribe = 200;

/** One instance of the group as discovery sees it. */
export interface DiscoveredInstance {
  instanceId: string;
  lifecycleState: string;
  healthStatus: string;
  /** Absent when EC2 reports none (the instance is gone or has no network interface yet). */
  privateIp?: string;
  launchedAt?: Date;
}

/** The AWS clients discovery uses. */
export interface AwsDiscoveryClients {
  autoscaling: AutoScalingClient;
  ec2: EC2Client;
}

/** EC2's record of each of the instances, in pages and batches. */
async function describeEc2Instances(client: EC2Client, ids: readonly string[], signal?: AbortSignal): Promise<Instance[]> {
  const found: Instance[] = [];
  // Never call DescribeInstances without ids: that lists every instance of the account.
  for (const batch of chunks([...ids], instanceIdsPerDescribe)) {
    const listing = pages((nextToken) =>
      callAws('ec2:DescribeInstances', signal, (abortSignal) =>
        client.send(new DescribeInstancesCommand({ InstanceIds: batch, ...(nextToken ? { NextToken: nextToken } : {}) }), { abortSignal }),
      ),
    );
    for await (const page of listing) for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
  }
  return found;
}

/**
 * The healer's instance facts (launch time, tags) through the EC2 client the prober already has
 * (commands only; the Lambda uses ec2InstanceFacts, which needs no EC2 client in its bundle).
 */
export function ec2ClientFacts(client: EC2Client): InstanceFactsReader {
  return async (ids, signal) => {
    const facts = new Map<string, InstanceFacts>();
    for (const i of await describeEc2Instances(client, ids, signal)) {
      if (!i.InstanceId) continue;
      const tags = Object.fromEntries((i.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']));
      facts.set(i.InstanceId, { ...(i.LaunchTime ? { launchedAt: new Date(i.LaunchTime) } : {}), tags });
    }
    return facts;
  };
}

/**
 * Every instance of the group (any lifecycle state) with its private IP and launch time.
 * Throws a ConfigError when the group does not exist.
 */
export async function describeGroupInstances(
  clients: AwsDiscoveryClients,
  groupName: string,
  signal?: AbortSignal,
): Promise<DiscoveredInstance[]> {
  const out = await callAws('autoscaling:DescribeAutoScalingGroups', signal, (abortSignal) =>
    clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }), { abortSignal }),
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
  if (!group) throw new ConfigError(`Auto Scaling group "${groupName}" not found`);
  const instances: DiscoveredInstance[] = (group.Instances ?? []).flatMap((i) =>
    i.InstanceId
      ? [{ instanceId: i.InstanceId, lifecycleState: i.LifecycleState ?? 'Unknown', healthStatus: i.HealthStatus ?? 'Healthy' }]
      : [],
  );

  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  for (const ec2 of await describeEc2Instances(clients.ec2, [...byId.keys()], signal)) {
    const found = ec2.InstanceId ? byId.get(ec2.InstanceId) : undefined;
    if (!found) continue;
    if (ec2.PrivateIpAddress) found.privateIp = ec2.PrivateIpAddress;
    if (ec2.LaunchTime) found.launchedAt = ec2.LaunchTime;
  }
  return instances;
}

/** How discovered instances become probe targets. */
export interface GroupTargetsOptions {
  groupName: string;
  port: number;
  /** Overrides the prober's check for these targets. */
  check?: 'http' | 'tcp';
  path?: string;
}

/**
 * The prober's `discover` callback for a group: its InService instances that have a private IP,
 * each probed at `privateIp:port`.
 */
export function groupTargets(
  clients: AwsDiscoveryClients,
  options: GroupTargetsOptions,
): (signal: AbortSignal) => Promise<ProbeTarget[]> {
  return async (signal) => {
    const instances = await describeGroupInstances(clients, options.groupName, signal);
    return instances
      .filter((i) => i.lifecycleState === 'InService' && i.privateIp !== undefined)
      .map((i) => ({
        instanceId: i.instanceId,
        host: i.privateIp as string,
        port: options.port,
        ...(options.check ? { check: options.check } : {}),
        ...(options.path ? { path: options.path } : {}),
      }));
  };
}
