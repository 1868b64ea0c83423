/**
 * The healer: the Lambda function that runs the bundle (dist/lambda.mjs, nodejs22.x on arm64), its
 * role, and how a rule reaches it directly (held work, heartbeat notices). It reserves no
 * concurrency: it runs at any concurrency, groups in parallel, because the rails' memory is in the
 * ledger table (./ledger-table.ts), changed only by conditional writes. Evidence reaches it in
 * batches from queues (./intake.ts); a direct invocation that failed every retry is kept in the
 * failure queue, not lost.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct, IDependable } from 'constructs';
import { alarmEnv } from '../alarms/env.js';
import { autohealEnv } from '../config.js';
import { grantLedger } from './ledger-table.js';
import type { Resolved } from './resolve.js';

/** The healer's function and where what never reached it waits: what every room that feeds it needs. */
export interface HealerRef {
  readonly fn: lambda.Function;
  readonly failureQueue: sqs.IQueue;
}

/** The healer as a rule target: retried, then dead-lettered into the failure queue. */
export function healerTarget(healer: HealerRef): targets.LambdaFunction {
  return new targets.LambdaFunction(healer.fn, {
    retryAttempts: 8,
    maxEventAge: Duration.hours(1),
    deadLetterQueue: healer.failureQueue,
  });
}

/** What the healer's role is scoped by. */
export interface HealerRoleInput {
  readonly config: Resolved;
  readonly logGroup: logs.ILogGroup;
  /** The ARN pattern of the alarms of the prefix (`…:alarm:${prefix}*`). */
  readonly alarmArns: string;
  /** The rails' memory: read and committed by conditional writes. */
  readonly ledgerTable: dynamodb.ITable;
}

/** The healer's role: an explicit one, without AWSLambdaBasicExecutionRole (logs go to its log group only). */
export function healerRole(scope: Construct, { config, logGroup, alarmArns, ledgerTable }: HealerRoleInput): iam.Role {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'HealerRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'autoheal healer: reads groups, marks opted-in instances Unhealthy, manages its alarms',
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadGroups',
      // Describe calls of Auto Scaling support no resource-level permissions.
      actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances'],
      resources: ['*'],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadInstances',
      // Launch times (grace period, loop breaker) and instance tags (suppression); DescribeInstances
      // supports no resource-level permissions.
      actions: ['ec2:DescribeInstances'],
      resources: ['*'],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'MarkOptedInGroups',
      actions: ['autoscaling:SetInstanceHealth'],
      resources: [
        stack.formatArn({
          service: 'autoscaling',
          resource: 'autoScalingGroup',
          resourceName: '*:autoScalingGroupName/*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      conditions: { StringEquals: { [`autoscaling:ResourceTag/${config.optInTag.key}`]: config.optInTag.value } },
    }),
  );
  if (config.groupArns.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'MarkNamedGroups', actions: ['autoscaling:SetInstanceHealth'], resources: config.groupArns }),
    );
  }
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadAlarms',
      // Re-checking stale evidence and listing the prefix; DescribeAlarms by prefix is authorized account-wide.
      actions: ['cloudwatch:DescribeAlarms'],
      resources: ['*'],
    }),
  );
  if (config.alarms) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnAlarms',
        actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
        resources: [alarmArns],
      }),
    );
  }
  if (config.alarms && config.alarm.mode === 'metrics-insights') {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAlarmContributors',
        // The scheduled run re-decides the group alarms' contributors still in ALARM (held work).
        actions: ['cloudwatch:DescribeAlarmContributors'],
        resources: [alarmArns],
      }),
    );
  }
  grantLedger(role, ledgerTable);
  return role;
}

/** What the healer function is built from. */
export interface HealerFunctionInput {
  readonly config: Resolved;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly failureQueue: sqs.IQueue;
  /** The topic its alarms notify (AUTOHEAL_ALARM_TOPIC_ARN). */
  readonly alertTopic: sns.ITopic;
  /** Deleted after the healer: the alarm clean-up (./alarm-cleanup.ts). */
  readonly cleanup: IDependable;
  /** The ledger table (AUTOHEAL_LEDGER_TABLE). */
  readonly ledgerTable: dynamodb.ITable;
}

/** The healer function, its environment written from the validated settings. */
export function healerFunction(scope: Construct, { config, role, logGroup, failureQueue, alertTopic, cleanup, ledgerTable }: HealerFunctionInput): lambda.Function {
  const { healer } = config;
  const fn = new lambda.Function(scope, 'Healer', {
    description: 'autoheal: marks unhealthy instances of opted-in Auto Scaling groups Unhealthy',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'lambda.handler',
    code: lambda.Code.fromAsset(config.bundleDir, { exclude: ['*', '!lambda.mjs'] }),
    role,
    logGroup,
    timeout: healer.timeout,
    memorySize: healer.memorySize,
    // Direct invocations (held work, heartbeat notices) that fail or are throttled are retried for
    // up to six hours, then kept in the failure queue: never dropped.
    onFailure: new SqsDestination(failureQueue),
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    environment: {
      ...config.policyEnv,
      [autohealEnv.optInTag]: `${config.optInTag.key}=${config.optInTag.value}`,
      [autohealEnv.groups]: config.groupNames.join(','),
      [autohealEnv.dryRun]: String(healer.dryRun),
      [autohealEnv.respectGracePeriod]: String(healer.respectGracePeriod),
      [autohealEnv.alarmPrefix]: config.alarm.prefix,
      [autohealEnv.alarmTopicArn]: alertTopic.topicArn,
      [autohealEnv.logLevel]: healer.logLevel,
      [alarmEnv.periodSeconds]: String(config.alarm.periodSeconds),
      [alarmEnv.evaluationPeriods]: String(config.alarm.evaluationPeriods),
      [alarmEnv.threshold]: String(config.alarm.threshold),
      [alarmEnv.mode]: config.alarm.mode,
      [autohealEnv.ledgerTable]: ledgerTable.tableName,
    },
  });
  fn.node.addDependency(cleanup);
  return fn;
}
