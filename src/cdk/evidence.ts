/**
 * Evidence before termination (`quarantine: 'capture'`): what an instance autoheal marked leaves
 * behind, kept where an operator reads it after the instance is gone.
 *
 * - the evidence bucket: private, TLS only, S3-managed encryption; a lifecycle rule expires each
 *   document after `evidenceRetention` (30 days by default);
 * - the healer writes the verdict and the group's state to `evidence/<instance>.json` before it
 *   marks (AUTOHEAL_EVIDENCE_BUCKET, s3:PutObject on that prefix only);
 * - a termination lifecycle hook on each named group (heartbeat 60 s, default result CONTINUE:
 *   a failure of autoheal never holds up a termination for longer than that), and a rule
 *   delivering its "EC2 Instance-terminate Lifecycle Action" events to the evidence function
 *   (dist/evidence.mjs, src/evidence/), which adds the latest console output and the group's state,
 *   then completes the action with CONTINUE. A termination without a document (scale-in, a
 *   rebalance, a person) is continued at once.
 *
 * Groups opted in by tag only get no hook (the stack does not know them): their marks keep the
 * verdict and the group's state, without the console output.
 *
 * `quarantine: 'retain'` adds to the function AUTOHEAL_RETAIN_AT_MOST and the ledger table, where
 * it counts each group's retained instances (`pk = retain#<group>`, conditional writes; its IAM
 * held to those items by `dynamodb:LeadingKeys`), and completes a marked instance's action with
 * ABANDON while fewer than N are retained, announcing each kept instance on the alert topic with how
 * to release it (AUTOHEAL_NOTICE_TOPIC_ARN, sns:Publish on that topic). Keeping it is the named groups' instance lifecycle
 * policy (TerminateHookAbandon: retain), which this file does not set: the stack's deploy-time
 * group settings do (./group-settings.ts, asked for by quarantine `retain` in ./resolve.ts).
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { autohealEnv } from '../config.js';
import { slotKeys } from '../evidence/slot-key.js';
import type { HealerRef } from './healer.js';
import { evidenceHeartbeatSeconds, type EvidenceSettings } from './evidence-settings.js';
import type { Resolved } from './resolve.js';

export interface EvidenceInput {
  readonly config: Resolved;
  readonly evidence: EvidenceSettings;
  readonly healer: HealerRef;
  /** The ledger table: with `retain`, where each group's retained instances are counted. */
  readonly ledgerTable?: dynamodb.ITable;
  /** The alert topic: with `retain`, where a retained instance is announced with how to release it. */
  readonly alertTopic?: sns.ITopic;
}

