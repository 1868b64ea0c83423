/**
 * The periodic reconcile: runs the alarm manager's idempotent sync for every managed group, so
 * the instances that ran before autoheal was deployed get their alarms, and an alarm deleted by
 * hand or a missed launch/terminate event is repaired on the next run. The Lambda runs it on its
 * EventBridge schedule.
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
  const report: ReconcileReport = { groups: [], missing: [] };
  const failures: string[] = [];
  for (const group of groups) {
    let synced: SyncReport;
    try {
      synced = await deps.manager.syncGroupAlarms(group, signal ? { signal } : {});
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
    report.groups.push({
      group: synced.group,
      created: synced.created.length,
      updated: synced.updated.length,
      deleted: synced.deleted.length,
      unchanged: synced.unchanged.length,
    });
  }
  if (failures.length > 0) {
    throw new AutohealError(`alarm reconcile failed for ${failures.length} of ${groups.length} group(s): ${failures.join('; ')}`);
  }
  return report;
}
