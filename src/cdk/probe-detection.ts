/**
 * Detection `probe`: the verdict channel the healer takes probe verdicts from, OK ones included
 * (./verdict-channel.ts), the managed policy of a host that runs `autoheal probe`, and the
 * observers the construct deploys with `probe.subnets` (./observers.ts). No subscription of the
 * alert topic feeds the healer probe verdicts: a filter that passed only ALARM kept withdrawn votes
 * counting, and anyone allowed sns:Publish could vote.
 */
import { CfnOutput } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { autohealEnv } from '../config.js';
import type { HealerRef } from './healer.js';
import type { IntakeQueue } from './intake.js';
import { Observers } from './observers.js';
import type { Resolved } from './resolve.js';
import { admitOnly, verdictChannel } from './verdict-channel.js';

export interface ProbeDetectionInput {
  readonly config: Resolved;
  /** The verdict channel (./verdict-channel.ts), shared with aws-app-check (./app-check.ts). */
  readonly verdicts: IntakeQueue;
  /** The topic the observers' alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** The ledger table that holds the observers' leases. */
  readonly ledgerTable: dynamodb.ITable;
}

export interface ProbeDetection {
  readonly proberPolicy: iam.ManagedPolicy;
  readonly observers?: Observers;
  /** The roles that may send to the verdict channel: the observers' and the named host's. */
  readonly senderRoleArns: string[];
}

export function probeDetection(scope: Construct, { config, verdicts, alertTopic, ledgerTable }: ProbeDetectionInput): ProbeDetection {
  const proberPolicy = new iam.ManagedPolicy(scope, 'ProberPolicy', {
    description: 'autoheal probe host: discover group instances, send verdicts to the verdict channel',
    statements: [
      new iam.PolicyStatement({
        sid: 'DiscoverInstances',
        actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'SendVerdicts', actions: ['sqs:SendMessage'], resources: [verdicts.queue.queueArn] }),
      // The host's heartbeat; PutMetricData has no resources, the namespace condition narrows it.
      new iam.PolicyStatement({
        sid: 'PublishHeartbeat',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'autoheal' } },
      }),
    ],
    ...(config.proberHostRole ? { roles: [config.proberHostRole] } : {}),
  });
  new CfnOutput(scope, 'ProberPolicyArn', { value: proberPolicy.managedPolicyArn });
  new CfnOutput(scope, 'VerdictQueueUrl', { value: verdicts.queue.queueUrl, description: 'autoheal probe --verdict-queue: where a probe host sends its verdicts' });
  const observers =
    config.observers === undefined
      ? undefined
      : new Observers(scope, 'Observers', { ...config.observers, groupNames: config.groupNames, alertTopic, verdictQueue: verdicts.queue, ledgerTable, bundleDir: config.bundleDir });
  const senderRoleArns = [...(observers ? [observers.role.roleArn] : []), ...(config.proberHostRole ? [config.proberHostRole.roleArn] : [])];
  return { proberPolicy, senderRoleArns, ...(observers ? { observers } : {}) };
}

/** The verdict channel's voters, once every detection that writes it is built. */
export interface ChannelVoters {
  readonly senderRoleArns: readonly string[];
  /** The names the healer counts (AUTOHEAL_OBSERVERS): the deployed observers', aws-app-check's. */
  readonly names: readonly string[];
}

/**
 * Creates the verdict channel (detection `probe` or `app-checks`); {@link closeChannel} closes it
 * to its senders and tells the healer whom to count.
 */
export function openChannel(scope: Construct, config: Resolved, healer: HealerRef): IntakeQueue {
  return verdictChannel(scope, { healer, intake: config.intake, healerTimeout: config.healer.timeout });
}

export function closeChannel(verdicts: IntakeQueue, healer: HealerRef, voters: ChannelVoters): void {
  // Without a sender named, the channel stays open to the account's principals their own policies allow (as the topic was).
  if (voters.senderRoleArns.length > 0) admitOnly(verdicts.queue, voters.senderRoleArns);
  // Only the deployed observers vote; a host's name is added by the user (docs/observers.md).
  if (voters.names.length > 0) healer.fn.addEnvironment(autohealEnv.observers, voters.names.join(','));
}
