/**
 * The fleet port over EC2 Auto Scaling (AWS SDK v3). Thin: one SDK call per API page, errors
 * converted at this boundary (src/aws/call.ts), the clients injected (build them with
 * awsClientSettings, so throttling is retried adaptively by the SDK).
 *
 * The grace period on AWS: neither DescribeAutoScalingInstances nor DescribeAutoScalingGroups
 * returns an instance's launch time, so with an EC2 client the instance views are completed by
 * EC2 DescribeInstances (LaunchTime, and the instance's tags for suppression; ./ec2-instances.ts): the policy then
 * skips an instance inside its group's grace period with `inGracePeriod` instead of sending a mark
 * that Auto Scaling would refuse or ignore. Without that reader the views carry neither, and
 * Auto Scaling's own ShouldRespectGracePeriod is the only grace check.
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { z } from 'zod';
import { callAws, chunks, pages } from '../../aws/call.js';
import { ConfigError } from '../../errors.js';
import type { InstanceFactsReader } from './ec2-instances.js';
import type { FleetPort, GroupView, HealthStatus, InstanceView, SetHealthOptions } from '../port.js';

/** DescribeAutoScalingInstances accepts at most 50 instance ids (and returns at most 50 records) per call. */
export const maxInstanceIdsPerCall = 50;
/** DescribeAutoScalingGroups accepts 50 names per call by default (up to MaxRecords, at most 100). */
export const maxGroupNamesPerCall = 100;

/** Options of {@link AwsFleet}. */
export const awsFleetOptionsSchema = z
  .object({
    /** Instance ids per DescribeAutoScalingInstances call. */
    instanceIdsPerCall: z.number().int().min(1).max(maxInstanceIdsPerCall).default(maxInstanceIdsPerCall),
    /** Group names per DescribeAutoScalingGroups call (sent as MaxRecords too). */
    groupNamesPerCall: z.number().int().min(1).max(maxGroupNamesPerCall).default(50),
  })
  .strict();

export type AwsFleetOptions = z.input<typeof awsFleetOptionsSchema> & {
  /** EC2's facts of each instance: launch time and tags (see above; ec2InstanceFacts). Without it, neither is known. */
  instanceFacts?: InstanceFactsReader;
};

/** DescribeAutoScalingInstances says `HEALTHY`, DescribeAutoScalingGroups says `Healthy`. */
function healthOf(value: string | undefined): HealthStatus {
  return value?.toUpperCase() === 'UNHEALTHY' ? 'Unhealthy' : 'Healthy';
}

export class AwsFleet implements FleetPort {
  private readonly options: z.output<typeof awsFleetOptionsSchema>;
  private readonly instanceFacts: InstanceFactsReader | undefined;

  constructor(
    private readonly client: AutoScalingClient,
    options: AwsFleetOptions = {},
  ) {
    const { instanceFacts, ...rest } = options;
    this.instanceFacts = instanceFacts;
    const parsed = awsFleetOptionsSchema.safeParse(rest);
    if (!parsed.success) throw new ConfigError(`AwsFleet options: ${z.prettifyError(parsed.error)}`);
    this.options = parsed.data;
  }

  async describeInstances(instanceIds: readonly string[], signal?: AbortSignal): Promise<Map<string, InstanceView>> {
    const found = new Map<string, InstanceView>();
    // Never send an empty list: the API reads it as "every instance of every group".
    const ids = [...new Set(instanceIds)];
    for (const batch of chunks(ids, this.options.instanceIdsPerCall)) {
      const listing = pages((nextToken) =>
        callAws('autoscaling:DescribeAutoScalingInstances', signal, (abortSignal) =>
          this.client.send(
            new DescribeAutoScalingInstancesCommand({
              InstanceIds: batch,
              MaxRecords: maxInstanceIdsPerCall,
              ...(nextToken ? { NextToken: nextToken } : {}),
            }),
            { abortSignal },
          ),
        ),
      );
      for await (const page of listing) {
        for (const i of page.AutoScalingInstances ?? []) {
          if (!i.InstanceId || !i.AutoScalingGroupName) continue;
          found.set(i.InstanceId, {
            instanceId: i.InstanceId,
            groupName: i.AutoScalingGroupName,
            lifecycleState: i.LifecycleState ?? 'Unknown',
            healthStatus: healthOf(i.HealthStatus),
            ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
          });
        }
      }
    }
    if (this.instanceFacts && found.size > 0) {
      for (const [id, facts] of await this.instanceFacts([...found.keys()], signal)) {
        const view = found.get(id);
        if (!view) continue;
        if (facts.launchedAt) view.launchedAt = facts.launchedAt;
        view.tags = facts.tags;
      }
    }
    return found;
  }

  async describeGroups(groupNames: readonly string[], signal?: AbortSignal): Promise<GroupView[]> {
    const groups: GroupView[] = [];
    // Never send an empty list: the API reads it as "every group of the account".
    const names = [...new Set(groupNames)];
    for (const batch of chunks(names, this.options.groupNamesPerCall)) {
      const listing = pages((nextToken) =>
        callAws('autoscaling:DescribeAutoScalingGroups', signal, (abortSignal) =>
          this.client.send(
            new DescribeAutoScalingGroupsCommand({
              AutoScalingGroupNames: batch,
              MaxRecords: this.options.groupNamesPerCall,
              ...(nextToken ? { NextToken: nextToken } : {}),
            }),
            { abortSignal },
          ),
        ),
      );
      for await (const page of listing) {
        for (const g of page.AutoScalingGroups ?? []) {
          if (!g.AutoScalingGroupName) continue;
          const name = g.AutoScalingGroupName;
          groups.push({
            name,
            desiredCapacity: g.DesiredCapacity ?? 0,
            healthCheckGracePeriodSeconds: g.HealthCheckGracePeriod ?? 0,
            tags: Object.fromEntries((g.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key, t.Value ?? ''])),
            suspendedProcesses: (g.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
            instances: (g.Instances ?? [])
              .filter((i) => i.InstanceId !== undefined)
              .map((i) => ({
                instanceId: i.InstanceId as string,
                groupName: name,
                lifecycleState: i.LifecycleState ?? 'Unknown',
                healthStatus: healthOf(i.HealthStatus),
                ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
              })),
          });
        }
      }
    }
    return groups;
  }

  async setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void> {
    await callAws('autoscaling:SetInstanceHealth', options.signal, (abortSignal) =>
      this.client.send(
        new SetInstanceHealthCommand({
          InstanceId: instanceId,
          HealthStatus: status,
          ShouldRespectGracePeriod: options.respectGracePeriod,
        }),
        { abortSignal },
      ),
    );
  }
}
