/**
 * Re-reads an alarm's state (CloudWatch DescribeAlarms, through the wing), so the healer can verify
 * stale evidence before acting on it: the healer's AlarmStatePort over AWS.
 */
import { describeAlarms, type CloudWatchClient } from '../aws/cloudwatch.js';
import type { AlarmState, AlarmStatePort } from '../healer/types.js';

// Every state, so a state CloudWatch adds one day reads as unknown rather than as one of these.
const states: Record<AlarmState, true> = { ALARM: true, OK: true, INSUFFICIENT_DATA: true };

export class AwsAlarmState implements AlarmStatePort {
  constructor(private readonly client: CloudWatchClient) {}

  async alarmState(alarmName: string, signal?: AbortSignal): Promise<AlarmState | undefined> {
    const [alarm] = await describeAlarms(this.client, { names: [alarmName] }, signal);
    const state = alarm?.state;
    return state !== undefined && Object.hasOwn(states, state) ? (state as AlarmState) : undefined;
  }
}
