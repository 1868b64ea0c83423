import type { HealthSignal, ParseResult } from './types.js';

export type { HealthSignal, LifecycleSignal, ParseResult, Rejection } from './types.js';

/** Turns any supported event (object or JSON text) into signals; never throws. */
export function parseEvent(input: unknown): ParseResult {
  const result: ParseResult = { signals: [], lifecycle: [], rejected: [] };
  try {
    let value: unknown = input;
    if (typeof value === 'string') value = JSON.parse(value);
    if (typeof value === 'object' && value !== null && 'Message' in value && typeof value.Message === 'string') {
      value = JSON.parse(value.Message);
    }
    const alarm = value as Record<string, unknown>;
    const dims = (alarm.Trigger as { Dimensions?: Array<{ name: string; value: string }> } | undefined)?.Dimensions ?? [];
    const id = dims.find((d) => d.name === 'InstanceId')?.value;
    const state = alarm.NewStateValue;
    if (typeof id === 'string' && (state === 'ALARM' || state === 'OK')) {
      const signal: HealthSignal = {
        instanceId: id,
        state: state === 'ALARM' ? 'unhealthy' : 'healthy',
        source: 'cloudwatch-alarm',
        observedAt: String(alarm.StateChangeTime),
        eventId: `${String(alarm.AlarmName)}@${String(alarm.StateChangeTime)}`,
        reason: String(alarm.NewStateReason),
        instanceIdFrom: 'dimension',
        alarmName: String(alarm.AlarmName),
      };
      result.signals.push(signal);
    } else {
      result.rejected.push({ reason: 'not an alarm about an instance' });
    }
  } catch (error) {
    result.rejected.push({ reason: `not JSON: ${String(error)}` });
  }
  return result;
}
