/**
 * The CloudWatch half of the Lambda healer, imported on first use only. Most invocations (a
 * fresh alarm about an instance) never call CloudWatch; loading its client lazily keeps it out
 * of the function's init time. Needed for stale evidence (DescribeAlarms) and for launch and
 * terminate events, the scheduled alarm reconcile and the Terraform module's deploy-time sync and
 * destroy-time clean-up (PutMetricAlarm, DeleteAlarms).
 */
export { cloudWatchClient } from '../aws/cloudwatch.js';
export { createAlarmLifecycle, createAlarmManager, deleteAlarmsWithPrefix, managedGroups } from '../alarms/manager.js';
export { reconcileAlarms } from '../alarms/reconcile.js';
export { signalsOfAlarmsInAlarm } from '../alarms/held.js';
export { AwsAlarmState } from '../alarms/alarm-state.js';
