/**
 * The construct's props: everything a user may set, each with its default. Validated once, by
 * ./resolve.ts, into the settings every room of the construct is built from.
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IAutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { ObserverSubnet, ObserversSettings } from './observer-settings.js';

/**
 * The default alarm prefix of a deployment: `autoheal-status-check.${name}.`, where `name` is the
 * stack's name (the Terraform module writes the same with its `name`). Two stacks in one account
 * and region never touch each other's alarms: a stack name has no ".", so the "." that ends it
 * keeps one stack's prefix from beginning another's (`A` and `A-sc`); and no prefix begins with
 * the runtime default `autoheal-status-check-` of an older stack or of the CLI, nor with the
 * probe's `autoheal-probe-`.
 */
export function deploymentAlarmPrefix(name: string): string {
  return `autoheal-status-check.${name}.`;
}

/**
 * How autoheal learns that an instance is unhealthy. `app-checks`: an EC2 application status check
 * (aggregation `excluded`, on `probe.port` and `probe.path`) read as one more observer,
 * `aws-app-check`, whose votes the healer counts under every rail (src/cdk/app-check.ts).
 */
export type Detection = 'alarms' | 'probe' | 'app-checks';

/** The tag that opts a group in. */
export interface OptInTag {
  readonly key: string;
  readonly value: string;
}

/** The per-instance StatusCheckFailed alarms (detection `alarms`). */
export interface AlarmSettings {
  /**
   * Alarm names are `${prefix}${instanceId}` (and `${prefix}group-${groupName}` in Metrics Insights
   * mode). The stack owns every alarm of its prefix: its healer syncs them, and deleting the stack
   * deletes them. @default - `autoheal-status-check.${stackName}.` ({@link deploymentAlarmPrefix})
   */
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
   * How often the alarm sync (a function of its own, never the healer) syncs every managed
   * group's alarms (creates the missing, updates the drifted, deletes the orphans), and how often
   * the healer decides again the alarms still in ALARM (held work): whole minutes, from 1 minute
   * to 1 day. One sync also runs at deploy time. Each run costs one DescribeAlarms listing of the
   * prefix (all pages), one DescribeAutoScalingGroups per group and one orphan check.
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
   * The role of the host that runs `autoheal probe … --verdict-queue <VerdictQueueUrl>`: the
   * construct attaches the prober's managed policy to it, and the verdict channel admits it.
   * @default - none: attach the `ProberPolicyArn` output to the host's role yourself
   */
  readonly hostRole?: iam.IRole;
}

/**
 * How the healer takes its evidence queue: a Lambda event source mapping, in batches, with partial
 * batch responses. No concurrency is reserved: `maxConcurrency` bounds the queue's share of the
 * account's unreserved concurrency.
 */
export interface IntakeSettings {
  /** Records per healer invocation, 1 to 100 (above 10 needs a batching window). @default 10 */
  readonly batchSize?: number;
  /** How long Lambda gathers records before it invokes, 0 to 300 seconds. @default Duration.seconds(1) */
  readonly batchingWindow?: Duration;
  /** Healer invocations at once for the queue, 2 to 1000 (not reserved). @default 5 */
  readonly maxConcurrency?: number;
  /** Receives before a message moves to the dead-letter queue, 1 to 1000. @default 10 */
  readonly maxReceiveCount?: number;
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
  /**
   * Settings of the prober; with detection `probe`, or with `app-checks` alone for the port and
   * path its check probes (`subnets` and `hostRole` need `probe`). @default - see ProbeSettings
   */
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
  /** How the healer takes its evidence queue in batches. @default - see IntakeSettings */
  readonly intake?: IntakeSettings;
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
   * Evidence before termination (README "Evidence"). `capture`: the healer keeps each mark's verdict
   * and the group's state in the stack's evidence bucket before it marks, and a termination
   * lifecycle hook on each named group (60 s, default CONTINUE) lets the evidence function add the
   * instance's latest console output before the termination goes on. Needs `groups`.
   * `retain`: all `capture` does, and instead of terminating, up to `retainAtMost` marked instances
   * per group are kept for inspection (Terminating:Retained, through the group's instance lifecycle
   * policy): each keeps running and billing, outside the desired capacity (its replacement launches),
   * until a person releases it (docs/evidence.md).
   * @default 'off'
   */
  readonly quarantine?: 'off' | 'capture' | 'retain';
  /** With `quarantine: 'retain'`: retained instances per group at most, 1 to 10; the rest are captured and terminated. @default 1 */
  readonly retainAtMost?: number;
  /**
   * How each named group replaces an instance autoheal marks (README "Replacement").
   * `launch-before-terminate`: the group's instance maintenance policy becomes minimum healthy
   * 100 %, maximum 110 %, so capacity never dips while a replacement boots; it costs up to one
   * instance beyond desired per 10 while replacements run. Set at deploy time on groups the stack
   * does not own, and taken back when the stack is deleted (where the group still has it). The
   * healer and `autoheal status` say when a group's own policy overrides it. Needs `groups`.
   * `unchanged`: the groups' policies are left as they are.
   * @default 'unchanged'
   */
  readonly replacement?: 'unchanged' | 'launch-before-terminate';
  /** How long the evidence bucket keeps each instance's evidence; only with `quarantine`. @default Duration.days(30) */
  readonly evidenceRetention?: Duration;
  /**
   * The folder holding the Lambda bundle `lambda.mjs`; only that file ships.
   * @default - the `dist` folder of the installed autoheal package
   */
  readonly bundleDir?: string;
}
