/**
 * The alarm manager: one StatusCheckFailed alarm per instance of each managed group, named
 * `${prefix}${instanceId}`, kept in sync as the group changes. `syncGroupAlarms` reconciles a
 * whole group (create missing, update drifted, delete orphans); the lifecycle handler makes the
 * one change a launch or terminate event asks for. Both touch only alarms with autoheal's prefix.
 *
 * An orphan is an alarm of the prefix whose instance is not live in the group being synced and
 * not live in any other group either (DescribeAutoScalingInstances finds it nowhere, or finds it
 * terminating): several groups share one prefix, and syncing one must not delete another's alarms.
 */
import { deleteAlarms, describeAlarms, putMetricAlarm, type AlarmView, type CloudWatchClient, type MetricAlarmInput } from '../aws/cloudwatch.js';
import { ConfigError } from '../errors.js';
import type { FleetPort, InstanceView } from '../fleet/port.js';
import { silentLogger, type Logger } from '../log.js';
import { isOptedIn } from '../policy/decide.js';
import type { PolicyOptions } from '../policy/options.js';
import { isEc2InstanceId } from '../signals/read.js';
import type { LifecycleSignal } from '../signals/types.js';
import { parseAlarmOptions, type AlarmOptions, type AlarmOptionsInput } from './options.js';

/** Lifecycle states in which an instance keeps its alarm; anything leaving the group loses it. */
const leaving = /^(Terminat|Detach)/;

/** The per-instance alarm's name. */
export function alarmNameFor(prefix: string, instanceId: string): string {
  return `${prefix}${instanceId}`;
}

/** The Metrics Insights group alarm's name (mode `metrics-insights`). */
export function groupAlarmNameFor(prefix: string, groupName: string): string {
  return `${prefix}group-${groupName}`;
}

/** The instance id an alarm name of the prefix is for; undefined for other alarms (a group alarm). */
export function instanceIdOfAlarm(prefix: string, alarmName: string): string | undefined {
  if (!alarmName.startsWith(prefix)) return undefined;
  const id = alarmName.slice(prefix.length);
  return isEc2InstanceId(id) ? id : undefined;
}

/** How every autoheal alarm evaluates and whom it notifies: the same for both kinds. */
function evaluation(options: AlarmOptions) {
  return {
    EvaluationPeriods: options.evaluationPeriods,
    Threshold: options.threshold,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'missing',
    ActionsEnabled: true,
    AlarmActions: [...(options.alarmActions ?? [])],
  } satisfies Partial<MetricAlarmInput>;
}

/** The exact PutMetricAlarm input of an instance's alarm. */
export function instanceAlarmInput(options: AlarmOptions, instanceId: string): MetricAlarmInput {
  return {
    AlarmName: alarmNameFor(options.prefix, instanceId),
    AlarmDescription: `autoheal: EC2 status check of ${instanceId}; managed by autoheal, deleted when the instance leaves its group`,
    Namespace: 'AWS/EC2',
    MetricName: 'StatusCheckFailed',
    Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
    Statistic: 'Maximum',
    Period: options.periodSeconds,
    ...evaluation(options),
  };
}

/**
 * The exact PutMetricAlarm input of a group's Metrics Insights alarm: one query over the EC2
 * status-check metric of the group's instances (by the `aws:autoscaling:groupName` tag Auto
 * Scaling puts on them), grouped by InstanceId so each instance is a contributor.
 */
export function groupAlarmInput(options: AlarmOptions, groupName: string): MetricAlarmInput {
  const quoted = groupName.replaceAll("'", "''");
  return {
    AlarmName: groupAlarmNameFor(options.prefix, groupName),
    AlarmDescription: `autoheal: EC2 status checks of the instances of ${groupName} (one contributor per instance)`,
    Metrics: [
      {
        Id: 'status',
        Expression: `SELECT MAX(StatusCheckFailed) FROM SCHEMA("AWS/EC2", InstanceId) WHERE tag."aws:autoscaling:groupName" = '${quoted}' GROUP BY InstanceId`,
        Period: options.periodSeconds,
        ReturnData: true,
      },
    ],
    ...evaluation(options),
  };
}

