/**
 * Detection `probe`: the verdict channel the healer takes (./verdict-channel.ts), the observers the
 * construct deploys with `probe.subnets` (./observers.ts), and the managed policy of the hosts the
 * user names in `probe.hosts` to run `autoheal probe`. Probe verdicts never travel through the
 * alert topic on AWS: the healer is not subscribed to it, and only the channel's senders vote.
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
import { admitOnly, observersValue, verdictChannel, type VerdictSender } from './verdict-channel.js';

export interface ProbeDetectionInput {
  readonly config: Resolved;
  readonly healer: HealerRef;
  /** The topic the observers' heartbeat alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** The ledger table that holds the observers' leases. */
  readonly ledgerTable: dynamodb.ITable;
}

/** What detection `probe` built. */
export interface ProbeDetection {
  readonly channel: IntakeQueue;
  readonly proberPolicy: iam.ManagedPolicy;
  readonly observers?: Observers;
}

export function probeDetection(scope: Construct, { config, healer, alertTopic, ledgerTable }: ProbeDetectionInput): ProbeDetection {
  const channel = verdictChannel(scope, { healer, intake: config.intake, healerTimeout: config.healer.timeout });
  const proberPolicy = new iam.ManagedPolicy(scope, 'ProberPolicy', {
    description: 'autoheal probe host: discover group instances, send verdicts to the verdict channel',
    statements: [
      new iam.PolicyStatement({
        sid: 'DiscoverInstances',
        actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'SendVerdicts', actions: ['sqs:SendMessage'], resources: [channel.queue.queueArn] }),
      // The host's heartbeat; PutMetricData has no resources, the namespace condition narrows it.
      new iam.PolicyStatement({
        sid: 'PublishHeartbeat',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'autoheal' } },
      }),
    ],
    ...(config.probeHosts.length > 0 ? { roles: config.probeHosts.map((h) => h.role) } : {}),
  });
  const observers =
    config.observers === undefined
      ? undefined
      : new Observers(scope, 'Observers', {
          ...config.observers,
          groupNames: config.groupNames,
          alertTopic,
          verdictQueue: channel.queue,
          ledgerTable,
          bundleDir: config.bundleDir,
        });
  const senders: VerdictSender[] = [
    ...(observers?.senders ?? []).map((o) => ({ name: o.name, roleArn: o.role.roleArn, roleId: o.role.roleId })),
    ...config.probeHosts.map((h) => ({ name: h.name, roleArn: h.role.roleArn, roleId: h.roleId })),
  ];
  admitOnly(channel.queue, senders);
  healer.fn.addEnvironment(autohealEnv.observers, observersValue(senders));
  new CfnOutput(scope, 'ProberPolicyArn', { value: proberPolicy.managedPolicyArn });
  new CfnOutput(scope, 'VerdictQueueUrl', { value: channel.queue.queueUrl, description: 'The verdict channel: only the observers and the hosts named in probe.hosts may send to it' });
  return { channel, proberPolicy, ...(observers ? { observers } : {}) };
}
