/**
 * The groups opted in by tag, found with one filtered DescribeAutoScalingGroups (all pages).
 * Thin: injected client, abort signal passed, errors converted naming the IAM action. The fleet
 * port reads groups by name only; listing by tag is what the alarm reconcile needs beyond it.
 */
import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { callAws, pages } from '../aws/call.js';

/** DescribeAutoScalingGroups returns at most 100 groups per page. */
export const maxGroupsPerPage = 100;

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
  const names: string[] = [];
  const listing = pages((nextToken) =>
    callAws('autoscaling:DescribeAutoScalingGroups', signal, (abortSignal) =>
      client.send(
        new DescribeAutoScalingGroupsCommand({
          Filters: [{ Name: `tag:${tag.key}`, Values: [tag.value] }],
          MaxRecords: maxGroupsPerPage,
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
        { abortSignal },
      ),
    ),
  );
  for await (const page of listing) {
    for (const g of page.AutoScalingGroups ?? []) if (g.AutoScalingGroupName) names.push(g.AutoScalingGroupName);
  }
  return [...new Set(names)].sort();
}
