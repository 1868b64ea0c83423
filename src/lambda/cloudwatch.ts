/**
 * The CloudWatch half of the Lambda healer, imported on first use only. Most invocations (a
 * fresh alarm about an instance) never call CloudWatch; loading its client lazily keeps it out
 * of the function's init time. Needed for stale evidence (DescribeAlarms) and for launch and
 * terminate events and the scheduled alarm reconcile (PutMetricAlarm, DeleteAlarms).
 */
export { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
export { createAlarmLifecycle, createAlarmManager, managedGroups } from '../alarms/manager.js';
export { reconcileAlarms } from '../alarms/reconcile.js';
export { signalsOfAlarmsInAlarm } from '../alarms/held.js';
export { AwsAlarmState } from '../fleet/aws/alarm-state.js';
