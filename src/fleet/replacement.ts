/**
 * The replacement order a deployment asks of its groups (the construct's and the module's
 * `replacement`, AUTOHEAL_REPLACEMENT), in the fleet's vocabulary so that every room above may
 * read it: the healer (a mark in a group that overrides it dips capacity), `status`, the group
 * settings function that applies it, and the construct.
 *
 * `launch-before-terminate` sets each named group's instance maintenance policy to minimum healthy
 * 100 %, maximum 110 % (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-maintenance-policy.html):
 * Auto Scaling launches the replacement and waits for it before it terminates the marked
 * instance. The maximum bounds what that costs: for a group of 10, at most one instance beyond
 * the desired capacity runs while a replacement boots, so several marks are replaced one after
 * another rather than all at once. `unchanged` leaves the groups' policies as they are.
 */

/** The orders a deployment may ask for; `unchanged` is the default. */
export const replacementModes = ['unchanged', 'launch-before-terminate'] as const;
export type ReplacementMode = (typeof replacementModes)[number];

/** A group's instance maintenance policy as the fleet reports it (absent percentages: none set). */
export interface MaintenancePolicyView {
  minHealthyPercentage?: number;
  maxHealthyPercentage?: number;
}

/** The policy `launch-before-terminate` sets. Max 110 %: one extra instance per 10 of desired capacity. */
export const launchFirstPolicy = { minHealthyPercentage: 100, maxHealthyPercentage: 110 } as const;

/** The group launches a replacement before it terminates (minimum healthy 100 %, a maximum set); -1 is "cleared". */
export function launchesFirst(policy: MaintenancePolicyView | undefined): boolean {
  const min = policy?.minHealthyPercentage;
  const max = policy?.maxHealthyPercentage;
  return min !== undefined && max !== undefined && min >= 100 && max >= 0;
}

/** What a mark in a group that overrides the deployment's launch-before-terminate costs, for its log, notice and `status`. */
export const overrideDipText = "capacity will dip while the replacement boots: the group's instance maintenance policy overrides the stack's replacement launch-before-terminate";

/** The deployment asks for launch-before-terminate and the group's own policy says otherwise: a replacement dips capacity. */
export function overridesReplacement(wanted: ReplacementMode, policy: MaintenancePolicyView | undefined): boolean {
  return wanted === 'launch-before-terminate' && !launchesFirst(policy);
}