/**
 * `wanted` for an alarm that exists: when the options name no actions, the alarm keeps its own
 * (a sync run without --topic-arn must not strip the alert topic the stack wired).
 */
function keepingActions(existing: AlarmView | undefined, wanted: MetricAlarmInput, options: AlarmOptions): MetricAlarmInput {
  return existing && options.alarmActions === undefined ? { ...wanted, AlarmActions: [...existing.actions] } : wanted;
}

/** Whether an existing alarm already has the settings `wanted` asks for. */
function matches(existing: AlarmView, wanted: MetricAlarmInput): boolean {
  const sameActions = [...existing.actions].sort().join(',') === [...(wanted.AlarmActions ?? [])].sort().join(',');
  const samePeriod = wanted.Metrics
    ? existing.metrics[0]?.period === wanted.Metrics[0]?.Period && existing.metrics[0]?.expression === wanted.Metrics[0]?.Expression
    : existing.period === wanted.Period && existing.statistic === wanted.Statistic;
  return (
    sameActions &&
    samePeriod &&
    existing.evaluationPeriods === wanted.EvaluationPeriods &&
    existing.threshold === wanted.Threshold &&
    existing.comparisonOperator === wanted.ComparisonOperator
  );
}

/** What one sync did (or, with dry-run, would do). Alarm names, sorted. */
export interface SyncReport {
  group: string;
  dryRun: boolean;
  created: string[];
  /** Existing alarms whose settings differed from the options and were overwritten. */
  updated: string[];
  deleted: string[];
  /** Alarms that were already right. */
  unchanged: string[];
}

/** Dependencies of the alarm manager; every AWS client is injected. */
export interface AlarmManagerDeps {
  cloudwatch: CloudWatchClient;
  /** Reads the group's instances (sync) and where orphan candidates live. */
  fleet: FleetPort;
  options?: AlarmOptionsInput;
  logger?: Logger;
}

/** Dependencies of the lifecycle handler. */
export interface AlarmLifecycleDeps {
  cloudwatch: CloudWatchClient;
  options?: AlarmOptionsInput;
  /**
   * Whether a group is managed (opted in); launches in other groups get no alarm. Default: every
   * group is managed (the EventBridge rule already names the groups). See {@link managedGroups}.
   */
  isManaged?: (groupName: string, signal?: AbortSignal) => Promise<boolean>;
  logger?: Logger;
}

/** The alarm calls of the manager and the lifecycle handler, through the wing. */
class AlarmStore {
  constructor(
    private readonly client: CloudWatchClient,
    private readonly logger: Logger,
  ) {}

  /** Every metric alarm whose name starts with `prefix`, all pages. */
  list(prefix: string, signal?: AbortSignal): Promise<AlarmView[]> {
    return describeAlarms(this.client, { prefix }, signal);
  }

  put(input: MetricAlarmInput, signal?: AbortSignal): Promise<void> {
    return putMetricAlarm(this.client, input, signal);
  }

  /** Deletes the alarms; one already gone counts as deleted (someone else reached the goal). */
  async delete(names: readonly string[], signal?: AbortSignal): Promise<void> {
    const { alreadyGone } = await deleteAlarms(this.client, names, signal);
    if (alreadyGone > 0) this.logger.debug({ requested: names.length, alreadyGone }, 'alarms: some were already gone');
  }
}

/** How one group's sync runs. */
export interface SyncOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
  /**
   * The run's one listing of the prefix ({@link AlarmManager.listAlarms}). Given, the group's sync
   * lists nothing and leaves the orphans to the run's one {@link AlarmManager.deleteOrphans}:
   * a run over many groups then lists once and reads the instances once, not once per group.
   */
  existing?: readonly AlarmView[];
}

/** An orphan deleted by a run: its alarm's name, and the synced group its instance is live in (none when it is gone). */
export interface DeletedOrphan {
  name: string;
  group?: string;
}

