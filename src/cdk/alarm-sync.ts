/**
 * The alarm sync, in a function of its own (dist/alarm-sync.mjs, src/lambda/alarm-sync.ts), never
 * in the healer: at 1,000 instances a sync is minutes of PutMetricAlarm at CloudWatch's few
 * requests a second, and no decision may wait behind it. It runs on a schedule rule, and once at
 * deploy time through a custom resource (and again when the groups or the alarm settings change),
 * so the instances already running get their alarms without waiting up to one interval, and a lost
 * alarm comes back. A run lists the prefix's alarms once (all pages), syncs every managed group,
 * checks the orphans once, and backs off when PutMetricAlarm throttles (the SDK's adaptive retry);
 * it ends before the next run starts, and the next run goes on where it stopped.
 */
import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct, IDependable } from 'constructs';
import { alarmEnv } from '../alarms/env.js';
import { autohealEnv } from '../config.js';
import { alarmArnsOf } from './alarm-cleanup.js';
import { syncTriggerHandlerSource } from './cleanup-handler.js';
import { inlineFunction } from './inline-function.js';
import { alarmSyncBundle, type Resolved } from './resolve.js';

export interface AlarmSyncInput {
  readonly config: Resolved;
  /** The topic the alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** The alarm clean-up: the function and its schedule are deleted before it runs. */
  readonly cleanup: IDependable;
}

/** The sync function and its log group: what the stack's own alarms watch. */
export interface AlarmSyncFunction {
  readonly fn: lambda.Function;
}

export function alarmSync(scope: Construct, { config, alertTopic, cleanup }: AlarmSyncInput): AlarmSyncFunction {
  const fn = syncFunction(scope, config, alertTopic);
  fn.node.addDependency(cleanup);
  const rule = new events.Rule(scope, 'AlarmSyncRule', {
    description: `autoheal: sync the ${config.alarm.prefix}* alarms of every managed group`,
    schedule: events.Schedule.rate(Duration.minutes(config.syncIntervalMinutes)),
  });
  // The delivery is retried (a throttled invoke); the run itself is not (retryAttempts below).
  rule.addTarget(new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(1) }));
  rule.node.addDependency(cleanup);

  const trigger = inlineFunction(scope, 'AlarmSyncTrigger', {
    description: 'autoheal: starts one alarm sync at deploy time',
    source: syncTriggerHandlerSource,
    timeout: Duration.minutes(1),
    logRetention: logs.RetentionDays.ONE_WEEK,
    statements: [new iam.PolicyStatement({ sid: 'StartSync', actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] })],
  });
  const resource = new CustomResource(scope, 'AlarmSyncResource', {
    serviceToken: trigger.fn.functionArn,
    resourceType: 'Custom::AutohealAlarmSync',
    // A change of any of these starts a new sync.
    properties: {
      FunctionArn: fn.functionArn,
      Groups: config.groupNames.join(','),
      OptInTag: `${config.optInTag.key}=${config.optInTag.value}`,
      Alarm: JSON.stringify(config.alarm),
    },
  });
  resource.node.addDependency(trigger.role);
  return { fn };
}

/** The sync function: its role may read the groups and the alarms, and write only the alarms of the prefix. */
function syncFunction(scope: Construct, config: Resolved, alertTopic: sns.ITopic): lambda.Function {
  const logGroup = new logs.LogGroup(scope, 'AlarmSyncLogGroup', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, 'AlarmSyncRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'autoheal alarm sync: reads the managed groups, keeps the alarms of its prefix in sync',
  });
  const statements = [
    new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    // Describe calls of Auto Scaling support no resource-level permissions; the instances are read to find orphans.
    new iam.PolicyStatement({ sid: 'ReadGroups', actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }),
    // Listing by prefix is authorized account-wide.
    new iam.PolicyStatement({ sid: 'ListAlarms', actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
    new iam.PolicyStatement({ sid: 'WriteOwnAlarms', actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'], resources: [alarmArnsOf(scope, config.alarm.prefix)] }),
  ];
  for (const statement of statements) role.addToPrincipalPolicy(statement);
  // A run ends before the next starts (Lambda allows 15 minutes at most).
  const timeout = Duration.minutes(Math.min(config.syncIntervalMinutes, 15));
  return new lambda.Function(scope, 'AlarmSync', {
    description: `autoheal: keeps the ${config.alarm.prefix}* alarms of every managed group in sync`,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'alarm-sync.handler',
    code: lambda.Code.fromAsset(config.bundleDir, { exclude: ['*', `!${alarmSyncBundle}`] }),
    role,
    logGroup,
    timeout,
    memorySize: 256,
    // The schedule repeats a failed run (the sync is idempotent); a retry would only overlap the
    // next run, and two runs at once only throttle each other.
    retryAttempts: 0,
    maxEventAge: Duration.hours(1),
    environment: {
      [autohealEnv.optInTag]: `${config.optInTag.key}=${config.optInTag.value}`,
      [autohealEnv.groups]: config.groupNames.join(','),
      [autohealEnv.alarmPrefix]: config.alarm.prefix,
      [autohealEnv.alarmTopicArn]: alertTopic.topicArn,
      [autohealEnv.logLevel]: config.healer.logLevel,
      [alarmEnv.periodSeconds]: String(config.alarm.periodSeconds),
      [alarmEnv.evaluationPeriods]: String(config.alarm.evaluationPeriods),
      [alarmEnv.threshold]: String(config.alarm.threshold),
      [alarmEnv.mode]: config.alarm.mode,
    },
  });
}
