/**
 * The CloudWatch half of the Lambda healer, imported on first use only. Most invocations (a
 * fresh alarm about an instance) never call CloudWatch; loading its client lazily keeps it out
 * of the function's init time. Needed for stale evidence (DescribeAlarms) and for launch and
 * terminate events (PutMetricAlarm, DeleteAlarms) and the held work of the schedule. The alarm sync
 * is a function of its own (./alarm-sync.ts).
 */
export { cloudWatchClient } from '../aws/cloudwatch.js';
export { createAlarmLifecycle, managedGroups } from '../alarms/manager.js';
export { signalsOfAlarmsInAlarm } from '../alarms/held.js';
export { AwsAlarmState } from '../alarms/alarm-state.js';
