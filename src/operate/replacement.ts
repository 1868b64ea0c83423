/**
 * The order in which a group replaces an instance marked Unhealthy, read from its instance
 * maintenance policy (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-maintenance-policy.html),
 * and whether a replacement dips the group's healthy capacity:
 *
 * - no policy: Auto Scaling terminates the unhealthy instance, then launches its replacement;
 * - minimum healthy 100 %: it launches the replacement and waits for it before it terminates;
 * - maximum healthy 100 % (minimum below): it terminates and launches at once, never above desired;
 * - otherwise (minimum below 100 %, maximum above): within the range, both at once.
 *
 * Every order but launch-before-terminate may take the group below its desired capacity while a
 * replacement boots.
 */
import type { MaintenancePolicy } from '../aws/autoscaling.js';
import { launchesFirst, overridesReplacement, type ReplacementMode } from '../fleet/replacement.js';

export type ReplacementOrderName = 'launch-before-terminate' | 'terminate-and-launch' | 'custom' | 'terminate-then-launch';

/** How a group replaces an instance, as `status` shows it. */
export interface ReplacementOrder {
  order: ReplacementOrderName;
  minHealthyPercentage: number | null;
  maxHealthyPercentage: number | null;
  /** A replacement may take the group below its desired healthy capacity. */
  dipsCapacity: boolean;
  /** The deployment asks for launch-before-terminate (AUTOHEAL_REPLACEMENT, --replacement) and the group's own policy overrides it. */
  overridesStack: boolean;
}

/**
 * The replacement order of a group with this maintenance policy (none: absent, or cleared with -1),
 * and whether it overrides the order the deployment asks for (`wanted`, default `unchanged`).
 */
export function replacementOrder(policy: MaintenancePolicy | undefined, wanted: ReplacementMode = 'unchanged'): ReplacementOrder {
  const set = (n: number | undefined): number | null => (n === undefined || n < 0 ? null : n);
  const min = set(policy?.minHealthyPercentage);
  const max = set(policy?.maxHealthyPercentage);
  const order: ReplacementOrderName =
    min === null || max === null ? 'terminate-then-launch' : launchesFirst(policy) ? 'launch-before-terminate' : max <= 100 ? 'terminate-and-launch' : 'custom';
  return { order, minHealthyPercentage: min, maxHealthyPercentage: max, dipsCapacity: order !== 'launch-before-terminate', overridesStack: overridesReplacement(wanted, policy) };
}

/** One line for a person: the order, the policy behind it, and what it costs. */
export function replacementText(r: ReplacementOrder): string {
  const range = r.minHealthyPercentage === null ? 'no instance maintenance policy' : `min healthy ${r.minHealthyPercentage} %, max ${r.maxHealthyPercentage} %`;
  const effect: Record<ReplacementOrderName, string> = {
    'launch-before-terminate': 'launch before terminate: capacity does not dip (a replacement runs beside the marked instance until it is ready)',
    'terminate-and-launch': `terminate and launch at once: capacity DIPS, down to ${r.minHealthyPercentage} % of desired, while a replacement boots`,
    custom: `launch and terminate within the range: capacity may DIP to ${r.minHealthyPercentage} % of desired while a replacement boots`,
    'terminate-then-launch': 'terminate, then launch: capacity DIPS by one instance per replacement until it is InService',
  };
  const overrides = r.overridesStack ? "; the group OVERRIDES the stack's launch-before-terminate (its own instance maintenance policy wins)" : '';
  return `${effect[r.order]} (${range})${overrides}`;
}
