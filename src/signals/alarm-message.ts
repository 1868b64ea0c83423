import { regionNames } from './regions.js';
import type { HealthSignal } from './types.js';


/** Options of {@link toAlarmMessage}. */
export interface AlarmMessageOptions {
  /** The account the message claims; with a region it also yields an `AlarmArn`. */
  accountId?: string;
}

/** Alarm names of autoheal's probe verdicts start with this. */
export const probeAlarmPrefix = 'autoheal-probe-';

/** The alarm name autoheal's prober publishes under for an instance. */
export function probeAlarmName(instanceId: string): string {
  return `${probeAlarmPrefix}${instanceId}`;
}

/** ISO 8601 `…Z` as CloudWatch writes times in alarm messages: `2021-12-06T14:25:39.681+0000`. */
function cloudWatchTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().replace(/Z$/, '+0000');
}

/**
 * The JSON text CloudWatch publishes to SNS when an alarm changes state, for a signal
 * (a probe verdict): alarm `autoheal-probe-${instanceId}`, `ALARM` when unhealthy, `OK` when
 * healthy, with an `InstanceId` dimension. `parseEvent` of the text gives back the signal's
 * instance, state and reason.
 */
export function toAlarmMessage(signal: HealthSignal, options: AlarmMessageOptions = {}): string {
  const alarmName = probeAlarmName(signal.instanceId);
  const unhealthy = signal.state === 'unhealthy';
  const region = signal.region;
  const accountId = options.accountId;
  const message = {
    AlarmName: alarmName,
    AlarmDescription: `autoheal probe of ${signal.instanceId}`,
    AWSAccountId: accountId ?? '',
    NewStateValue: unhealthy ? 'ALARM' : 'OK',
    NewStateReason: signal.reason,
    StateChangeTime: cloudWatchTime(signal.observedAt),
    Region: region === undefined ? '' : (regionNames[region] ?? region),
    ...(region !== undefined && accountId !== undefined
      ? { AlarmArn: `arn:aws:cloudwatch:${region}:${accountId}:alarm:${alarmName}` }
      : {}),
    OldStateValue: unhealthy ? 'OK' : 'ALARM',
    Trigger: {
      MetricName: 'ProbeFailed',
      Namespace: 'autoheal',
      StatisticType: 'Statistic',
      Statistic: 'MAXIMUM',
      Unit: null,
      // The observer rides along as a dimension, so the healer's quorum can count distinct observers.
      Dimensions: [{ value: signal.instanceId, name: 'InstanceId' }, ...(signal.observer ? [{ value: signal.observer, name: 'Observer' }] : [])],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1.0,
      TreatMissingData: '',
      EvaluateLowSampleCountPercentile: '',
    },
  };
  return JSON.stringify(message);
}
