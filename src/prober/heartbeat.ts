/**
 * An observer's heartbeat, the contract `autoheal status` and the stack's alarms read: CloudWatch
 * namespace `autoheal`, metric `ObserverHeartbeat` (value 1, unit Count), dimension
 * `Observer=<name>` (no `Group` dimension), at most every 10 s. Beside it, in the same dimension,
 * `ObserverDegraded` (1 while the self-check withholds unhealthy verdicts, else 0),
 * `ObserverTargets` (distinct targets checked since the last beat), `ObserverUnreachableGroups`
 * (groups none of whose instances ever passed its check) and `ObserverLatenessMs` (its worst
 * lateness since the last beat) and `ObserverDiscoveryFailed` (1 while its latest discovery failed).
 *
 * Two ways to publish it:
 * - {@link emfHeartbeatLine}: an embedded metric format line on stdout, where CloudWatch Logs
 *   already collects stdout (the observer Lambda): no API call, no IAM action, no endpoint.
 * - {@link putMetricDataHeartbeat}: CloudWatch PutMetricData, for `autoheal probe` on a host,
 *   whose stdout nothing ships to CloudWatch unless an agent is set up for it.
 */
import { putMetricData, type CloudWatchClient } from '../aws/cloudwatch.js';
import type { Heartbeat } from './prober.js';

import { heartbeatMetric } from './heartbeat-metric.js';

export { heartbeatMetric } from './heartbeat-metric.js';

/** One EMF document (one line of JSON) for a heartbeat. */
export function emfHeartbeatLine(beat: Heartbeat): string {
  return JSON.stringify({
    _aws: {
      Timestamp: beat.atMs,
      CloudWatchMetrics: [
        {
          Namespace: heartbeatMetric.namespace,
          Dimensions: [[heartbeatMetric.dimension]],
          Metrics: [
            { Name: heartbeatMetric.name, Unit: 'Count' },
            { Name: heartbeatMetric.degradedName, Unit: 'Count' },
            { Name: heartbeatMetric.targetsName, Unit: 'Count' },
            { Name: heartbeatMetric.unreachableName, Unit: 'Count' },
            { Name: heartbeatMetric.latenessName, Unit: 'Milliseconds' },
            { Name: heartbeatMetric.discoveryFailedName, Unit: 'Count' },
          ],
        },
      ],
    },
    [heartbeatMetric.dimension]: beat.observer,
    [heartbeatMetric.name]: 1,
    [heartbeatMetric.degradedName]: beat.degraded ? 1 : 0,
    [heartbeatMetric.targetsName]: beat.probed,
    [heartbeatMetric.unreachableName]: beat.unreachable.length,
    [heartbeatMetric.latenessName]: beat.worstLatenessMs,
    [heartbeatMetric.discoveryFailedName]: beat.discoveryFailing ? 1 : 0,
    // Not metrics (not listed above): searchable context in the log line.
    degradedReasons: beat.reasons,
    targets: beat.targets,
    unhealthy: beat.unhealthy,
    unreachableGroups: beat.unreachable.map((u) => u.group),
  });
}

/** Heartbeats as EMF lines written with `write` (process.stdout in Lambda). */
export function emfHeartbeat(write: (line: string) => void): (beat: Heartbeat) => void {
  return (beat) => write(`${emfHeartbeatLine(beat)}\n`);
}

/** Heartbeats through CloudWatch PutMetricData (IAM: cloudwatch:PutMetricData, namespace `autoheal`). */
export function putMetricDataHeartbeat(client: CloudWatchClient): (beat: Heartbeat) => Promise<void> {
  return async (beat) => {
    const dimensions = { [heartbeatMetric.dimension]: beat.observer };
    const timestamp = new Date(beat.atMs);
    await putMetricData(client, heartbeatMetric.namespace, [
      { name: heartbeatMetric.name, dimensions, value: 1, unit: 'Count', timestamp },
      { name: heartbeatMetric.degradedName, dimensions, value: beat.degraded ? 1 : 0, unit: 'Count', timestamp },
      { name: heartbeatMetric.targetsName, dimensions, value: beat.probed, unit: 'Count', timestamp },
      { name: heartbeatMetric.unreachableName, dimensions, value: beat.unreachable.length, unit: 'Count', timestamp },
      { name: heartbeatMetric.latenessName, dimensions, value: beat.worstLatenessMs, unit: 'Milliseconds', timestamp },
      { name: heartbeatMetric.discoveryFailedName, dimensions, value: beat.discoveryFailing ? 1 : 0, unit: 'Count', timestamp },
    ]);
  };
}
