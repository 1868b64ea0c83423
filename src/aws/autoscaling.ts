/**
 * EC2 Auto Scaling: the only place that talks to it. One reader per API, each following every
 * page and cutting id lists to the API's limits, answering plain data its users map; refusals
 * become typed errors (a mark inside the grace period is a {@link GracePeriodRefusedError}). The
 * writers: marks, the group's own tags, its replacement and retention policies (the group settings
 * function, src/group-settings/), and the completion of a termination lifecycle action (the
 * evidence function, src/evidence/).
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  CreateOrUpdateTagsCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeScalingActivitiesCommand,
  SetInstanceHealthCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { GracePeriodRefusedError, RemoteError } from '../errors.js';
import { mapLimited } from '../concurrency.js';
import { callAws, callsAtOnce, chunks, pages } from './call.js';
import { clientSettings, type ClientOptions } from './settings.js';

export type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';

/** DescribeAutoScalingInstances accepts at most 50 instance ids (and returns at most 50 records) per call. */
export const maxInstanceIdsPerCall = 50;
/** DescribeAutoScalingGroups takes up to 100 names and returns up to 100 groups per page (MaxRecords). */
export const maxGroupsPerCall = 100;
/** DescribeAutoScalingGroups' own page size when MaxRecords is not sent. */
export const defaultGroupsPerCall = 50;

/** An Auto Scaling client with the standard settings (src/aws/settings.ts). */
export function autoScalingClient(options: ClientOptions = {}): AutoScalingClient {
  return new AutoScalingClient(clientSettings(options));
}

/** One instance as Auto Scaling reports it; `healthStatus` as the API spells it (`Healthy`, or `HEALTHY` from DescribeAutoScalingInstances). */
export interface GroupInstance {
  instanceId: string;
  groupName: string;
  lifecycleState: string;
  healthStatus: string;
  availabilityZone?: string;
}

/**
 * A group's instance maintenance policy: the share of the desired capacity kept InService and
 * healthy (min), and the share that may be running or launching (max), while instances are
 * replaced. Absent when the group has none (Auto Scaling then terminates an Unhealthy instance first).
 */
export interface MaintenancePolicy {
  minHealthyPercentage?: number;
  maxHealthyPercentage?: number;
}

/** One group as Auto Scaling reports it. */
export interface Group {
  name: string;
  desiredCapacity: number;
  healthCheckGracePeriodSeconds: number;
  tags: Record<string, string>;
  suspendedProcesses: string[];
  instances: GroupInstance[];
  /** Its instance maintenance policy, when it has one. */
  maintenancePolicy?: MaintenancePolicy;
  /** What happens when a termination lifecycle action is abandoned: `retain` (kept, Terminating:Retained) or `terminate`; absent: terminate. */
  terminateHookAbandon?: string;
}

/** Which groups to describe: by name (unknown names are absent from the answer), or every group carrying a tag. */
export type GroupQuery = { names: readonly string[]; namesPerCall?: number } | { tag: { key: string; value: string } };

function groupOf(g: AutoScalingGroup & { AutoScalingGroupName: string }): Group {
  const name = g.AutoScalingGroupName;
  return {
    name,
    desiredCapacity: g.DesiredCapacity ?? 0,
    healthCheckGracePeriodSeconds: g.HealthCheckGracePeriod ?? 0,
    tags: Object.fromEntries((g.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key, t.Value ?? ''])),
    suspendedProcesses: (g.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
    instances: (g.Instances ?? []).flatMap((i) =>
      i.InstanceId
        ? [{ instanceId: i.InstanceId, groupName: name, lifecycleState: i.LifecycleState ?? 'Unknown', healthStatus: i.HealthStatus ?? 'Healthy', ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}) }]
        : [],
    ),
    ...(g.InstanceMaintenancePolicy && (g.InstanceMaintenancePolicy.MinHealthyPercentage !== undefined || g.InstanceMaintenancePolicy.MaxHealthyPercentage !== undefined)
      ? {
          maintenancePolicy: {
            ...(g.InstanceMaintenancePolicy.MinHealthyPercentage !== undefined ? { minHealthyPercentage: g.InstanceMaintenancePolicy.MinHealthyPercentage } : {}),
            ...(g.InstanceMaintenancePolicy.MaxHealthyPercentage !== undefined ? { maxHealthyPercentage: g.InstanceMaintenancePolicy.MaxHealthyPercentage } : {}),
          },
        }
      : {}),
    ...(g.InstanceLifecyclePolicy?.RetentionTriggers?.TerminateHookAbandon ? { terminateHookAbandon: g.InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon } : {}),
  };
}

