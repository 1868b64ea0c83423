/**
 * Re-reads an alarm's state through CloudWatch DescribeAlarms, so the healer can verify stale
 * evidence before acting on it. Thin adapter: injected client, errors converted by callAws.
 */
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { callAws } from '../../aws-calls.js';
import type { AlarmState, AlarmStatePort } from '../../healer/types.js';

const states = new Set<string>(['ALARM', 'OK', 'INSUFFICIENT_DATA']);

export class AwsAlarmState implements AlarmStatePort {
  constructor(private readonly client: CloudWatchClient) {}

  async alarmState(alarmName: string, signal?: AbortSignal): Promise<AlarmState | undefined> {
    const out = await callAws('cloudwatch:DescribeAlarms', signal, (abortSignal) =>
      this.client.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }), {
        abortSignal,
      }),
    );
    const state = out.MetricAlarms?.[0]?.StateValue ?? out.CompositeAlarms?.[0]?.StateValue;
    return state !== undefined && states.has(state) ? (state as AlarmState) : undefined;
  }
}
