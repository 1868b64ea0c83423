/**
 * The stack's dashboard: what autoheal decided (marks and skips by reason, failed decisions, from
 * the healer's EMF metrics in namespace autoheal), how fast (decision latency), whether anything
 * waits (queue depths, and the age of the oldest message of each queue the healer takes), the
 * healer's invocations, errors and throttles, and the stack's alarms.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { decisionMetric, metricsNamespace } from '../operate/emf.js';

export interface DashboardInput {
  readonly healer: lambda.Function;
  readonly failureQueue: sqs.IQueue;
  /** The queues the healer takes, with their dead-letter queues. */
  readonly intakes?: ReadonlyArray<{ readonly label: string; readonly queue: sqs.IQueue; readonly deadLetterQueue: sqs.IQueue }>;
  readonly legacyQueue?: sqs.IQueue;
  readonly legacyDeadLetterQueue?: sqs.IQueue;
  /** The stack's own alarms, in the order the status widget lists them. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

export function dashboard(scope: Construct, props: DashboardInput): cloudwatch.Dashboard {
  const { healer } = props;
  const region = Stack.of(scope).region;
  const search = (filter: string, metric: string, stat: string, label: string): cloudwatch.MathExpression =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${metricsNamespace},${decisionMetric.action},${decisionMetric.reason}} MetricName="${metric}" ${filter}', '${stat}', 300)`,
      label,
      period: Duration.minutes(5),
      searchRegion: region,
    });
  const intakes = props.intakes ?? [];
  const queues: Array<[string, sqs.IQueue | undefined]> = [
    ['failure queue', props.failureQueue],
    ...intakes.flatMap((i): Array<[string, sqs.IQueue]> => [
      [i.label, i.queue],
      [`${i.label} dead letters`, i.deadLetterQueue],
    ]),
    ['legacy queue', props.legacyQueue],
    ['legacy dead-letter queue', props.legacyDeadLetterQueue],
  ];
  return new cloudwatch.Dashboard(scope, 'Dashboard', {
    defaultInterval: Duration.hours(12),
    widgets: [
      [
        new cloudwatch.GraphWidget({ title: 'Marks by reason', left: [search(`${decisionMetric.action}="mark"`, decisionMetric.count, 'Sum', '')], stacked: true, width: 8 }),
        new cloudwatch.GraphWidget({ title: 'Skips by reason', left: [search(`${decisionMetric.action}="skip"`, decisionMetric.count, 'Sum', '')], stacked: true, width: 8 }),
        new cloudwatch.GraphWidget({ title: 'Failed decisions', left: [search(`${decisionMetric.action}="failed"`, decisionMetric.count, 'Sum', '')], width: 8 }),
      ],
      [
        new cloudwatch.GraphWidget({ title: 'Decision latency p95 (ms)', left: [search('', decisionMetric.latency, 'p95', '')], width: 8 }),
        new cloudwatch.GraphWidget({
          title: 'Queue depths (visible); oldest message age, s (right)',
          left: queues.flatMap(([label, q]) => (q ? [q.metricApproximateNumberOfMessagesVisible({ label, period: Duration.minutes(5), statistic: 'Maximum' })] : [])),
          right: intakes.map((i) => i.queue.metricApproximateAgeOfOldestMessage({ label: `${i.label} oldest`, period: Duration.minutes(5), statistic: 'Maximum' })),
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: 'Healer',
          left: [healer.metricInvocations({ statistic: 'Sum' }), healer.metricErrors({ statistic: 'Sum' }), healer.metricThrottles({ statistic: 'Sum' })],
          right: [healer.metricDuration({ statistic: 'p95' })],
          width: 8,
        }),
      ],
      [new cloudwatch.AlarmStatusWidget({ title: 'Stack alarms', alarms: [...props.alarms], width: 24 })],
    ],
  });
}
