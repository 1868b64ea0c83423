import type { HealthSignal } from './types.js';

/**
 * Region names as CloudWatch writes them in the `Region` field of an alarm message
 * (`EU (London)`); codes not listed here are written as the code itself.
 */
const regionNames: Readonly<Record<string, string>> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'ca-central-1': 'Canada (Central)',
  'eu-west-1': 'EU (Ireland)',
  'eu-west-2': 'EU (London)',
  'eu-west-3': 'EU (Paris)',
  'eu-central-1': 'EU (Frankfurt)',
  'eu-north-1': 'EU (Stockholm)',
  'eu-south-1': 'EU (Milan)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-northeast-2': 'Asia Pacific (Seoul)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
  'sa-east-1': 'South America (Sao Paulo)',
};

/** Options of {@link toAlarmMessage}. */
export interface AlarmMessageOptions {
  /** The account the message claims; with a region it also yields an `AlarmArn`. */
  accountId?: string;
}

/** The alarm name autoheal's prober publishes under for an instance. */
export function probeAlarmName(instanceId: string): string {
  return `autoheal-probe-${instanceId}`;
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
      Dimensions: [{ value: signal.instanceId, name: 'InstanceId' }],
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
