/**
 * The periodic reconcile: runs the alarm manager's idempotent sync for every managed group, so
 * the instances that ran before autoheal was deployed get their alarms, and an alarm deleted by
 * hand or a missed launch/terminate event is repaired on the next run. The alarm sync function
 * runs it on its EventBridge schedule (src/lambda/alarm-sync.ts), never the healer.
 *
 * One run lists the prefix's alarms once (all pages) and looks for orphans once, whatever the
 * number of groups: at 500 groups, a listing and an instance read per group would be 500 of each.
 * PutMetricAlarm's throttling is the SDK's to absorb (adaptive retries, src/aws-config.ts); a group
 * whose sync still fails does not stop the others.
 *
 * Which groups: those named in the policy and those carrying the opt-in tag (one filtered
 * DescribeAutoScalingGroups). In `metrics-insights` mode the named groups' alarms belong to the
 * CloudFormation stack (the construct creates them), so only groups opted in by tag alone are
 * synced: writing a stack-owned alarm would make the stack drift.
 */
import type { AutoScalingClient } from '../aws/autoscaling.js';
import { AutohealError, ConfigError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PolicyOptions } from '../policy/options.js';
import { groupNamesWithTag } from './groups.js';
import type { AlarmManager, SyncReport } from './manager.js';

/** Dependencies of {@link reconcileAlarms}; every AWS client is injected. */
export interface ReconcileDeps {
  /** The alarm manager (its options decide the mode); it logs one line per group synced. */
  manager: AlarmManager;
  /** For the opt-in tag filter. */
  autoScaling: AutoScalingClient;
  /** The named groups and the opt-in tag. */
  policy: PolicyOptions;
  logger?: Logger;
}

/** What one reconcile did: per group, the counts of alarms created, updated, deleted and unchanged. */
export interface ReconcileReport {
  groups: Array<{ group: string; created: number; updated: number; deleted: number; unchanged: number }>;
  /** Named groups that do not exist (deleted, or not created yet): skipped, not failed. */
  missing: string[];
  /** Alarms deleted whose instance is in no group any more (an orphan of a live instance counts in its group's `deleted`). */
  orphans: number;
}

/** The groups a reconcile syncs, sorted. */
export async function groupsToReconcile(deps: Omit<ReconcileDeps, 'logger'>, signal?: AbortSignal): Promise<string[]> {
  const tagged = await groupNamesWithTag(deps.autoScaling, { key: deps.policy.optInTagKey, value: deps.policy.optInTagValue }, signal);
  const named = new Set(deps.policy.groups);
  const groups = deps.manager.options.mode === 'per-instance' ? [...named, ...tagged] : tagged.filter((g) => !named.has(g));
  return [...new Set(groups)].sort();
}

/**
 * Syncs every managed group. A failing group does not stop the others; afterwards one
 * {@link AutohealError} names every failure, so the caller's retry runs the whole (idempotent)
 * reconcile again.
 */
export async function reconcileAlarms(deps: ReconcileDeps, signal?: AbortSignal): Promise<ReconcileReport> {
  const logger = deps.logger ?? silentLogger;
  const groups = await groupsToReconcile(deps, signal);
  const existing = await deps.manager.listAlarms(signal);
  const report: ReconcileReport = { groups: [], missing: [], orphans: 0 };
  const failures: string[] = [];
  const wanted = new Set<string>();
  const synced = new Set<string>();
  for (const group of groups) {
    let done: SyncReport;
    try {
      done = await deps.manager.syncGroupAlarms(group, { existing, ...(signal ? { signal } : {}) });
    } catch (error) {
      // The manager's only ConfigError is "group not found": a named group that is gone.
      if (error instanceof ConfigError) {
        report.missing.push(group);
        logger.warn({ group }, 'alarms: named group not found, skipped');
      } else {
        failures.push(`${group}: ${describeError(error)}`);
        logger.error({ group, err: describeError(error) }, 'alarms: group sync failed');
      }
      continue;
    }
    for (const name of [...done.created, ...done.updated, ...done.unchanged]) wanted.add(name);
    synced.add(done.group);
    report.groups.push({
      group: done.group,
      created: done.created.length,
      updated: done.updated.length,
      deleted: 0,
      unchanged: done.unchanged.length,
    });
  }
  let orphanFailure: string | undefined;
  try {
    const orphans = await deps.manager.deleteOrphans(existing, { wanted, synced, ...(signal ? { signal } : {}) });
    for (const orphan of orphans) {
      const entry = report.groups.find((g) => g.group === orphan.group);
      if (entry) entry.deleted += 1;
      else report.orphans += 1;
    }
    if (orphans.length > 0) logger.info({ deleted: orphans.length }, 'alarms: orphans deleted');
  } catch (error) {
    orphanFailure = `orphans: ${describeError(error)}`;
    logger.error({ err: describeError(error) }, 'alarms: orphan check failed');
  }
  if (failures.length > 0 || orphanFailure !== undefined) {
    const groupsFailed = failures.length > 0 ? ` for ${failures.length} of ${groups.length} group(s)` : '';
    throw new AutohealError(`alarm reconcile failed${groupsFailed}: ${[...failures, ...(orphanFailure ? [orphanFailure] : [])].join('; ')}`);
  }
  return report;
}
