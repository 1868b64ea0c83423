/**
 * The CDK construct that deploys autoheal in one step. What it creates, and why each piece:
 *
 * - the healer Lambda (dist/lambda.mjs, nodejs22.x on arm64) with its own log group and an SQS
 *   on-failure destination, so an invocation that failed every retry is kept, not lost;
 * - an SNS alert topic (optionally e-mailed) that autoheal's alarms notify;
 * - for `alarms`: an EventBridge rule delivering "CloudWatch Alarm State Change" events of alarms
 *   named with autoheal's prefix to the healer, and a rule delivering the groups' "EC2 Instance
 *   Launch/Terminate Successful" events so the healer creates and deletes per-instance alarms;
 *   in `metrics-insights` mode instead, one Metrics Insights alarm per named group (each instance
 *   a contributor) and a rule on "CloudWatch Alarm Contributor State Change"; and a schedule rule
 *   (every 10 minutes by default) on which the healer syncs every managed group's alarms, plus one
 *   sync at deploy time (a custom resource), so the instances that already run get theirs and a
 *   lost alarm comes back;
 * - for `probe`: a filtered subscription of the healer to the alert topic (only probe verdicts,
 *   alarm names `autoheal-probe-…`) and a managed policy for the host that runs `autoheal probe`;
 * - for `legacyQueue`: the original topic → SQS queue (with a dead-letter queue) path, the queue
 *   accepting SendMessage only from the topic;
 * - an alarm-cleanup custom resource, so deleting the stack deletes every alarm of the prefix.
 *
 * Why EventBridge and not the alarms' Lambda action: one rule covers every alarm of the prefix,
 * including those the alarm manager creates later, without a resource policy per alarm; the rule
 * target retries and dead-letters failed deliveries; and the alarms' actions stay free for the
 * alert topic (the operator's e-mail).
 */
