/**
 * The props, validated once into the settings every room of the construct is built from. Every
 * problem is collected and named by its prop, so one synth lists all of them. The policy's and the
 * alarms' limits (and their messages) are not repeated here: they come from the healer's own
 * resolver and the alarm manager's own schema, run over what the healer will be given.
 */
import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alarmOptionsSchema, type AlarmOptions } from '../alarms/options.js';
import { ConfigError, describeError } from '../errors.js';
import { autohealEnv, resolveSettings } from '../config.js';
import { quorumProblem } from '../policy/options.js';
import { probeAlarmName } from '../signals/alarm-message.js';
import { isTargetPort, targetPortRange } from '../prober/options.js';
import { appCheckBundle, type AppCheckTarget } from './app-check.js';
import { evidenceOf, type EvidenceSettings } from './evidence-settings.js';
import { groupSettingsOf, type GroupSettingsResolved } from './group-settings-props.js';
import { observerDefaults, type ObserversSettings } from './observer-settings.js';
import { deploymentAlarmPrefix, type AutoHealProps, type Detection, type OptInTag } from './props.js';

type LogLevel = NonNullable<AutoHealProps['logLevel']>;

/** The healer function's own settings, defaults applied. */
export interface HealerSettings {
  timeout: Duration;
  memorySize: number;
  dryRun: boolean;
  respectGracePeriod: boolean;
  logLevel: LogLevel;
  logRetention: logs.RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/** How the healer takes its queues (IntakeSettings), defaults applied. */
export interface IntakeResolved {
  batchSize: number;
  batchingWindow: Duration;
  maxConcurrency: number;
  maxReceiveCount: number;
}

/** The props after validation, with every default applied. */
export interface Resolved {
  groupNames: string[];
  groupArns: string[];
  optInTag: OptInTag;
  alarms: boolean;
  probe: boolean;
  /** Detection `app-checks`: AWS's application status check counted as the observer aws-app-check. */
  appChecks: boolean;
  alarm: AlarmOptions;
  syncIntervalMinutes: number;
  legacy?: { consumer: 'lambda' | 'bridge'; maxReceiveCount: number };
  intake: IntakeResolved;
  /** When a waiting message is late: evidence older than staleAfter must be re-checked before it acts. */
  lateAfter: { evidence: Duration };
  bundleDir: string;
  /** The healer's environment for the policy, validated by the same resolver the healer runs. */
  policyEnv: Record<string, string>;
  healer: HealerSettings;
  notificationEmail?: string;
  /** The host that runs `autoheal probe`, with detection `probe`. */
  proberHostRole?: iam.IRole;
  /** The observers to deploy, with detection `probe` and `probe.subnets` (checked by the Observers construct). */
  observers?: ObserversSettings;
  /** Evidence before termination, with `quarantine` (./evidence.ts). */
  evidence?: EvidenceSettings;
  /** What the stack sets on its named groups at deploy time, with `replacement` (./group-settings.ts). */
  groupSettings?: GroupSettingsResolved;
  /** What the application status check probes, with detection `app-checks` (./app-check.ts). */
  appCheck?: AppCheckTarget;
}

const emailPattern = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const probeNamePrefix = probeAlarmName('');
const detections: readonly Detection[] = ['alarms', 'probe', 'app-checks'];
/** Limits of `alarm.syncInterval`, in minutes (an EventBridge rate is whole minutes). */
const syncIntervalMinutes = { default: 10, min: 1, max: 1_440 } as const;
/**
 * Defaults and limits of `intake`. Lambda's own limits: a batch above 10 records needs a batching
 * window, the window is at most 300 s, MaximumConcurrency is 2 to 1000; a redrive's
 * maxReceiveCount 1 to 1000. The batch stops at 100 here: the healer decides a batch within one
 * invocation's timeout.
 */
const intakeLimits = { batchSize: [1, 100, 10], windowSeconds: [0, 300, 1], maxConcurrency: [2, 1_000, 5], maxReceiveCount: [1, 1_000, 10] } as const;

/** The bundle the alarm sync function runs, in the bundle folder (./alarm-sync.ts). */
export const alarmSyncBundle = 'alarm-sync.mjs';

/** The package's own dist folder: this file is src/cdk/x.ts or dist/cdk/x.js, two levels below the root. */
function defaultBundleDir(): string {
  return fileURLToPath(new URL('../../dist/', import.meta.url));
}

/** Validates the props; throws one ConfigError naming every problem, each by its prop. */
export function resolveProps(scope: Construct, props: AutoHealProps): Resolved {
  const problems: string[] = [];
  const { alarms, probe, appChecks } = detectionOf(props, problems);
  switchProblems(props, problems);
  const policyEnv = policyEnvOf(props, problems);
  // Only the construct knows how many observers it deploys (one per subnet; fewer than two are refused by the
  // subnets' own rule, and aws-app-check is one more); a hostRole's hosts may add more.
  const subnetObservers = probe && (props.probe?.subnets?.length ?? 0) >= 2 ? (props.probe?.subnets?.length ?? 0) : 0;
  const observers = probe && !props.probe?.hostRole && subnetObservers >= 2 ? subnetObservers + (appChecks ? 1 : 0) : undefined;
  const unreachable = observers === undefined ? undefined : quorumProblem(props.rails?.probeQuorum ?? 2, observers);
  if (unreachable) problems.push(`rails.probeQuorum: ${unreachable}`);
  const appCheck = appChecks ? appCheckOf(props, problems) : undefined;
  if (appChecks && subnetObservers === 0 && !props.probe?.hostRole && (props.rails?.probeQuorum ?? 2) > 1) {
    Annotations.of(scope).addWarningV2(
      'autoheal:appCheckAlone',
      `detection app-checks without observers: aws-app-check is one vote of the ${props.rails?.probeQuorum ?? 2} the quorum needs, so it reports but never marks alone. Add detection "probe" with probe.subnets, or set rails.probeQuorum to 1 to let it mark within the other rails.`,
    );
  }
  if (props.notificationEmail !== undefined && !emailPattern.test(props.notificationEmail)) {
    problems.push(`notificationEmail: "${props.notificationEmail}" is not an e-mail address`);
  }
  const tag = props.optInTag ?? { key: 'autoheal:enabled', value: 'true' };
  if (tag.key === '' || tag.key.includes('=')) problems.push(`optInTag.key: must be non-empty and contain no "=", got "${tag.key}"`);
  const alarm = alarmOf(props, deploymentAlarmPrefix(Stack.of(scope).stackName), problems);
  const intervalMinutes = syncIntervalOf(props, problems);
  const { groupNames, groupArns } = groupsOf(scope, props, problems);
  const legacy = legacyOf(props, problems);
  const intake = intakeOf(props, problems);
  const evidence = evidenceOf(props, Stack.of(scope).stackName, problems);
  // quarantine `retain` needs each named group to keep an instance whose termination hook autoheal abandons.
  const settings = groupSettingsOf(props, problems, evidence?.mode === 'retain');
  functionProblems(props, problems);
  const bundleDir = props.bundleDir ?? defaultBundleDir();
  // The healer's bundle, and with detection `alarms` the alarm sync's.
  for (const bundle of ['lambda.mjs', ...(alarms ? [alarmSyncBundle] : [])]) {
    if (!existsSync(join(bundleDir, bundle))) problems.push(`bundleDir: ${join(bundleDir, bundle)} not found (run "npm run build" in autoheal first)`);
  }
  if (appChecks && !existsSync(join(bundleDir, appCheckBundle))) {
    problems.push(`bundleDir: ${join(bundleDir, appCheckBundle)} not found, and detection app-checks needs it (run "npm run build" in autoheal first)`);
  }
  if (evidence && !existsSync(join(bundleDir, 'evidence.mjs'))) {
    problems.push(`bundleDir: ${join(bundleDir, 'evidence.mjs')} not found, and quarantine needs it (run "npm run build" in autoheal first)`);
  }

  if (settings && !existsSync(join(bundleDir, 'group-settings.mjs'))) {
    problems.push(`bundleDir: ${join(bundleDir, 'group-settings.mjs')} not found, and replacement needs it (run "npm run build" in autoheal first)`);
  }

  if (problems.length > 0 || alarm === undefined) {
    throw new ConfigError(`AutoHeal ${scope.node.path}: invalid props:\n  ${problems.join('\n  ')}`);
  }
  const { hostRole, subnets, ...observerSettings } = props.probe ?? {};
  const { policy } = resolveSettings({}, policyEnv);
  return {
    groupNames,
    groupArns,
    optInTag: tag,
    alarms,
    probe,
    alarm,
    syncIntervalMinutes: intervalMinutes,
    ...(legacy ? { legacy } : {}),
    intake,
    lateAfter: { evidence: Duration.millis(policy.staleAfterMs) },
    bundleDir,
    policyEnv,
    healer: {
      timeout: props.timeout ?? Duration.seconds(60),
      memorySize: props.memorySize ?? 256,
      dryRun: props.dryRun ?? false,
      respectGracePeriod: props.respectGracePeriod ?? true,
      logLevel: props.logLevel ?? 'info',
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      logRemovalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    },
    ...(props.notificationEmail ? { notificationEmail: props.notificationEmail } : {}),
    ...(probe && hostRole ? { proberHostRole: hostRole } : {}),
    ...(probe && subnets ? { observers: { ...observerSettings, subnets } } : {}),
    appChecks,
    ...(evidence ? { evidence } : {}),
    ...(settings ? { groupSettings: settings } : {}),
    ...(appCheck ? { appCheck } : {}),
  };
}

/** What the application status check probes: the observers' port and path (`probe.port`, `probe.path`); HTTP only. */
function appCheckOf(props: AutoHealProps, problems: string[]): AppCheckTarget {
  const port = props.probe?.port ?? observerDefaults.port;
  const path = props.probe?.path ?? observerDefaults.path;
  if (!isTargetPort(port)) problems.push(`probe.port: ${targetPortRange}, got ${port}`);
  if (!path.startsWith('/')) problems.push(`probe.path: must start with "/", got "${path}"`);
  if (props.probe?.check === 'tcp') problems.push('probe.check: "tcp" cannot be read by detection app-checks: EC2 application status checks probe HTTP(S) only; use "http"');
  return { port, path };
}

/** Which detections run, and whether each settings prop belongs to one that does. */
function detectionOf(props: AutoHealProps, problems: string[]): { alarms: boolean; probe: boolean; appChecks: boolean } {
  const detection = [...new Set(props.detection ?? ['alarms'])];
  if (detection.length === 0) problems.push(`detection: name at least one of ${detections.map((d) => `"${d}"`).join(', ')}`);
  for (const d of detection as string[]) if (!(detections as readonly string[]).includes(d)) problems.push(`detection: unknown "${String(d)}"`);
  const alarms = detection.includes('alarms');
  const probe = detection.includes('probe');
  const appChecks = detection.includes('app-checks');
  if (props.alarm !== undefined && !alarms) problems.push('alarm: settings given, but detection does not include "alarms"');
  // With app-checks alone, `probe` gives the port and path its check probes; observers and hosts need `probe`.
  if (props.probe !== undefined && !probe && !appChecks) problems.push('probe: settings given, but detection does not include "probe" (or "app-checks")');
  if (!probe && props.probe?.subnets !== undefined) problems.push('probe.subnets: observers are deployed only with detection "probe"');
  if (!probe && props.probe?.hostRole !== undefined) problems.push('probe.hostRole: a probe host sends verdicts only with detection "probe"');
  return { alarms, probe, appChecks };
}

/** The intake's batches and bounds (IntakeSettings), within Lambda's and SQS's limits. */
function intakeOf(props: AutoHealProps, problems: string[]): IntakeResolved {
  const given = props.intake ?? {};
  const check = (key: keyof typeof intakeLimits, value: number, unit = ''): number => {
    const [min, max] = intakeLimits[key];
    if (!(Number.isInteger(value) && value >= min && value <= max)) problems.push(`intake.${key === 'windowSeconds' ? 'batchingWindow' : key}: an integer from ${min} to ${max}${unit}, got ${value}`);
    return value;
  };
  const batchSize = check('batchSize', given.batchSize ?? intakeLimits.batchSize[2]);
  const windowSeconds = check('windowSeconds', given.batchingWindow?.toSeconds() ?? intakeLimits.windowSeconds[2], ' seconds');
  if (batchSize > 10 && windowSeconds < 1) problems.push(`intake.batchingWindow: a batch above 10 records needs a window of at least 1 second (Lambda's rule), got ${windowSeconds}`);
  return {
    batchSize,
    batchingWindow: Duration.seconds(windowSeconds),
    maxConcurrency: check('maxConcurrency', given.maxConcurrency ?? intakeLimits.maxConcurrency[2]),
    maxReceiveCount: check('maxReceiveCount', given.maxReceiveCount ?? intakeLimits.maxReceiveCount[2]),
  };
}

/** The switches and the log level, checked as values: a JavaScript caller may hand over anything. */
function switchProblems(props: AutoHealProps, problems: string[]): void {
  // Fail closed: a JavaScript caller (or a context value passed through) may hand over anything.
  for (const key of ['dryRun', 'respectGracePeriod'] as const) {
    if (props[key] !== undefined && typeof props[key] !== 'boolean') problems.push(`${key}: must be true or false, got ${JSON.stringify(props[key])}`);
  }
  if (props.logLevel !== undefined && !logLevels.includes(props.logLevel)) {
    problems.push(`logLevel: must be one of ${logLevels.join(', ')}, got ${JSON.stringify(props.logLevel)}`);
  }
}

/** The healer's environment for the policy and its rails, checked by the healer's own resolver. */
function policyEnvOf(props: AutoHealProps, problems: string[]): Record<string, string> {
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
  return policyEnv;
}

/**
 * The alarm settings, checked by the alarm manager's own schema; undefined when they are invalid.
 * Without a prefix, the stack's own (`defaultPrefix`); the healer's runtime default is never used.
 */
function alarmOf(props: AutoHealProps, defaultPrefix: string, problems: string[]): AlarmOptions | undefined {
  // The alarm's limits and their messages come from the alarm manager's own schema.
  const alarmInput = {
    prefix: props.alarm?.prefix ?? defaultPrefix,
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
  return alarm.success ? alarm.data : undefined;
}

/** `alarm.syncInterval` in whole minutes. */
function syncIntervalOf(props: AutoHealProps, problems: string[]): number {
  const interval = props.alarm?.syncInterval;
  const intervalMinutes = interval === undefined ? syncIntervalMinutes.default : interval.toSeconds() / 60;
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < syncIntervalMinutes.min || intervalMinutes > syncIntervalMinutes.max) {
    problems.push(
      `alarm.syncInterval: must be whole minutes from ${syncIntervalMinutes.min} to ${syncIntervalMinutes.max}, got ${interval?.toSeconds()} seconds`,
    );
  }
  return intervalMinutes;
}

/** The named groups, and the ARNs SetInstanceHealth is granted on by name. */
function groupsOf(scope: Construct, props: AutoHealProps, problems: string[]): { groupNames: string[]; groupArns: string[] } {
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
  return { groupNames, groupArns };
}

/** The legacy queue's consumer and dead-letter count, when it is asked for. */
function legacyOf(props: AutoHealProps, problems: string[]): Resolved['legacy'] {
  if (!props.legacyQueue) return undefined;
  const settings = props.legacyQueue === true ? {} : props.legacyQueue;
  const legacy = { consumer: settings.consumer ?? 'lambda', maxReceiveCount: settings.maxReceiveCount ?? 5 };
  if (legacy.consumer !== 'lambda' && legacy.consumer !== 'bridge') {
    problems.push(`legacyQueue.consumer: must be "lambda" or "bridge", got ${JSON.stringify(legacy.consumer)}`);
  }
  if (!Number.isInteger(legacy.maxReceiveCount) || legacy.maxReceiveCount < 1 || legacy.maxReceiveCount > 1000) {
    problems.push(`legacyQueue.maxReceiveCount: must be an integer from 1 to 1000, got ${legacy.maxReceiveCount}`);
  }
  return legacy;
}

/** The healer function's timeout and memory, within what Lambda accepts. */
function functionProblems(props: AutoHealProps, problems: string[]): void {
  if (props.timeout !== undefined && (props.timeout.toSeconds() < 10 || props.timeout.toSeconds() > 900)) {
    problems.push(`timeout: must be from 10 to 900 seconds, got ${props.timeout.toSeconds()}`);
  }
  if (props.memorySize !== undefined && !(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10_240)) {
    problems.push(`memorySize: must be an integer from 128 to 10240 MB, got ${props.memorySize}`);
  }
}
