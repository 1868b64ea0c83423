/**
 * Reads the current state of named alarms (for `autoheal status`), through the wing's one
 * DescribeAlarms reader. Names that do not exist are simply absent from the result.
 */
import { describeAlarms, type CloudWatchClient } from '../aws/cloudwatch.js';

/** One alarm's state as CloudWatch reports it now. */
export interface AlarmStateView {
  name: string;
  /** ALARM, OK or INSUFFICIENT_DATA. */
  state: string;
  /** CloudWatch's own explanation of the last transition. */
  reason?: string;
  updatedAt?: Date;
}

/** The states of the alarms named, by name; names of alarms that do not exist are absent. */
export async function describeAlarmStates(client: CloudWatchClient, names: readonly string[], signal?: AbortSignal): Promise<Map<string, AlarmStateView>> {
  const found = new Map<string, AlarmStateView>();
  for (const a of await describeAlarms(client, { names }, signal)) {
    found.set(a.name, {
      name: a.name,
      state: a.state ?? 'UNKNOWN',
      ...(a.stateReason ? { reason: a.stateReason } : {}),
      ...(a.stateUpdatedAt ? { updatedAt: a.stateUpdatedAt } : {}),
    });
  }
  return found;
}
