/**
 * Each instance's launch time and tags, from EC2 DescribeInstances — the grace period, the loop
 * breaker and suppression need them, and Auto Scaling's own calls do not return them.
 *
 * Why not `@aws-sdk/client-ec2`: its schemas are one 1.3 MB module that no bundler can shake,
 * so it would grow the Lambda bundle from 0.7 to 1.8 MB and its cold start by ~250 ms (past
 * 1.5x the baseline). This sends the one Query API call with the Auto Scaling client's parts
 * instead (src/aws/query.ts). Standard endpoint settings apply (AWS_ENDPOINT_URL_EC2,
 * AWS_ENDPOINT_URL), as for every client.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { callAws, chunks } from '../../aws/call.js';
import { sendQuery, xmlList as list, xmlNode as node, xmlText as text } from '../../aws/query.js';

/** What EC2 says of one instance. */
export interface InstanceFacts {
  launchedAt?: Date;
  /** The primary private IPv4 address (what an observer in the VPC probes, and `autoheal status --port`). */
  privateIp?: string;
  tags: Record<string, string>;
}

/** Reads the facts of the given instances; ids EC2 does not know are absent. */
export type InstanceFactsReader = (instanceIds: readonly string[], signal?: AbortSignal) => Promise<Map<string, InstanceFacts>>;

/** DescribeInstances accepts up to 1000 ids; smaller calls keep one answer well within its deadline. */
const idsPerCall = 200;
const apiVersion = '2016-11-15';

/** The reader over the Auto Scaling client's credentials, region and HTTP handler. */
export function ec2InstanceFacts(client: AutoScalingClient): InstanceFactsReader {
  return async (instanceIds, signal) => {
    const facts = new Map<string, InstanceFacts>();
    for (const batch of chunks([...new Set(instanceIds)], idsPerCall)) {
      await callAws('ec2:DescribeInstances', signal, async (abortSignal) => {
        const params: Record<string, string> = {};
        batch.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
        const body = await sendQuery(client, { service: 'ec2', endpointId: 'EC2', action: 'DescribeInstances', version: apiVersion, params }, abortSignal);
        const reservations = node(node(body, 'DescribeInstancesResponse'), 'reservationSet');
        for (const reservation of list(node(reservations, 'item'))) {
          for (const instance of list(node(node(reservation, 'instancesSet'), 'item'))) {
            const id = text(node(instance, 'instanceId'));
            if (id === undefined) continue;
            const launched = text(node(instance, 'launchTime'));
            const privateIp = text(node(instance, 'privateIpAddress'));
            const tags: Record<string, string> = {};
            for (const tag of list(node(node(instance, 'tagSet'), 'item'))) {
              const key = text(node(tag, 'key'));
              if (key !== undefined) tags[key] = text(node(tag, 'value')) ?? '';
            }
            facts.set(id, {
              ...(launched && !Number.isNaN(Date.parse(launched)) ? { launchedAt: new Date(launched) } : {}),
              ...(privateIp ? { privateIp } : {}),
              tags,
            });
          }
        }
      });
    }
    return facts;
  };
}
