/**
 * Held work, found again. CloudWatch sends a state change once: an instance skipped because the
 * budget was spent (or for grace, the rate limit, a freeze) would never be healed if nothing looked
 * again. The scheduled run reads every autoheal alarm still in ALARM — per-instance alarms, and the
 * contributors of Metrics Insights group alarms — and hands them to the healer as fresh evidence
 * (just re-read, so no stale re-check is needed). Instances already marked are skipped by the policy
 * (already Unhealthy, duplicate); the rest are decided as if their alarm had fired now.
 */
import { describeAlarmContributors, describeAlarms, type CloudWatchClient } from '../aws/cloudwatch.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { isEc2InstanceId } from '../signals/read.js';
import type { HealthSignal } from '../signals/types.js';
import { instanceIdOfAlarm } from './manager.js';

/** The unhealthy signals of every autoheal alarm (or contributor) in ALARM now. */
export async function signalsOfAlarmsInAlarm(
  client: CloudWatchClient,
  prefix: string,
  nowMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<HealthSignal[]> {
  const observedAt = new Date(nowMs).toISOString();
  const signals: HealthSignal[] = [];
  for (const alarm of await describeAlarms(client, { prefix, state: 'ALARM' }, signal)) {
    const name = alarm.name;
    // The filter is asked of CloudWatch; checked again so a looser answer never becomes evidence.
    if (alarm.state !== 'ALARM') continue;
    const instanceId = instanceIdOfAlarm(prefix, name);
    if (instanceId !== undefined) {
      signals.push({
        instanceId,
        state: 'unhealthy',
        source: 'cloudwatch-alarm',
        observedAt,
        eventId: `${name}@reevaluated:${observedAt}`,
        reason: `still in ALARM: ${alarm.stateReason ?? ''}`.trim(),
        instanceIdFrom: 'alarm-name',
        alarmName: name,
      });
      continue;
    }
    // A Metrics Insights group alarm: each contributor in ALARM is an instance.
    try {
      for (const contributor of await describeAlarmContributors(client, name, signal)) {
        const id = contributor.attributes.InstanceId;
        if (id === undefined || !isEc2InstanceId(id)) continue;
        signals.push({
          instanceId: id,
          state: 'unhealthy',
          source: 'cloudwatch-alarm',
          observedAt,
          eventId: `${name}:${contributor.id ?? id}@reevaluated:${observedAt}`,
          reason: `still in ALARM: ${contributor.stateReason ?? ''}`.trim(),
          instanceIdFrom: 'contributor',
          alarmName: name,
        });
      }
    } catch (error) {
      logger.warn({ alarm: name, error: describeError(error) }, 'held work: contributors of a group alarm could not be read');
    }
  }
  return signals;
}
