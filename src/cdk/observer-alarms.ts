/**
 * The alarm on what an observer probes, one per observer beside its heartbeat alarm: it fires when
 * the observer probed no target for three minutes running, or when its discovery of the groups
 * keeps failing — an observer with no route to the AWS APIs, or no permission, still beats its
 * heartbeat while it probes nothing. Both come from its heartbeat (EMF, src/prober/heartbeat.ts):
 * `ObserverTargets` (distinct targets checked since the last beat) and `ObserverDiscoveryFailed`.
 * Missing data is not breaching: an observer that stopped beating is the heartbeat alarm's.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { heartbeatMetric } from '../prober/heartbeat-metric.js';

/** The alarm's name for an observer: the stack's name keeps two stacks' alarms apart. */
export const observerTargetsAlarmName = (stackName: string, availabilityZone: string): string => `autoheal-observer-blind-${stackName}-${availabilityZone}`;

/** The alarm on an observer's targets and discovery, notifying the alert topic. */
export function observerTargetsAlarm(
  scope: Construct,
  input: { id: string; observer: string; availabilityZone: string; stackName: string; alertTopic: sns.ITopic },
): cloudwatch.Alarm {
  const metric = (metricName: string): cloudwatch.Metric =>
    new cloudwatch.Metric({
      namespace: heartbeatMetric.namespace,
      metricName,
      dimensionsMap: { [heartbeatMetric.dimension]: input.observer },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
  const alarm = new cloudwatch.Alarm(scope, input.id, {
    alarmName: observerTargetsAlarmName(input.stackName, input.availabilityZone),
    alarmDescription:
      `autoheal observer ${input.observer} probes nothing, or cannot discover its groups: it sees nothing from ${input.availabilityZone} ` +
      '(its route to the Auto Scaling and EC2 APIs, its role, or groups with no InService instance; see its log group)',
    metric: new cloudwatch.MathExpression({
      expression: `IF(targets < 1 OR discovery > 0, 1, 0)`,
      usingMetrics: { targets: metric(heartbeatMetric.targetsName), discovery: metric(heartbeatMetric.discoveryFailedName) },
      period: Duration.minutes(1),
      label: 'observer blind (1) or probing (0)',
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // Three minutes: a deploy, a cold start or a group between instances does not page anyone.
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new actions.SnsAction(input.alertTopic));
  alarm.addOkAction(new actions.SnsAction(input.alertTopic));
  return alarm;
}