/**
 * DescribeAutoScalingGroups, every page: the named groups that exist (in batches of `namesPerCall`,
 * default 50, sent as MaxRecords too), or the groups carrying the tag (Auto Scaling's `tag:<key>`
 * filter is exact and case-sensitive). Never asks without names: that would list every group.
 */
export async function describeAutoScalingGroups(client: AutoScalingClient, query: GroupQuery, signal?: AbortSignal): Promise<Group[]> {
  const requests =
    'names' in query
      ? chunks([...new Set(query.names)], query.namesPerCall ?? defaultGroupsPerCall).map((names) => ({ AutoScalingGroupNames: names, MaxRecords: query.namesPerCall ?? defaultGroupsPerCall }))
      : [{ Filters: [{ Name: `tag:${query.tag.key}`, Values: [query.tag.value] }], MaxRecords: maxGroupsPerCall }];
  const groups: Group[] = [];
  for (const request of requests) {
    const listing = pages((nextToken) =>
      callAws('autoscaling:DescribeAutoScalingGroups', signal, (abortSignal) =>
        client.send(new DescribeAutoScalingGroupsCommand({ ...request, ...(nextToken ? { NextToken: nextToken } : {}) }), { abortSignal }),
      ),
    );
    for await (const page of listing) {
      for (const g of page.AutoScalingGroups ?? []) if (g.AutoScalingGroupName) groups.push(groupOf({ ...g, AutoScalingGroupName: g.AutoScalingGroupName }));
    }
  }
  return groups;
}

/**
 * DescribeAutoScalingInstances, every page, in batches of `idsPerCall` (at most 50): the instances
 * among `instanceIds` that belong to a group. Never asks without ids: that would list every instance of every group.
 */
export async function describeAutoScalingInstances(
  client: AutoScalingClient,
  instanceIds: readonly string[],
  options: { idsPerCall?: number; signal?: AbortSignal } = {},
): Promise<GroupInstance[]> {
  const batches = chunks([...new Set(instanceIds)], options.idsPerCall ?? maxInstanceIdsPerCall);
  const perBatch = await mapLimited(batches, callsAtOnce, async (batch) => {
    const found: GroupInstance[] = [];
    const listing = pages((nextToken) =>
      callAws('autoscaling:DescribeAutoScalingInstances', options.signal, (abortSignal) =>
        client.send(
          new DescribeAutoScalingInstancesCommand({ InstanceIds: batch, MaxRecords: maxInstanceIdsPerCall, ...(nextToken ? { NextToken: nextToken } : {}) }),
          { abortSignal },
        ),
      ),
    );
    for await (const page of listing) {
      for (const i of page.AutoScalingInstances ?? []) {
        if (!i.InstanceId || !i.AutoScalingGroupName) continue;
        found.push({
          instanceId: i.InstanceId,
          groupName: i.AutoScalingGroupName,
          lifecycleState: i.LifecycleState ?? 'Unknown',
          healthStatus: i.HealthStatus ?? 'HEALTHY',
          ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
        });
      }
    }
    return found;
  });
  return perBatch.flat();
}

/** Auto Scaling's refusal of a mark inside the grace period: "The age of the instance (986 seconds) is less than the configured grace period of 1500 seconds". */
const gracePeriodRefusal = /age of the instance \((\d+) seconds\) is less than the configured grace period of (\d+) seconds/i;

/**
 * SetInstanceHealth. Inside the grace period Auto Scaling knows of (with ShouldRespectGracePeriod)
 * it refuses the mark: that is a {@link GracePeriodRefusedError}, read here so that no caller reads
 * the message.
 */
export async function setInstanceHealth(
  client: AutoScalingClient,
  mark: { instanceId: string; status: 'Healthy' | 'Unhealthy'; respectGracePeriod: boolean },
  signal?: AbortSignal,
): Promise<void> {
  try {
    await callAws('autoscaling:SetInstanceHealth', signal, (abortSignal) =>
      client.send(new SetInstanceHealthCommand({ InstanceId: mark.instanceId, HealthStatus: mark.status, ShouldRespectGracePeriod: mark.respectGracePeriod }), {
        abortSignal,
      }),
    );
  } catch (error) {
    const cause = error instanceof RemoteError ? error.cause : undefined;
    const refused = cause instanceof Error && cause.name === 'ValidationError' ? gracePeriodRefusal.exec(cause.message) : null;
    if (!refused) throw error;
    throw new GracePeriodRefusedError('autoscaling:SetInstanceHealth', mark.instanceId, {
      ageSeconds: Number(refused[1]),
      gracePeriodSeconds: Number(refused[2]),
      cause,
    });
  }
}

/** One scaling activity of a group. */
export interface ScalingActivity {
  description: string;
  cause: string;
  startedAt?: Date;
  statusCode?: string;
}