/** The bucket, the hooks, the rule and the function; the healer gets the bucket. */
export function evidenceCapture(scope: Construct, { config, evidence, healer, ledgerTable, alertTopic }: EvidenceInput): { bucket: s3.Bucket; fn: lambda.Function } {
  const stack = Stack.of(scope);
  const retain = evidence.mode === 'retain' && evidence.retainAtMost !== undefined ? { atMost: evidence.retainAtMost } : undefined;
  if (retain && ledgerTable === undefined) throw new Error('evidenceCapture: quarantine "retain" needs the ledger table to count retained instances');
  const bucket = new s3.Bucket(scope, 'EvidenceBucket', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    // Evidence outlives the stack until it expires: deleting the stack keeps the bucket.
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [{ id: 'ExpireEvidence', prefix: 'evidence/', expiration: Duration.days(evidence.retentionDays) }],
  });
  const objects = bucket.arnForObjects('evidence/*');

  healer.fn.addEnvironment(autohealEnv.evidenceBucket, bucket.bucketName);
  healer.fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'KeepMarkEvidence', actions: ['s3:PutObject'], resources: [objects] }));

  const logGroup = new logs.LogGroup(scope, 'EvidenceLogGroup', { retention: config.healer.logRetention, removalPolicy: config.healer.logRemovalPolicy });
  const role = new iam.Role(scope, 'EvidenceRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'autoheal evidence: captures what a marked instance leaves before its termination goes on',
  });
  const statements = [
    new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    new iam.PolicyStatement({ sid: 'ReadWriteEvidence', actions: ['s3:GetObject', 's3:PutObject'], resources: [objects] }),
    // Without ListBucket S3 answers a missing document with AccessDenied, not NoSuchKey: a scale-in would look like a failure.
    new iam.PolicyStatement({ sid: 'ListEvidence', actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': ['evidence/*'] } } }),
    // Describe calls of Auto Scaling support no resource-level permissions.
    new iam.PolicyStatement({ sid: 'ReadGroups', actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }),
    new iam.PolicyStatement({ sid: 'CompleteNamedGroupsHooks', actions: ['autoscaling:CompleteLifecycleAction'], resources: config.groupArns }),
    // Only the named groups' instances: Auto Scaling tags each with its group's name.
    new iam.PolicyStatement({
      sid: 'ReadNamedGroupsConsoles',
      actions: ['ec2:GetConsoleOutput'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
      conditions: { StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': config.groupNames } },
    }),
  ];
  if (retain && ledgerTable) {
    // Only the retention slots (`retain#<group>`): the function can neither read nor touch the rails' memory or the leases.
    statements.push(
      new iam.PolicyStatement({
        sid: 'CountRetained',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [ledgerTable.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [slotKeys] } },
      }),
    );
  }
  for (const s of statements) role.addToPrincipalPolicy(s);

  const fn = new lambda.Function(scope, 'EvidenceFunction', {
    description: retain
      ? `autoheal: keeps the console output and group state of an instance autoheal marked, then keeps up to ${retain.atMost} per group for inspection or lets its termination go on`
      : 'autoheal: keeps the console output and group state of an instance autoheal marked, then lets its termination go on',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'evidence.handler',
    code: lambda.Code.fromAsset(config.bundleDir, { exclude: ['*', '!evidence.mjs'] }),
    role,
    logGroup,
    // Well inside the hook's heartbeat: what is not done by then, the hook's default result continues.
    timeout: Duration.seconds(30),
    memorySize: 256,
    retryAttempts: 1,
    environment: {
      [autohealEnv.evidenceBucket]: bucket.bucketName,
      [autohealEnv.logLevel]: config.healer.logLevel,
      ...(retain && ledgerTable ? { [autohealEnv.retainAtMost]: String(retain.atMost), [autohealEnv.ledgerTable]: ledgerTable.tableName } : {}),
      ...(retain && alertTopic ? { [autohealEnv.noticeTopicArn]: alertTopic.topicArn } : {}),
    },
  });
  if (retain && alertTopic) alertTopic.grantPublish(fn);

  config.groupNames.forEach((groupName, i) => {
    new autoscaling.CfnLifecycleHook(scope, `EvidenceHook${i}`, {
      autoScalingGroupName: groupName,
      lifecycleHookName: evidence.hookName,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      heartbeatTimeout: evidenceHeartbeatSeconds,
      defaultResult: 'CONTINUE',
    });
  });
  const rule = new events.Rule(scope, 'EvidenceRule', {
    description: 'autoheal: termination lifecycle actions of its hook on the named groups',
    eventPattern: {
      source: ['aws.autoscaling'],
      detailType: ['EC2 Instance-terminate Lifecycle Action'],
      detail: { AutoScalingGroupName: config.groupNames, LifecycleHookName: [evidence.hookName] },
    },
  });
  // A delivery later than the heartbeat finds the action gone (the hook continued by itself): short
  // retries, no dead letters — there is nothing left to answer.
  rule.addTarget(new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.seconds(evidenceHeartbeatSeconds) }));

  new CfnOutput(scope, 'EvidenceBucketName', { value: bucket.bucketName, description: 'autoheal evidence INSTANCE --bucket <this>' });
  return { bucket, fn };
}
