/**
 * Detection `probe`: the healer's filtered subscription to the alert topic (only probe verdicts,
 * alarm names `autoheal-probe-…`), the managed policy of a host that runs `autoheal probe`, and
 * the observers the construct deploys with `probe.subnets` (./observers.ts).
 */
import { CfnOutput } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { probeAlarmName } from '../signals/alarm-message.js';
import type { HealerRef } from './healer.js';
import { Observers } from './observers.js';
import type { Resolved } from './resolve.js';

const probeNamePrefix = probeAlarmName('');

export interface ProbeDetectionInput {
  readonly config: Resolved;
  readonly healer: HealerRef;
  /** The topic probe verdicts are published to. */
  readonly alertTopic: sns.ITopic;
  /** The ledger table that holds the observers' leases. */
  readonly ledgerTable: dynamodb.ITable;
}

export function probeDetection(scope: Construct, { config, healer, alertTopic, ledgerTable }: ProbeDetectionInput): { proberPolicy: iam.ManagedPolicy; observers?: Observers } {
  // With a legacy queue, verdicts reach the healer through the queue; a subscription would only make duplicates.
  if (config.legacy === undefined) {
    alertTopic.addSubscription(
      new subscriptions.LambdaSubscription(healer.fn, {
        filterPolicyWithMessageBody: {
          AlarmName: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ matchPrefixes: [probeNamePrefix] })),
          NewStateValue: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: ['ALARM'] })),
        },
      }),
    );
  }
  const proberPolicy = new iam.ManagedPolicy(scope, 'ProberPolicy', {
    description: 'autoheal probe host: discover group instances, publish verdicts to the alert topic',
    statements: [
      new iam.PolicyStatement({
        sid: 'DiscoverInstances',
        actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'PublishVerdicts', actions: ['sns:Publish'], resources: [alertTopic.topicArn] }),
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
  if (config.observers === undefined) return { proberPolicy };
  const observers = new Observers(scope, 'Observers', {
    ...config.observers,
    groupNames: config.groupNames,
    alertTopic,
    ledgerTable,
    bundleDir: config.bundleDir,
  });
  return { proberPolicy, observers };
}