/** Reconciles whole groups. */
export interface AlarmManager {
  /** Creates the group's missing alarms, updates drifted ones, deletes orphans (see SyncOptions.existing). Idempotent. */
  syncGroupAlarms(groupName: string, options?: SyncOptions): Promise<SyncReport>;
  /** Every metric alarm of the prefix, all pages. */
  listAlarms(signal?: AbortSignal): Promise<AlarmView[]>;
  /**
   * Deletes the orphans among `existing`: instance alarms no synced group wants (`wanted`), whose
   * instance is gone or live in one of the `synced` groups. An instance live in a group the run did
   * not sync keeps its alarm: that group's sync owns it.
   */
  deleteOrphans(
    existing: readonly AlarmView[],
    run: { wanted: ReadonlySet<string>; synced: ReadonlySet<string>; dryRun?: boolean; signal?: AbortSignal },
  ): Promise<DeletedOrphan[]>;
  readonly options: AlarmOptions;
}

/** Creates the alarm manager; options are validated here, once. */
export function createAlarmManager(deps: AlarmManagerDeps): AlarmManager {
  const options = parseAlarmOptions(deps.options);
  const logger = deps.logger ?? silentLogger;
  const store = new AlarmStore(deps.cloudwatch, logger);

  const live = (i: InstanceView): boolean => !leaving.test(i.lifecycleState);

  async function deleteOrphans(
    existing: readonly AlarmView[],
    run: { wanted: ReadonlySet<string>; synced: ReadonlySet<string>; dryRun?: boolean; signal?: AbortSignal },
  ): Promise<DeletedOrphan[]> {
    // Orphan candidates: instance alarms of the prefix that no synced group wants.
    const candidates = new Map<string, string>();
    for (const { name } of existing) {
      const id = instanceIdOfAlarm(options.prefix, name);
      if (id !== undefined && !run.wanted.has(name)) candidates.set(id, name);
    }
    if (candidates.size === 0) return [];
    const elsewhere = await deps.fleet.describeInstances([...candidates.keys()], run.signal);
    const orphans: DeletedOrphan[] = [];
    for (const [id, name] of candidates) {
      const found = elsewhere.get(id);
      // Live in a group the run did not sync: that group's sync owns it. Live in a synced group
      // that does not want it (metrics-insights mode) or gone everywhere: an orphan.
      if (found && !run.synced.has(found.groupName) && live(found)) continue;
      orphans.push({ name, ...(found && run.synced.has(found.groupName) ? { group: found.groupName } : {}) });
    }
    if (!run.dryRun) await store.delete(orphans.map((o) => o.name), run.signal);
    return orphans;
  }

  async function syncGroupAlarms(groupName: string, run: SyncOptions = {}): Promise<SyncReport> {
    const { signal } = run;
    const dryRun = run.dryRun ?? false;
    const [group] = await deps.fleet.describeGroups([groupName], signal);
    if (!group) throw new ConfigError(`alarms sync: Auto Scaling group "${groupName}" not found`);

    const wanted = new Map<string, MetricAlarmInput>();
    if (options.mode === 'per-instance') {
      for (const i of group.instances.filter(live)) {
        const input = instanceAlarmInput(options, i.instanceId);
        wanted.set(input.AlarmName as string, input);
      }
    } else {
      const input = groupAlarmInput(options, group.name);
      wanted.set(input.AlarmName as string, input);
    }

    const existing = run.existing ?? (await store.list(options.prefix, signal));
    const byName = new Map(existing.map((a) => [a.name, a] as const));
    const report: SyncReport = { group: group.name, dryRun, created: [], updated: [], deleted: [], unchanged: [] };

    for (const [name, asked] of wanted) {
      const current = byName.get(name);
      const input = keepingActions(current, asked, options);
      if (current && matches(current, input)) {
        report.unchanged.push(name);
        continue;
      }
      (current ? report.updated : report.created).push(name);
      if (!dryRun) await store.put(input, signal);
    }

    // Alone, the group's sync looks for orphans itself; within a run, the run does it once.
    if (run.existing === undefined) {
      const orphans = await deleteOrphans(existing, { wanted: new Set(wanted.keys()), synced: new Set([group.name]), dryRun, ...(signal ? { signal } : {}) });
      report.deleted.push(...orphans.map((o) => o.name));
    }

    for (const list of [report.created, report.updated, report.deleted, report.unchanged]) list.sort();
    logger.info(
      { group: group.name, dryRun, created: report.created.length, updated: report.updated.length, deleted: report.deleted.length },
      'alarms: group synced',
    );
    return report;
  }

  return { syncGroupAlarms, listAlarms: (signal) => store.list(options.prefix, signal), deleteOrphans, options };
}

