/**
 * Events built in tests and benchmarks, shaped like the project's fixtures (test/fixtures/events):
 * a CloudWatch StatusCheckFailed alarm about one instance, as SNS delivers it in `Message`.
 */

/** What a test may change in {@link statusCheckAlarm}. */
export interface AlarmChange {
  state?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  /** ISO 8601; defaults to now. */
  stateChangeTime?: string;
  /** The region's name as CloudWatch writes it. */
  region?: string;
}

/** The alarm JSON of autoheal's status-check alarm for `instanceId` (the SNS `Message`, parsed). */
export function statusCheckAlarm(instanceId: string, change: AlarmChange = {}) {
  return {
    AlarmName: `autoheal-status-check-${instanceId}`,
    NewStateValue: change.state ?? 'ALARM',
    NewStateReason: 'Threshold Crossed: 2 out of the last 2 datapoints were greater than or equal to the threshold (1.0).',
    StateChangeTime: change.stateChangeTime ?? new Date().toISOString(),
    Region: change.region ?? 'EU (Ireland)',
    Trigger: {
      MetricName: 'StatusCheckFailed',
      Namespace: 'AWS/EC2',
      Statistic: 'MAXIMUM',
      Dimensions: [{ value: instanceId, name: 'InstanceId' }],
      Period: 60,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    },
  };
}

/** {@link statusCheckAlarm} as the string SNS delivers in `Message` (and a raw-delivery SQS body). */
export function statusCheckAlarmMessage(instanceId: string, change: AlarmChange = {}): string {
  return JSON.stringify(statusCheckAlarm(instanceId, change));
}
