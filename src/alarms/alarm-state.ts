/**
 * Re-reads an alarm's state through CloudWatch DescribeAlarms, so the healer can verify stale
 * evidence before acting on it. Thin adapter: injected client, errors converted by callAws.
 */
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { callAws } from '../aws/call.js';
import type { AlarmState, AlarmStatePort } from '../healer/types.js';

// Every state, so a state CloudWatch adds one day reads as unknown rather than as one of these.
const states: Record<AlarmState, true> = { ALARM: true, OK: true, INSUFFICIENT_DATA: true };

export class AwsAlarmState implements AlarmStatePort {
  constructor(private readonly client: CloudWatchClient) {}

  async alarmState(alarmName: string, signal?: AbortSignal): Promise<AlarmState | undefined> {
    const out = await callAws('cloudwatch:DescribeAlarms', signal, (abortSignal) =>
      this.client.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }), {
        abortSignal,
      }),
    );
    const state = out.MetricAlarms?.[0]?.StateValue ?? out.CompositeAlarms?.[0]?.StateValue;
    return state !== undefined && Object.hasOwn(states, state) ? (state as AlarmState) : undefined;
  }
}
