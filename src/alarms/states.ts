/**
 * Reads the current state of named alarms (for `autoheal status`). Thin: injected client, abort
 * signal passed, names asked in batches of 100 (DescribeAlarms' limit for AlarmNames), errors
 * converted naming the IAM action. Names that do not exist are simply absent from the result.
 */
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { callAws, chunks, pages } from '../aws/call.js';
import { maxAlarmsPerPage } from './manager.js';

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
export async function describeAlarmStates(
  client: CloudWatchClient,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, AlarmStateView>> {
  const found = new Map<string, AlarmStateView>();
  const unique = [...new Set(names)];
  // Never call without names: that would list every alarm of the account.
  for (const batch of chunks(unique, maxAlarmsPerPage)) {
    const listing = pages((nextToken) =>
      callAws('cloudwatch:DescribeAlarms', signal, (abortSignal) =>
        client.send(
          new DescribeAlarmsCommand({ AlarmNames: batch, MaxRecords: maxAlarmsPerPage, ...(nextToken ? { NextToken: nextToken } : {}) }),
          { abortSignal },
        ),
      ),
    );
    for await (const page of listing) {
      for (const a of page.MetricAlarms ?? []) {
        if (!a.AlarmName) continue;
        found.set(a.AlarmName, {
          name: a.AlarmName,
          state: a.StateValue ?? 'UNKNOWN',
          ...(a.StateReason ? { reason: a.StateReason } : {}),
          ...(a.StateUpdatedTimestamp ? { updatedAt: a.StateUpdatedTimestamp } : {}),
        });
      }
    }
  }
  return found;
}
