/**
 * Events built in tests and benchmarks, shaped like the project's fixtures (test/fixtures/events):
 * a CloudWatch StatusCheckFailed alarm about one instance, as SNS delivers it in `Message`; the
 * signals the parser makes of an alarm and of a probe verdict, for tests that start at the healer;
 * and a batch of queue messages as Lambda hands it over, for tests that start at `autoheal heal`.
 */
import type { HealthSignal } from '../../src/signals/types.js';

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

/** An autoheal status-check alarm's evidence that `instanceId` is down, observed at `atMs`, as the parser gives it. */
export function alarmSignal(instanceId: string, atMs: number): HealthSignal {
  return {
    instanceId,
    state: 'unhealthy',
    source: 'cloudwatch-alarm',
    observedAt: new Date(atMs).toISOString(),
    eventId: `evt-${instanceId}-${atMs}`,
    reason: 'Threshold Crossed',
    instanceIdFrom: 'dimension',
    alarmName: `autoheal-status-check-${instanceId}`,
  };
}

/** An observer's probe verdict about `instanceId` at `atMs` (unhealthy unless `healthy`), as the parser gives it. */
export function probeVerdict(instanceId: string, observer: string, atMs: number, healthy = false): HealthSignal {
  return {
    instanceId,
    state: healthy ? 'healthy' : 'unhealthy',
    source: 'probe',
    observedAt: new Date(atMs).toISOString(),
    eventId: `probe:${observer}:${instanceId}:${atMs}`,
    reason: 'timeout after 1000 ms',
    instanceIdFrom: 'probe-target',
    observer,
  };
}

/** `bodies` as one Lambda SQS event (a batch of the queue `queue`, in us-east-1), as the string `autoheal heal` reads. */
export function sqsEvent(bodies: readonly string[], queue: string): string {
  return JSON.stringify({
    Records: bodies.map((body, i) => ({
      messageId: `m-${i}-${Math.random()}`,
      receiptHandle: `rh-${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queue}`,
      awsRegion: 'us-east-1',
    })),
  });
}