import { ArnFormat, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { IAutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alarmEnv } from '../alarms/env.js';
import { groupAlarmInput } from '../alarms/manager.js';
import { alarmOptionsSchema, defaultAlarmPrefix } from '../alarms/options.js';
import { ConfigError, describeError } from '../errors.js';
import { autohealEnv, resolveSettings } from '../config.js';
import { quorumProblem } from '../policy/options.js';
import { probeAlarmName } from '../signals/alarm-message.js';
import { cleanupHandlerSource, intakeHandlerSource, syncTriggerHandlerSource } from './cleanup-handler.js';
import { Monitoring } from './monitoring.js';
import { Observers, type ObserverSubnet, type ObserversSettings } from './observers.js';

/** How autoheal learns that an instance is unhealthy. */
export type Detection = 'alarms' | 'probe';

/** The tag that opts a group in. */
export interface OptInTag {
  readonly key: string;
  readonly value: string;
}

/** The per-instance StatusCheckFailed alarms (detection `alarms`). */
export interface AlarmSettings {
  /** Alarm names are `${prefix}${instanceId}`. @default 'autoheal-status-check-' */
  readonly prefix?: string;
  /** The metric period: 10, 20, 30 seconds or a multiple of 60. @default Duration.seconds(60) */
  readonly period?: Duration;
  /** Breaching periods before ALARM. @default 2 */
  readonly evaluationPeriods?: number;
  /** ALARM when Maximum(StatusCheckFailed) >= threshold. @default 1 */
  readonly threshold?: number;
  /**
   * `per-instance`: one alarm per instance, created and deleted as the group changes.
   * `metrics-insights`: one multi-time-series alarm per group, each instance a contributor
   * (see the README for the cost and the 500-series limit). The construct creates the alarm of
   * each named group; the healer's scheduled sync creates those of groups opted in by tag only.
   * @default 'per-instance'
   */
  readonly mode?: 'per-instance' | 'metrics-insights';
  /**
   * How often the healer syncs every managed group's alarms (creates the missing, updates the
   * drifted, deletes the orphans): whole minutes, from 1 minute to 1 day. One sync also runs at
   * deploy time. Each run costs one DescribeAlarms listing of the prefix and one
   * DescribeAutoScalingGroups per group.
   * @default Duration.minutes(10)
   */
  readonly syncInterval?: Duration;
}

/**
 * The prober (detection `probe`): observers the construct deploys (give `subnets`, see
 * src/cdk/observers.ts), and/or `autoheal probe` on a host you operate in the groups' VPC.
 */
export interface ProbeSettings extends Omit<ObserversSettings, 'subnets'> {
  /**
   * One observer (a looping Lambda function) per subnet: at least two, in different Availability
   * Zones. @default - none: no observers are deployed; run `autoheal probe` yourself
   */
  readonly subnets?: readonly ObserverSubnet[];
  /**
   * The role of the host that runs `autoheal probe … --publish <AlertTopicArn>`; the construct
   * attaches the prober's managed policy to it.
   * @default - none: attach the `ProberPolicyArn` output to the host's role yourself
   */
  readonly hostRole?: iam.IRole;
}

/** The original SNS → SQS path (detection messages reach the healer through a queue). */
export interface LegacyQueueSettings {
  /**
   * Who consumes the queue. `lambda`: the healer, through an SQS event source with partial batch
   * responses. `bridge`: `autoheal bridge` on a host you run; the construct creates its managed
   * policy (output `BridgePolicyArn`).
   * @default 'lambda'
   */
  readonly consumer?: 'lambda' | 'bridge';
  /** Receives before a message moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
}

/**
 * The core's safety rails (README "Safety rails": what each bounds and why its default). Every
 * value is written into the healer's environment.
 */
export interface RailSettings {
  /** Marks per group per rate window. @default - twice the group's unhealthy budget */
  readonly maxMarksPerWindow?: number;
  /** The rate window. @default Duration.minutes(10) */
  readonly markRateWindow?: Duration;
  /** Share of a group (or of one zone of it) reported down at once that freezes the group, 0 < x <= 1. @default 0.8 */
  readonly suspicionShare?: number;
  /** How long a freeze lasts (an operator may resume sooner). @default Duration.minutes(10) */
  readonly freeze?: Duration;
  /** Replacements failing soon after launch, within 30 minutes, that hold the group. @default 3 */
  readonly loopMarks?: number;
  /** Observers that must agree before a probe verdict marks. @default 2 */
  readonly probeQuorum?: number;
}

/** Props of {@link AutoHeal}. Every prop is optional; the defaults give the original design, made safe. */
export interface AutoHealProps {
  /**
   * Groups managed by name, as constructs or names. A group is managed when it is named here or
   * carries the opt-in tag.
   * @default - none: only groups with the opt-in tag are managed
   */
  readonly groups?: ReadonlyArray<IAutoScalingGroup | string>;
  /** The tag that opts a group in. @default { key: 'autoheal:enabled', value: 'true' } */
  readonly optInTag?: OptInTag;
  /** What detects unhealthy instances. @default ['alarms'] */
  readonly detection?: readonly Detection[];
  /** Settings of the status-check alarms; only with detection `alarms`. @default - see AlarmSettings */
  readonly alarm?: AlarmSettings;
  /** Settings of the prober; only with detection `probe`. @default - see ProbeSettings */
  readonly probe?: ProbeSettings;
  /** An e-mail address subscribed to the alert topic. @default - no subscription */
  readonly notificationEmail?: string;
  /**
   * Share of a group's desired capacity that may be marked Unhealthy at once, 0 < x <= 1; the
   * budget is max(1, floor(share × desired)).
   * @default 0.4
   */
  readonly maxUnhealthyShare?: number;
  /** Send SetInstanceHealth with ShouldRespectGracePeriod. @default true */
  readonly respectGracePeriod?: boolean;
  /** Alarm evidence older than this is re-checked before acting. @default Duration.minutes(2) */
  readonly staleAfter?: Duration;
  /** Decide and log, but never call SetInstanceHealth. @default false */
  readonly dryRun?: boolean;
  /** The rate limit, suspicion freeze, loop breaker and probe quorum. @default - see RailSettings */
  readonly rails?: RailSettings;
  /** The original SNS → SQS path with a dead-letter queue. @default - none */
  readonly legacyQueue?: boolean | LegacyQueueSettings;
  /** Retention of the healer's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** The healer's log level (pino). @default 'info' */
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** The healer's timeout. @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** The healer's memory. @default 256 */
  readonly memorySize?: number;
  /**
   * The folder holding the Lambda bundle `lambda.mjs`; only that file ships.
   * @default - the `dist` folder of the installed autoheal package
   */
  readonly bundleDir?: string;
}

/** The props after validation, with every default applied. */
interface Resolved {
  groupNames: string[];
  groupArns: string[];
  optInTag: OptInTag;
  alarms: boolean;
  probe: boolean;
  alarm: { prefix: string; periodSeconds: number; evaluationPeriods: number; threshold: number; mode: 'per-instance' | 'metrics-insights' };
  syncIntervalMinutes: number;
  legacy?: { consumer: 'lambda' | 'bridge'; maxReceiveCount: number };
  bundleDir: string;
  /** The healer's environment for the policy, validated by the same resolver the healer runs. */
  policyEnv: Record<string, string>;
}

const emailPattern = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const logLevels: ReadonlyArray<NonNullable<AutoHealProps['logLevel']>> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const probeNamePrefix = probeAlarmName('');
const detections: readonly Detection[] = ['alarms', 'probe'];
/** Limits of `alarm.syncInterval`, in minutes (an EventBridge rate is whole minutes). */
const syncIntervalMinutes = { default: 10, min: 1, max: 1_440 } as const;

/** The package's own dist folder: this file is src/cdk/x.ts or dist/cdk/x.js, two levels below the root. */
function defaultBundleDir(): string {
  return fileURLToPath(new URL('../../dist/', import.meta.url));
}

function resolveProps(scope: Construct, props: AutoHealProps): Resolved {
  const problems: string[] = [];
  const detection = [...new Set(props.detection ?? ['alarms'])];
  if (detection.length === 0) problems.push(`detection: name at least one of ${detections.map((d) => `"${d}"`).join(', ')}`);
  for (const d of detection as string[]) if (!(detections as readonly string[]).includes(d)) problems.push(`detection: unknown "${String(d)}"`);
  const alarms = detection.includes('alarms');
  const probe = detection.includes('probe');
  if (props.alarm !== undefined && !alarms) problems.push('alarm: settings given, but detection does not include "alarms"');
  if (props.probe !== undefined && !probe) problems.push('probe: settings given, but detection does not include "probe"');

  // Fail closed: a JavaScript caller (or a context value passed through) may hand over anything.
  for (const key of ['dryRun', 'respectGracePeriod'] as const) {
    if (props[key] !== undefined && typeof props[key] !== 'boolean') problems.push(`${key}: must be true or false, got ${JSON.stringify(props[key])}`);
  }
  if (props.logLevel !== undefined && !logLevels.includes(props.logLevel)) {
    problems.push(`logLevel: must be one of ${logLevels.join(', ')}, got ${JSON.stringify(props.logLevel)}`);
  }

  // The policy's limits and messages come from the healer's own resolver, over the environment the healer will get.
  const rails = props.rails ?? {};
  const policyEnv: Record<string, string> = {
    [autohealEnv.maxUnhealthyShare]: String(props.maxUnhealthyShare ?? 0.4),
    [autohealEnv.staleAfterMs]: String((props.staleAfter ?? Duration.minutes(2)).toMilliseconds()),
    [autohealEnv.markRateWindowMs]: String((rails.markRateWindow ?? Duration.minutes(10)).toMilliseconds()),
    [autohealEnv.suspicionShare]: String(rails.suspicionShare ?? 0.8),
    [autohealEnv.freezeMs]: String((rails.freeze ?? Duration.minutes(10)).toMilliseconds()),
    [autohealEnv.loopMarks]: String(rails.loopMarks ?? 3),
    [autohealEnv.probeQuorum]: String(rails.probeQuorum ?? 2),
    // Empty: twice the budget (an empty variable counts as unset).
    [autohealEnv.maxMarksPerWindow]: rails.maxMarksPerWindow === undefined ? '' : String(rails.maxMarksPerWindow),
  };
  try {
    resolveSettings({}, policyEnv);
  } catch (error) {
    const names: Record<string, string> = {
      [autohealEnv.maxUnhealthyShare]: 'maxUnhealthyShare',
      [autohealEnv.staleAfterMs]: 'staleAfter',
      [autohealEnv.markRateWindowMs]: 'rails.markRateWindow',
      [autohealEnv.suspicionShare]: 'rails.suspicionShare',
      [autohealEnv.freezeMs]: 'rails.freeze',
      [autohealEnv.loopMarks]: 'rails.loopMarks',
      [autohealEnv.probeQuorum]: 'rails.probeQuorum',
      [autohealEnv.maxMarksPerWindow]: 'rails.maxMarksPerWindow',
    };
    for (const line of describeError(error).split('\n').slice(1)) {
      const [name, ...rest] = line.trim().split(': ');
      problems.push(`${names[name ?? ''] ?? name}: ${rest.join(': ')}`);
    }
  }
  // Only the construct knows how many observers it deploys (one per subnet; fewer than two are refused by the
  // subnets' own rule); a hostRole's hosts may add more.
  const observers = probe && !props.probe?.hostRole && (props.probe?.subnets?.length ?? 0) >= 2 ? props.probe?.subnets?.length : undefined;
  const unreachable = observers === undefined ? undefined : quorumProblem(rails.probeQuorum ?? 2, observers);
  if (unreachable) problems.push(`rails.probeQuorum: ${unreachable}`);
  if (props.notificationEmail !== undefined && !emailPattern.test(props.notificationEmail)) {
    problems.push(`notificationEmail: "${props.notificationEmail}" is not an e-mail address`);
  }
  const tag = props.optInTag ?? { key: 'autoheal:enabled', value: 'true' };
  if (tag.key === '' || tag.key.includes('=')) problems.push(`optInTag.key: must be non-empty and contain no "=", got "${tag.key}"`);

  // The alarm's limits and their messages come from the alarm manager's own schema.
  const alarmInput = {
    prefix: props.alarm?.prefix ?? defaultAlarmPrefix,
    periodSeconds: props.alarm?.period?.toSeconds() ?? 60,
    evaluationPeriods: props.alarm?.evaluationPeriods ?? 2,
    threshold: props.alarm?.threshold ?? 1,
    mode: props.alarm?.mode ?? 'per-instance',
  };
  const alarm = alarmOptionsSchema.safeParse(alarmInput);
  if (!alarm.success) for (const issue of alarm.error.issues) problems.push(`alarm.${issue.path.join('.') || 'period'}: ${issue.message}`);
  if (probeNamePrefix.startsWith(alarmInput.prefix) || alarmInput.prefix.startsWith(probeNamePrefix)) {
    problems.push(`alarm.prefix: "${alarmInput.prefix}" overlaps the probe's alarm names "${probeNamePrefix}…"`);
  }

  const interval = props.alarm?.syncInterval;
  const intervalMinutes = interval === undefined ? syncIntervalMinutes.default : interval.toSeconds() / 60;
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < syncIntervalMinutes.min || intervalMinutes > syncIntervalMinutes.max) {
    problems.push(
      `alarm.syncInterval: must be whole minutes from ${syncIntervalMinutes.min} to ${syncIntervalMinutes.max}, got ${interval?.toSeconds()} seconds`,
    );
  }

  const groupNames: string[] = [];
  const groupArns: string[] = [];
  const stack = Stack.of(scope);
  for (const g of props.groups ?? []) {
    if (typeof g === 'string') {
      if (g.trim() === '') problems.push('groups: a group name is empty');
      groupNames.push(g);
      groupArns.push(
        stack.formatArn({
          service: 'autoscaling',
          resource: 'autoScalingGroup',
          resourceName: `*:autoScalingGroupName/${g}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      );
    } else {
      groupNames.push(g.autoScalingGroupName);
      groupArns.push(g.autoScalingGroupArn);
    }
  }
  const literal = groupNames.filter((n) => !Token.isUnresolved(n));
  if (new Set(literal).size !== literal.length) problems.push('groups: a group is named twice');

  let legacy: Resolved['legacy'];
  if (props.legacyQueue) {
    const settings = props.legacyQueue === true ? {} : props.legacyQueue;
    legacy = { consumer: settings.consumer ?? 'lambda', maxReceiveCount: settings.maxReceiveCount ?? 5 };
    if (legacy.consumer !== 'lambda' && legacy.consumer !== 'bridge') {
      problems.push(`legacyQueue.consumer: must be "lambda" or "bridge", got ${JSON.stringify(legacy.consumer)}`);
    }
    if (!Number.isInteger(legacy.maxReceiveCount) || legacy.maxReceiveCount < 1 || legacy.maxReceiveCount > 1000) {
      problems.push(`legacyQueue.maxReceiveCount: must be an integer from 1 to 1000, got ${legacy.maxReceiveCount}`);
    }
  }
  if (props.timeout !== undefined && (props.timeout.toSeconds() < 10 || props.timeout.toSeconds() > 900)) {
    problems.push(`timeout: must be from 10 to 900 seconds, got ${props.timeout.toSeconds()}`);
  }

  if (props.memorySize !== undefined && !(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10_240)) {
    problems.push(`memorySize: must be an integer from 128 to 10240 MB, got ${props.memorySize}`);
  }

  const bundleDir = props.bundleDir ?? defaultBundleDir();
  if (!existsSync(join(bundleDir, 'lambda.mjs'))) {
    problems.push(`bundleDir: ${join(bundleDir, 'lambda.mjs')} not found (run "npm run build" in autoheal first)`);
  }

  if (problems.length > 0 || !alarm.success) {
    throw new ConfigError(`AutoHeal ${scope.node.path}: invalid props:\n  ${problems.join('\n  ')}`);
  }
  return {
    groupNames,
    groupArns,
    optInTag: tag,
    alarms,
    probe,
    alarm: alarm.data,
    syncIntervalMinutes: intervalMinutes,
    ...(legacy ? { legacy } : {}),
    bundleDir,
    policyEnv,
  };
}

/**
 * Deploys autoheal: the healer Lambda and the wiring that feeds it evidence, with least-privilege
 * IAM. See the README section "Deploy on AWS" for every IAM action it grants.
 */
export class AutoHeal extends Construct {
  /** The healer function. */
  readonly healer: lambda.Function;
  /** The topic autoheal's alarms notify, the prober publishes to, and the operator may subscribe to. */
  readonly alertTopic: sns.Topic;
  /** Invocations that failed every retry, and rule deliveries that failed. */
  readonly failureQueue: sqs.Queue;
  /** The healer's log group. */
  readonly logGroup: logs.LogGroup;
  /** The legacy queue, when `legacyQueue` is set. */
  readonly legacyQueue?: sqs.Queue;
  /** The prober host's managed policy, with detection `probe`. */
  readonly proberPolicy?: iam.ManagedPolicy;
  /** The legacy queue's dead-letter queue, when `legacyQueue` is set. */
  readonly legacyDeadLetterQueue?: sqs.Queue;
  /** Notices, the stack's own alarms and its dashboard (./monitoring.ts). */
  readonly monitoring: Monitoring;
  /** The observers, with detection `probe` and `probe.subnets`. */
  readonly observers?: Observers;

  constructor(scope: Construct, id: string, props: AutoHealProps = {}) {
    super(scope, id);
    const config = resolveProps(this, props);
    const stack = Stack.of(this);
    const timeout = props.timeout ?? Duration.seconds(60);
    const alarmArns = stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${config.alarm.prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    this.alertTopic = new sns.Topic(this, 'AlertTopic', { displayName: 'autoheal alerts' });

    this.failureQueue = new sqs.Queue(this, 'FailureQueue', { retentionPeriod: Duration.days(14), enforceSSL: true });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // An explicit role without AWSLambdaBasicExecutionRole: logs go to this log group only.
    const role = new iam.Role(this, 'HealerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'autoheal healer: reads groups, marks opted-in instances Unhealthy, manages its alarms',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
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

    // Deleted after everything that can create alarms (the healer and the rules depend on it),
    // so no alarm is created behind its back while the stack goes away.
    const cleanup = this.alarmCleanup(config.alarm.prefix, alarmArns);

    this.healer = new lambda.Function(this, 'Healer', {
      description: 'autoheal: marks unhealthy instances of opted-in Auto Scaling groups Unhealthy',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'lambda.handler',
      code: lambda.Code.fromAsset(config.bundleDir, { exclude: ['*', '!lambda.mjs'] }),
      role,
      logGroup: this.logGroup,
      timeout,
      memorySize: props.memorySize ?? 256,
      onFailure: new SqsDestination(this.failureQueue),
      retryAttempts: 2,
      // One healer at a time: decide-and-mark is serialized inside it, so one instance keeps every
      // group's budget, rate limit and holds across all invocations (README: "Safety rails").
      // Asynchronous events that arrive while it runs wait in Lambda's queue, retried for up to
      // six hours — never dropped, never dead-lettered for a throttle.
      reservedConcurrentExecutions: 1,
      maxEventAge: Duration.hours(6),
      environment: {
        ...config.policyEnv,
        [autohealEnv.optInTag]: `${config.optInTag.key}=${config.optInTag.value}`,
        [autohealEnv.groups]: config.groupNames.join(','),
        [autohealEnv.dryRun]: String(props.dryRun ?? false),
        [autohealEnv.respectGracePeriod]: String(props.respectGracePeriod ?? true),
        [autohealEnv.alarmPrefix]: config.alarm.prefix,
        [autohealEnv.alarmTopicArn]: this.alertTopic.topicArn,
        [autohealEnv.logLevel]: props.logLevel ?? 'info',
        [alarmEnv.periodSeconds]: String(config.alarm.periodSeconds),
        [alarmEnv.evaluationPeriods]: String(config.alarm.evaluationPeriods),
        [alarmEnv.threshold]: String(config.alarm.threshold),
        [alarmEnv.mode]: config.alarm.mode,
      },
    });
    this.healer.node.addDependency(cleanup);

    // With a legacy queue, every message of the topic (alarms and probe verdicts) reaches the
    // healer through the queue; delivering them a second way would only make duplicates.
    const direct = config.legacy === undefined;
    if (config.alarms && direct) {
      // A Metrics Insights alarm reports each instance as a contributor, in its own event type.
      const perInstance = config.alarm.mode === 'per-instance';
      const rule = new events.Rule(this, 'AlarmStateRule', {
        description: `autoheal: ${config.alarm.prefix}* alarms ${perInstance ? '' : '(their contributors) '}entering ALARM`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: [perInstance ? 'CloudWatch Alarm State Change' : 'CloudWatch Alarm Contributor State Change'],
          detail: { alarmName: [{ prefix: config.alarm.prefix }], state: { value: ['ALARM'] } },
        },
      });
      rule.addTarget(this.target());
      rule.node.addDependency(cleanup);
    }
    if (config.alarms && config.alarm.mode === 'per-instance') {
      // Tagged groups cannot be matched by name here: the healer checks opt-in before creating an alarm.
      const rule = new events.Rule(this, 'LifecycleRule', {
        description: 'autoheal: instances launched and terminated, to keep per-instance alarms in sync',
        eventPattern: {
          source: ['aws.autoscaling'],
          detailType: ['EC2 Instance Launch Successful', 'EC2 Instance Terminate Successful'],
        },
      });
      rule.addTarget(this.target());
      rule.node.addDependency(cleanup);
    }
    if (config.alarms && config.alarm.mode === 'metrics-insights') this.groupAlarms(config, cleanup);
    if (config.alarms) this.alarmSync(config, cleanup);
    if (config.probe && direct) {
      this.alertTopic.addSubscription(
        new subscriptions.LambdaSubscription(this.healer, {
          filterPolicyWithMessageBody: {
            AlarmName: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ matchPrefixes: [probeNamePrefix] })),
            NewStateValue: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: ['ALARM'] })),
          },
        }),
      );
    }
    if (config.probe) {
      this.proberPolicy = new iam.ManagedPolicy(this, 'ProberPolicy', {
        description: 'autoheal probe host: discover group instances, publish verdicts to the alert topic',
        statements: [
          new iam.PolicyStatement({
            sid: 'DiscoverInstances',
            actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'],
            resources: ['*'],
          }),
          new iam.PolicyStatement({ sid: 'PublishVerdicts', actions: ['sns:Publish'], resources: [this.alertTopic.topicArn] }),
          // The host's heartbeat; PutMetricData has no resources, the namespace condition narrows it.
          new iam.PolicyStatement({
            sid: 'PublishHeartbeat',
            actions: ['cloudwatch:PutMetricData'],
            resources: ['*'],
            conditions: { StringEquals: { 'cloudwatch:namespace': 'autoheal' } },
          }),
        ],
        ...(props.probe?.hostRole ? { roles: [props.probe.hostRole] } : {}),
      });
      new CfnOutput(this, 'ProberPolicyArn', { value: this.proberPolicy.managedPolicyArn });
      if (props.probe?.subnets) {
        const { hostRole: _hostRole, subnets, ...settings } = props.probe;
        this.observers = new Observers(this, 'Observers', {
          ...settings,
          subnets,
          groupNames: config.groupNames,
          alertTopic: this.alertTopic,
          bundleDir: config.bundleDir,
        });
      }
    }

    if (config.legacy) {
      const dlq = new sqs.Queue(this, 'LegacyDeadLetterQueue', { retentionPeriod: Duration.days(14), enforceSSL: true });
      this.legacyDeadLetterQueue = dlq;
      this.legacyQueue = new sqs.Queue(this, 'LegacyQueue', {
        // Lambda's SQS trigger needs at least the function timeout; six times lets retries finish.
        visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
        retentionPeriod: Duration.days(4),
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount: config.legacy.maxReceiveCount },
      });
      // Adds the queue policy: sqs:SendMessage from sns.amazonaws.com only with aws:SourceArn = the topic.
      this.alertTopic.addSubscription(new subscriptions.SqsSubscription(this.legacyQueue));
      if (config.legacy.consumer === 'lambda') {
        this.legacyIntake(this.legacyQueue);
      } else {
        const bridge = new iam.ManagedPolicy(this, 'BridgePolicy', {
          description: 'autoheal bridge host: consume the legacy queue, invoke the healer',
          statements: [
            new iam.PolicyStatement({
              sid: 'ConsumeQueue',
              actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
              resources: [this.legacyQueue.queueArn],
            }),
            new iam.PolicyStatement({ sid: 'InvokeHealer', actions: ['lambda:InvokeFunction'], resources: [this.healer.functionArn] }),
          ],
        });
        new CfnOutput(this, 'BridgePolicyArn', { value: bridge.managedPolicyArn });
      }
      new CfnOutput(this, 'LegacyQueueUrl', { value: this.legacyQueue.queueUrl });
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      healer: this.healer,
      alertTopic: this.alertTopic,
      failureQueue: this.failureQueue,
      ...(this.legacyQueue ? { legacyQueue: this.legacyQueue } : {}),
      ...(this.legacyDeadLetterQueue ? { legacyDeadLetterQueue: this.legacyDeadLetterQueue } : {}),
      ...(props.notificationEmail ? { notificationEmail: props.notificationEmail } : {}),
      healerTarget: this.target(),
      observers: config.probe,
    });
    this.monitoring.heartbeatRule?.node.addDependency(cleanup);

    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    new CfnOutput(this, 'HealerFunctionName', { value: this.healer.functionName });
    new CfnOutput(this, 'HealerLogGroupName', { value: this.logGroup.logGroupName });
  }

  /**
   * The legacy queue's consumer: a small intake function that hands each record to the healer's
   * asynchronous queue (intakeHandlerSource says why the healer itself is not the event source).
   */
  private legacyIntake(queue: sqs.Queue): void {
    const logGroup = new logs.LogGroup(this, 'LegacyIntakeLogGroup', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'LegacyIntakeRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'HandToHealer', actions: ['lambda:InvokeFunction'], resources: [this.healer.functionArn] }));
    const intake = new lambda.Function(this, 'LegacyIntake', {
      description: 'autoheal: hands each legacy-queue record to the healer as an asynchronous invocation',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(intakeHandlerSource),
      role,
      logGroup,
      timeout: Duration.seconds(30),
      environment: { HEALER_FUNCTION: this.healer.functionName },
    });
    intake.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
  }

  /** The healer as a rule target: retried, then dead-lettered into the failure queue. */
  private target(): targets.LambdaFunction {
    return new targets.LambdaFunction(this.healer, {
      retryAttempts: 8,
      maxEventAge: Duration.hours(1),
      deadLetterQueue: this.failureQueue,
    });
  }

  /**
   * Metrics Insights mode: one alarm per named group, each instance a contributor, with the same
   * settings the alarm manager writes (groupAlarmInput). Groups opted in by tag only are not known
   * at synth time: the healer's scheduled sync makes their alarms.
   */
  private groupAlarms(config: Resolved, cleanup: CustomResource): void {
    config.groupNames.forEach((name, n) => {
      const input = groupAlarmInput({ ...config.alarm, alarmActions: [this.alertTopic.topicArn] }, name);
      const alarm = new cloudwatch.CfnAlarm(this, `GroupAlarm${n}`, {
        alarmName: input.AlarmName,
        alarmDescription: input.AlarmDescription,
        metrics: (input.Metrics ?? []).map((m) => ({ id: m.Id as string, expression: m.Expression, period: m.Period, returnData: m.ReturnData })),
        evaluationPeriods: input.EvaluationPeriods as number,
        threshold: input.Threshold,
        comparisonOperator: input.ComparisonOperator as string,
        treatMissingData: input.TreatMissingData,
        actionsEnabled: input.ActionsEnabled,
        alarmActions: input.AlarmActions,
      });
      // Deleted before the cleanup runs, so CloudFormation never finds its alarm already gone.
      alarm.node.addDependency(cleanup);
    });
  }

  /**
   * The alarms of the instances that already run, and repairs: a schedule rule on which the
   * healer syncs every managed group, and a custom resource that starts one such sync at deploy
   * time (and again when the groups or the alarm settings change), instead of leaving the running
   * instances unwatched until the rule's first run, up to one interval later.
   */
  private alarmSync(config: Resolved, cleanup: CustomResource): void {
    const rule = new events.Rule(this, 'AlarmSyncRule', {
      description: `autoheal: sync the ${config.alarm.prefix}* alarms of every managed group`,
      schedule: events.Schedule.rate(Duration.minutes(config.syncIntervalMinutes)),
    });
    rule.addTarget(this.target());
    rule.node.addDependency(cleanup);

    const logGroup = new logs.LogGroup(this, 'AlarmSyncTriggerLogGroup', {
      retention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'AlarmSyncTriggerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'StartSync', actions: ['lambda:InvokeFunction'], resources: [this.healer.functionArn] }),
    );
    const fn = new lambda.Function(this, 'AlarmSyncTrigger', {
      description: 'autoheal: starts one alarm sync of the healer at deploy time',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(syncTriggerHandlerSource),
      role,
      logGroup,
      timeout: Duration.minutes(1),
    });
    const resource = new CustomResource(this, 'AlarmSyncResource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::AutohealAlarmSync',
      // A change of any of these starts a new sync.
      properties: {
        HealerArn: this.healer.functionArn,
        Groups: config.groupNames.join(','),
        OptInTag: `${config.optInTag.key}=${config.optInTag.value}`,
        Alarm: JSON.stringify(config.alarm),
      },
    });
    resource.node.addDependency(role);
  }

  /** The custom resource that deletes every alarm of the prefix when the stack is deleted. */
  private alarmCleanup(prefix: string, alarmArns: string): CustomResource {
    const logGroup = new logs.LogGroup(this, 'AlarmCleanupLogGroup', {
      retention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'AlarmCleanupRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListAlarms', actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DeleteOwnAlarms', actions: ['cloudwatch:DeleteAlarms'], resources: [alarmArns] }),
    );
    const fn = new lambda.Function(this, 'AlarmCleanup', {
      description: `autoheal: deletes the ${prefix}* alarms when the stack is deleted`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(cleanupHandlerSource),
      role,
      logGroup,
      timeout: Duration.minutes(5),
    });
    // The role's policy must outlive the custom resource: it is needed at Delete time.
    const resource = new CustomResource(this, 'AlarmCleanupResource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::AutohealAlarmCleanup',
      properties: { AlarmPrefix: prefix },
    });
    resource.node.addDependency(role);
    return resource;
  }
}