/**
 * The function the healer calls with launch and terminate signals (HealerOptions.onLifecycle):
 * a launch in a managed group puts exactly that instance's alarm, a terminate deletes exactly
 * that instance's alarm (already gone counts as done). Throws a RemoteError when CloudWatch
 * fails, so the event is retried. In `metrics-insights` mode the group alarm covers new
 * instances by itself, and lifecycle events change nothing.
 */
export function createAlarmLifecycle(
  deps: AlarmLifecycleDeps,
): (signals: readonly LifecycleSignal[], signal?: AbortSignal) => Promise<void> {
  const options = parseAlarmOptions(deps.options);
  const logger = deps.logger ?? silentLogger;
  const store = new AlarmStore(deps.cloudwatch, logger);
  const isManaged = deps.isManaged ?? (() => Promise.resolve(true));

  return async function handleLifecycle(signals, signal) {
    if (options.mode !== 'per-instance') return;
    // The last event per instance wins: a launch and its terminate in one batch leave no alarm.
    const last = new Map<string, LifecycleSignal>();
    for (const s of signals) last.set(s.instanceId, s);
    const toDelete: string[] = [];
    for (const s of last.values()) {
      const name = alarmNameFor(options.prefix, s.instanceId);
      if (s.change === 'terminated') {
        toDelete.push(name);
      } else if (await isManaged(s.groupName, signal)) {
        await store.put(instanceAlarmInput(options, s.instanceId), signal);
        logger.info({ alarm: name, group: s.groupName, eventId: s.eventId }, 'alarms: created for launched instance');
      } else {
        logger.debug({ group: s.groupName, instanceId: s.instanceId }, 'alarms: launch in an unmanaged group ignored');
      }
    }
    if (toDelete.length > 0) {
      await store.delete(toDelete, signal);
      logger.info({ alarms: toDelete }, 'alarms: deleted for terminated instances');
    }
  };
}

/**
 * Deletes every metric alarm whose name starts with `prefix`, in batches of 100, and returns their
 * names: the destroy-time clean-up of a deployment (the Terraform module invokes the healer for it),
 * so removing autoheal leaves none of its alarms behind. Throws a RemoteError when CloudWatch fails.
 */
export async function deleteAlarmsWithPrefix(
  deps: { cloudwatch: CloudWatchClient; logger?: Logger },
  prefix: string,
  signal?: AbortSignal,
): Promise<string[]> {
  if (prefix === '') throw new ConfigError('alarms: refusing to delete every alarm of the account (empty prefix)');
  const store = new AlarmStore(deps.cloudwatch, deps.logger ?? silentLogger);
  const names = (await store.list(prefix, signal)).map((a) => a.name);
  await store.delete(names, signal);
  return names;
}

/**
 * An `isManaged` check from the policy's opt-in rule: named in `groups`, or carrying the opt-in
 * tag (one DescribeAutoScalingGroups through the fleet port, only for groups not named).
 */
export function managedGroups(
  fleet: FleetPort,
  policy: PolicyOptions,
): (groupName: string, signal?: AbortSignal) => Promise<boolean> {
  return async (groupName, signal) => {
    if (policy.groups.includes(groupName)) return true;
    const [group] = await fleet.describeGroups([groupName], signal);
    return group !== undefined && isOptedIn(group, policy);
  };
}
