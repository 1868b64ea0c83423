/**
 * The groups opted in by tag, found with one filtered DescribeAutoScalingGroups (all pages,
 * through the wing). The fleet port reads groups by name only; listing by tag is what the alarm
 * reconcile and `autoheal status` need beyond it.
 */
import { describeAutoScalingGroups, type AutoScalingClient } from '../aws/autoscaling.js';

/** The tag that opts a group in. */
export interface GroupTag {
  key: string;
  value: string;
}

/**
 * Names of the groups carrying `tag` (exact key and value; Auto Scaling's `tag:<key>` filter is
 * case-sensitive and takes no wildcards), sorted.
 */
export async function groupNamesWithTag(client: AutoScalingClient, tag: GroupTag, signal?: AbortSignal): Promise<string[]> {
  const groups = await describeAutoScalingGroups(client, { tag }, signal);
  return [...new Set(groups.map((g) => g.name))].sort();
}
