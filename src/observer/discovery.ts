/**
 * The observer's targets on AWS: the InService instances of its groups at their private IPs.
 * Same answer as src/prober/aws-discovery.ts (the CLI's), but through the Auto Scaling client and
 * ec2InstanceFacts (DescribeInstances signed with the SDK's parts), so the observer's bundle
 * carries no @aws-sdk/client-ec2 (1.3 MB of schemas, seconds of cold start).
 */
import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { callAws, chunks, pages } from '../aws/call.js';
import type { InstanceFactsReader } from '../fleet/aws/ec2-instances.js';
import type { ProbeTarget } from '../prober/options.js';

/** DescribeAutoScalingGroups takes up to 100 names. */
const groupsPerCall = 100;

/** What to probe on each instance. */
export interface ObserverTargetOptions {
  groups: readonly string[];
  port: number;
  check?: 'http' | 'tcp';
  path?: string;
}

/** The prober's `discover` callback: InService instances of the groups that have a private IP. */
export function observerTargets(
  autoscaling: AutoScalingClient,
  facts: InstanceFactsReader,
  options: ObserverTargetOptions,
): (signal: AbortSignal) => Promise<ProbeTarget[]> {
  return async (signal) => {
    const inService: string[] = [];
    for (const names of chunks([...options.groups], groupsPerCall)) {
      const listing = pages((nextToken) =>
        callAws('autoscaling:DescribeAutoScalingGroups', signal, () =>
          autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names, ...(nextToken ? { NextToken: nextToken } : {}) }), {
            abortSignal: signal,
          }),
        ),
      );
      for await (const page of listing) {
        for (const group of page.AutoScalingGroups ?? []) {
          for (const i of group.Instances ?? []) if (i.InstanceId && i.LifecycleState === 'InService') inService.push(i.InstanceId);
        }
      }
    }
    // Never DescribeInstances without ids: that would list every instance of the account.
    if (inService.length === 0) return [];
    const known = await facts(inService, signal);
    return inService.flatMap((instanceId) => {
      const host = known.get(instanceId)?.privateIp;
      return host
        ? [{ instanceId, host, port: options.port, ...(options.check ? { check: options.check } : {}), ...(options.path ? { path: options.path } : {}) }]
        : [];
    });
  };
}