/** The group's newest scaling activities (at most `maxRecords`, one page: the API returns them newest first). */
export async function describeScalingActivities(client: AutoScalingClient, groupName: string, maxRecords: number, signal?: AbortSignal): Promise<ScalingActivity[]> {
  const out = await callAws('autoscaling:DescribeScalingActivities', signal, (abortSignal) =>
    client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: maxRecords }), { abortSignal }),
  );
  return (out.Activities ?? []).map((a) => ({
    description: a.Description ?? '',
    cause: a.Cause ?? '',
    ...(a.StartTime ? { startedAt: a.StartTime } : {}),
    ...(a.StatusCode ? { statusCode: a.StatusCode } : {}),
  }));
}

const groupTag = (group: string, key: string, value = '') => ({ ResourceId: group, ResourceType: 'auto-scaling-group', Key: key, Value: value, PropagateAtLaunch: false });

/** Writes the group's own tags (not propagated to its instances). */
export async function createOrUpdateTags(client: AutoScalingClient, groupName: string, tags: Record<string, string>, signal?: AbortSignal): Promise<void> {
  await callAws('autoscaling:CreateOrUpdateTags', signal, (abortSignal) =>
    client.send(new CreateOrUpdateTagsCommand({ Tags: Object.entries(tags).map(([key, value]) => groupTag(groupName, key, value)) }), { abortSignal }),
  );
}

/** Deletes the group's tags with these keys. */
export async function deleteTags(client: AutoScalingClient, groupName: string, keys: readonly string[], signal?: AbortSignal): Promise<void> {
  await callAws('autoscaling:DeleteTags', signal, (abortSignal) =>
    client.send(new DeleteTagsCommand({ Tags: keys.map((key) => groupTag(groupName, key)) }), { abortSignal }),
  );
}

/** What to change of a group's replacement and retention (each only when given). */
export interface GroupPolicies {
  /** The instance maintenance policy; `{ minHealthyPercentage: -1, maxHealthyPercentage: -1 }` clears it. */
  maintenancePolicy?: { minHealthyPercentage: number; maxHealthyPercentage: number };
  /** The instance lifecycle policy's one trigger: keep (`retain`) or terminate an instance whose termination hook was abandoned. */
  terminateHookAbandon?: 'retain' | 'terminate';
}

/**
 * UpdateAutoScalingGroup with the group's maintenance policy and/or its instance lifecycle policy,
 * nothing else. A group that does not exist is refused by Auto Scaling (ValidationError).
 */
export async function updateGroupPolicies(client: AutoScalingClient, groupName: string, policies: GroupPolicies, signal?: AbortSignal): Promise<void> {
  const { maintenancePolicy: m, terminateHookAbandon } = policies;
  await callAws('autoscaling:UpdateAutoScalingGroup', signal, (abortSignal) =>
    client.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        ...(m ? { InstanceMaintenancePolicy: { MinHealthyPercentage: m.minHealthyPercentage, MaxHealthyPercentage: m.maxHealthyPercentage } } : {}),
        ...(terminateHookAbandon ? { InstanceLifecyclePolicy: { RetentionTriggers: { TerminateHookAbandon: terminateHookAbandon } } } : {}),
      }),
      { abortSignal },
    ),
  );
}

/** Auto Scaling's refusal of a lifecycle action that is no longer waiting (completed already, or its heartbeat timed out). */
const noActiveAction = /no active lifecycle action/i;

/**
 * CompleteLifecycleAction, `CONTINUE` unless told: the instance's lifecycle goes on (a termination
 * terminates). `ABANDON` ends a termination too, unless the group's instance lifecycle policy
 * retains on an abandoned termination hook: then the instance goes to Terminating:Retained.
 * Resolves `gone` when Auto Scaling has no such action waiting any more (it timed out and took its
 * default result, or it was completed already): nothing is left to complete.
 */
export async function completeLifecycleAction(
  client: AutoScalingClient,
  action: { groupName: string; hookName: string; instanceId: string; token?: string },
  signal?: AbortSignal,
  result: 'CONTINUE' | 'ABANDON' = 'CONTINUE',
): Promise<'completed' | 'gone'> {
  try {
    await callAws('autoscaling:CompleteLifecycleAction', signal, (abortSignal) =>
      client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: action.groupName,
          LifecycleHookName: action.hookName,
          InstanceId: action.instanceId,
          ...(action.token ? { LifecycleActionToken: action.token } : {}),
          LifecycleActionResult: result,
        }),
        { abortSignal },
      ),
    );
    return 'completed';
  } catch (error) {
    const cause = error instanceof RemoteError ? error.cause : undefined;
    if (cause instanceof Error && cause.name === 'ValidationError' && noActiveAction.test(cause.message)) return 'gone';
    throw error;
  }
}
