/**
 * The alarm sync, a Lambda function of its own (dist/alarm-sync.mjs, handler `alarm-sync.handler`),
 * never the healer: at 1,000 instances a sync is minutes of PutMetricAlarm at CloudWatch's few
 * requests a second, and no decision may wait behind it.
 *
 * - An EventBridge "Scheduled Event" (the stack's sync schedule, and the construct's deploy-time
 *   trigger) syncs every managed group's alarms (src/alarms/reconcile.ts): the prefix is listed
 *   once per run (all pages), the orphans are looked for once, and a throttled PutMetricAlarm backs
 *   off with the SDK's adaptive retry (src/aws/settings.ts). A group whose sync failed throws after
 *   the others are done, so the function's Errors metric (a stack alarm) says so; the next run
 *   repeats it (the sync is idempotent).
 * - The Terraform module's `aws_lambda_invocation` (lifecycle_scope CRUD, input
 *   `source: "autoheal.terraform"`, the provider adds `tf.action`): on create and update the same
 *   sync (a failed sync is logged and returned, not thrown, so it never fails the apply and the
 *   schedule repeats it); on delete every alarm of the prefix is deleted (the destroy-time
 *   clean-up; a failure throws, so `terraform destroy` says so instead of leaving alarms behind).
 *
 * Anything else is refused with an error naming what the function takes.
 */
import { alarmOptionsFromEnv } from '../alarms/env.js';
import { createAlarmManager, deleteAlarmsWithPrefix } from '../alarms/manager.js';
import { parseAlarmOptions, type AlarmOptionsInput } from '../alarms/options.js';
import { reconcileAlarms, type ReconcileReport } from '../alarms/reconcile.js';
import { autoScalingClient, type AutoScalingClient } from '../aws/autoscaling.js';
import { cloudWatchClient, type CloudWatchClient } from '../aws/cloudwatch.js';
import { resolveSettings, type Settings } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { AwsFleet } from '../fleet/aws/fleet.js';
import { createLogger, type Logger } from '../log.js';
import { isScheduledEvent, terraformAction, timeoutSignal, type LambdaContext } from './events.js';

/** What the sync function is made of; the module builds the real ones from the environment. */
export interface AlarmSyncDeps {
  config: Settings;
  autoScaling: AutoScalingClient;
  cloudWatch: CloudWatchClient;
  /** The alarms' settings (default: alarmOptionsFromEnv()); validated once, here. */
  alarmOptions?: AlarmOptionsInput;
  logger: Logger;
}

/** What the Terraform module's invocation returns: the sync's report (or its error), or the alarms deleted. */
export type TerraformSummary =
  | ({ action: 'create' | 'update' } & ({ sync: ReconcileReport } | { syncError: string }))
  | { action: 'delete'; deletedAlarms: number };

/** Builds the sync function's handler from its parts (tests pass mocked clients). */
export function createAlarmSyncHandler(deps: AlarmSyncDeps) {
  const { config, logger, cloudWatch } = deps;
  const options = parseAlarmOptions(deps.alarmOptions ?? alarmOptionsFromEnv());
  // The groups' instances only: the sync needs no launch times, so EC2 is never called.
  const fleet = new AwsFleet(deps.autoScaling);
  const manager = createAlarmManager({ cloudwatch: cloudWatch, fleet, options, logger });
  const reconcile = (signal?: AbortSignal): Promise<ReconcileReport> =>
    reconcileAlarms({ manager, autoScaling: deps.autoScaling, policy: config.policy, logger }, signal);

  async function terraform(action: 'create' | 'update' | 'delete', signal?: AbortSignal): Promise<TerraformSummary> {
    if (action === 'delete') {
      const deleted = await deleteAlarmsWithPrefix({ cloudwatch: cloudWatch, logger }, options.prefix, signal);
      logger.info({ prefix: options.prefix, deleted: deleted.length }, 'alarms: every alarm of the prefix deleted (terraform destroy)');
      return { action, deletedAlarms: deleted.length };
    }
    try {
      return { action, sync: await reconcile(signal) };
    } catch (error) {
      logger.error({ err: describeError(error) }, 'alarms: deploy-time sync failed; the schedule rule repeats it');
      return { action, syncError: describeError(error) };
    }
  }

  return async function handler(event: unknown, context?: LambdaContext): Promise<ReconcileReport | TerraformSummary> {
    const signal = timeoutSignal(context);
    const tfAction = terraformAction(event);
    if (tfAction !== undefined) return terraform(tfAction, signal);
    if (isScheduledEvent(event)) return reconcile(signal);
    const e = event as { source?: unknown; 'detail-type'?: unknown } | null;
    throw new ConfigError(
      `alarm sync: takes an EventBridge "Scheduled Event" or the Terraform module's invocation (source "autoheal.terraform" with tf.action), ` +
        `got ${typeof e === 'object' && e !== null ? `source ${JSON.stringify(e.source)}, detail-type ${JSON.stringify(e['detail-type'])}` : JSON.stringify(event)}`,
    );
  };
}

function fromEnvironment(): AlarmSyncDeps {
  const config = resolveSettings();
  // Lambda collects stdout into CloudWatch Logs.
  const logger = createLogger({ fd: 1, level: config.logLevel, component: 'alarm-sync' });
  return { config, logger, autoScaling: autoScalingClient(), cloudWatch: cloudWatchClient(), alarmOptions: alarmOptionsFromEnv() };
}

/** The Lambda entry point (`alarm-sync.handler`); configured from the environment at init. */
export const handler = createAlarmSyncHandler(fromEnvironment());
