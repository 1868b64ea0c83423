/**
 * The port to whatever runs the instances: `aws` (EC2 Auto Scaling) for real groups, `local`
 * (child processes on this machine) for the demo and end-to-end tests. Both implement it alike.
 */
import type { MaintenancePolicyView } from './replacement.js';

/** Auto Scaling lifecycle states autoheal reads (a subset of the API's). */
export type LifecycleState =
  | 'Pending'
  | 'InService'
  | 'Terminating'
  | 'Terminated'
  | 'Standby'
  | 'Detaching'
  | 'Detached'
  | (string & {});

/**
 * Kept by the group's instance lifecycle policy after an abandoned termination hook
 * (`Terminating:Retained`, and the warm pool's `…:Retained`): still running, no longer counted in
 * the group's desired capacity, and replaced.
 * https://docs.aws.amazon.com/autoscaling/ec2/userguide/manage-retained-instances.html
 */
export const isRetainedState = (lifecycleState: string): boolean => lifecycleState.endsWith(':Retained');

/** Whether an instance in this state is out of the group's capacity: terminated, or retained. */
export const hasLeftGroup = (lifecycleState: string): boolean => lifecycleState === 'Terminated' || isRetainedState(lifecycleState);

export type HealthStatus = 'Healthy' | 'Unhealthy';

export interface InstanceView {
  instanceId: string;
  groupName: string;
  lifecycleState: LifecycleState;
  healthStatus: HealthStatus;
  /** When the instance was launched, where the fleet knows it (grace period, loop breaker). */
  launchedAt?: Date;
  /** The instance's Availability Zone, where the fleet knows it (zone-wide suspicion). */
  availabilityZone?: string;
  /** The instance's own tags, where the fleet knows them (suppression). */
  tags?: Record<string, string>;
  /**
   * Set when the fleet reads instance facts (launch time, tags) but could not read this
   * instance's: absent from the answer, no launch time or an unreadable one, no tag set. Says
   * which. The policy then never reads the missing facts as "no grace period, no suppression":
   * the instance is skipped as `unavailable` and retried.
   */
  factsMissing?: string;
}

export interface GroupView {
  name: string;
  desiredCapacity: number;
  /** The group's health check grace period. */
  healthCheckGracePeriodSeconds: number;
  tags: Record<string, string>;
  /** Auto Scaling processes the group suspended (`Launch`, `ReplaceUnhealthy`, …). */
  suspendedProcesses: string[];
  instances: InstanceView[];
  /** Its instance maintenance policy, where the fleet has one (./replacement.ts: does a replacement dip capacity). */
  maintenancePolicy?: MaintenancePolicyView;
}

export interface SetHealthOptions {
  /** Passed to SetInstanceHealth as ShouldRespectGracePeriod. */
  respectGracePeriod: boolean;
  signal?: AbortSignal;
}

export interface FleetPort {
  /** The instances among `instanceIds` that belong to a group; ids in no group are absent from the map. */
  describeInstances(instanceIds: readonly string[], signal?: AbortSignal): Promise<Map<string, InstanceView>>;
  /** The named groups that exist, with their instances; unknown names are absent. */
  describeGroups(groupNames: readonly string[], signal?: AbortSignal): Promise<GroupView[]>;
  /** Marks the instance; idempotent: marking an Unhealthy instance again is harmless. */
  setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void>;
}
