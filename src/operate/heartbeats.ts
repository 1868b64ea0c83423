/**
 * The observers' heartbeats, read back (for `autoheal status`). Each observer publishes the metric
 * `autoheal` / `ObserverHeartbeat` with one dimension `Observer=<name>` once per probe round (issue
 * 10's contract; `Group` is not a dimension, so heartbeats say which observers live, not which
 * groups they watch). Two CloudWatch calls whatever the number of observers: ListMetrics finds
 * the observers, GetMetricData reads the newest datapoint of each (500 queries per call) and,
 * beside it, how many targets it probed and how many groups it cannot reach (`ObserverTargets`,
 * `ObserverUnreachableGroups`; null from an observer that does not publish them). Which groups those
 * are is in its heartbeat's log line (`unreachableGroups`) and, with the verdict queue, in its reports.
 */
import { getMetricData, listMetrics, type CloudWatchClient } from '../aws/cloudwatch.js';
/** The heartbeat contract shared with the observers. */
import { heartbeatMetric } from '../prober/heartbeat-metric.js';

/** How far back a heartbeat is looked for: an observer silent for longer shows `lastHeartbeat: null`. */
export const heartbeatLookbackMs = 3 * 60 * 60 * 1000;
/**
 * An observer whose newest heartbeat is older than this is reported silent. Observers beat at
 * most every 10 s; CloudWatch aggregates per minute and shows a datapoint a minute or two late.
 */
export const heartbeatSilentAfterMs = 5 * 60 * 1000;

/** One observer and its newest heartbeat. */
export interface ObserverHeartbeat {
  name: string;
  /** ISO 8601 time of the newest minute with a heartbeat; null when none within the lookback. */
  lastHeartbeat: string | null;
  /** No heartbeat within heartbeatSilentAfterMs. */
  silent: boolean;
  /** Targets it probed in its newest minute that says; null when it publishes no `ObserverTargets`. */
  targets: number | null;
  /** Groups it could not reach in its newest minute that says; null when it publishes no `ObserverUnreachableGroups`. */
  unreachableGroups: number | null;
}

/** Every observer that published a heartbeat in the last two weeks (ListMetrics' horizon), with its newest one. */
export async function readHeartbeats(client: CloudWatchClient, nowMs: number, signal?: AbortSignal): Promise<ObserverHeartbeat[]> {
  const names = new Set<string>();
  for (const dims of await listMetrics(client, { namespace: heartbeatMetric.namespace, name: heartbeatMetric.name }, signal)) {
    const observer = dims.find((d) => d.name === heartbeatMetric.dimension)?.value;
    // Only the contract's shape: one Observer dimension and nothing else.
    if (observer !== undefined && dims.length === 1) names.add(observer);
  }
  const observers = [...names].sort();
  if (observers.length === 0) return [];
  const points = await getMetricData(
    client,
    {
      queries: observers.flatMap((name, i) => {
        const of = (id: string, metric: string, stat: string) => ({ id, namespace: heartbeatMetric.namespace, name: metric, dimensions: { [heartbeatMetric.dimension]: name }, periodSeconds: 60, stat });
        return [of(`h${i}`, heartbeatMetric.name, 'SampleCount'), of(`t${i}`, heartbeatMetric.targetsName, 'Maximum'), of(`u${i}`, heartbeatMetric.unreachableName, 'Maximum')];
      }),
      start: new Date(nowMs - heartbeatLookbackMs),
      end: new Date(nowMs + 60_000),
    },
    signal,
  );
  return observers.map((name, i) => {
    const beats = (points.get(`h${i}`) ?? []).filter((p) => p.value > 0).map((p) => p.at.getTime());
    const atMs = beats.length === 0 ? undefined : Math.max(...beats);
    return {
      name,
      lastHeartbeat: atMs === undefined ? null : new Date(atMs).toISOString(),
      silent: atMs === undefined || nowMs - atMs > heartbeatSilentAfterMs,
      targets: newest(points.get(`t${i}`)),
      unreachableGroups: newest(points.get(`u${i}`)),
    };
  });
}

/** The value of the newest datapoint, or null when there is none. */
function newest(points: Array<{ at: Date; value: number }> | undefined): number | null {
  let best: { at: Date; value: number } | undefined;
  for (const p of points ?? []) if (!best || p.at > best.at) best = p;
  return best === undefined ? null : best.value;
}
