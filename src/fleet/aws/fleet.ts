/**
 * The fleet port over EC2 Auto Scaling, through the wing (src/aws/autoscaling.ts, src/aws/ec2.ts):
 * this maps what Auto Scaling and EC2 answer to the port's views.
 *
 * The grace period on AWS: neither DescribeAutoScalingInstances nor DescribeAutoScalingGroups
 * returns an instance's launch time, so with an instance facts reader the instance views are
 * completed by EC2 DescribeInstances (LaunchTime, and the instance's tags for suppression): the
 * policy then skips an instance inside its group's grace period with `inGracePeriod` instead of
 * sending a mark that Auto Scaling would refuse or ignore. Without that reader the views carry
 * neither, and Auto Scaling's own ShouldRespectGracePeriod is the only grace check.
 */
import { z } from 'zod';
import {
  defaultGroupsPerCall,
  describeAutoScalingInstances,
  describeAutoScalingGroups,
  maxGroupsPerCall,
  maxInstanceIdsPerCall,
  setInstanceHealth,
  type AutoScalingClient,
  type Group,
  type GroupInstance,
} from '../../aws/autoscaling.js';
import { describeInstances, type InstanceFacts } from '../../aws/ec2.js';
import type { SigningClient } from '../../aws/query.js';
import { ConfigError } from '../../errors.js';
import type { FleetPort, GroupView, HealthStatus, InstanceView, SetHealthOptions } from '../port.js';

export type { InstanceFacts } from '../../aws/ec2.js';

/** Reads the facts of the given instances; ids EC2 does not know are absent. */
export type InstanceFactsReader = (instanceIds: readonly string[], signal?: AbortSignal) => Promise<Map<string, InstanceFacts>>;

/** The reader over EC2 DescribeInstances, signed with the given client's parts (the Auto Scaling client's, in the healer). */
export function ec2InstanceFacts(client: SigningClient): InstanceFactsReader {
  return (instanceIds, signal) => describeInstances(client, instanceIds, signal);
}

/** Options of {@link AwsFleet}. */
export const awsFleetOptionsSchema = z
  .object({
    /** Instance ids per DescribeAutoScalingInstances call. */
    instanceIdsPerCall: z.number().int().min(1).max(maxInstanceIdsPerCall).default(maxInstanceIdsPerCall),
    /** Group names per DescribeAutoScalingGroups call (sent as MaxRecords too). */
    groupNamesPerCall: z.number().int().min(1).max(maxGroupsPerCall).default(defaultGroupsPerCall),
  })
  .strict();

export type AwsFleetOptions = z.input<typeof awsFleetOptionsSchema> & {
  /** EC2's facts of each instance: launch time and tags (see above; ec2InstanceFacts). Without it, neither is known. */
  instanceFacts?: InstanceFactsReader;
};

/** DescribeAutoScalingInstances says `HEALTHY`, DescribeAutoScalingGroups says `Healthy`. */
function healthOf(value: string): HealthStatus {
  return value.toUpperCase() === 'UNHEALTHY' ? 'Unhealthy' : 'Healthy';
}

function instanceView(i: GroupInstance): InstanceView {
  return {
    instanceId: i.instanceId,
    groupName: i.groupName,
    lifecycleState: i.lifecycleState,
    healthStatus: healthOf(i.healthStatus),
    ...(i.availabilityZone ? { availabilityZone: i.availabilityZone } : {}),
  };
}

/** The port's view of a group Auto Scaling described. */
export function groupView(g: Group): GroupView {
  return { ...g, instances: g.instances.map(instanceView) };
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
    const listed = await describeAutoScalingInstances(this.client, instanceIds, { idsPerCall: this.options.instanceIdsPerCall, ...(signal ? { signal } : {}) });
    const found = new Map(listed.map((i) => [i.instanceId, instanceView(i)]));
    if (this.instanceFacts && found.size > 0) {
      const read = await this.instanceFacts([...found.keys()], signal);
      for (const view of found.values()) {
        const facts = read.get(view.instanceId);
        // Facts missing or unreadable fail closed: the policy skips the instance as unavailable.
        if (!facts || facts.unreadable) view.factsMissing = facts?.unreadable ?? 'absent from EC2 DescribeInstances';
        if (facts?.launchedAt) view.launchedAt = facts.launchedAt;
        if (facts) view.tags = facts.tags;
      }
    }
    return found;
  }

  async describeGroups(groupNames: readonly string[], signal?: AbortSignal): Promise<GroupView[]> {
    return (await describeAutoScalingGroups(this.client, { names: groupNames, namesPerCall: this.options.groupNamesPerCall }, signal)).map(groupView);
  }

  async setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void> {
    await setInstanceHealth(this.client, { instanceId, status, respectGracePeriod: options.respectGracePeriod }, options.signal);
  }
}
