/**
 * The observers' heartbeats, read back (for `autoheal status`). Each observer publishes the metric
 * `autoheal` / `ObserverHeartbeat` with one dimension `Observer=<name>` once per probe round (issue
 * 10's contract; `Group` is not a dimension, so heartbeats say which observers live, not which
 * groups they watch). Two CloudWatch calls whatever the number of observers: ListMetrics finds
 * the observers, one GetMetricData reads the newest datapoint of each (up to 500 per call).
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
      queries: observers.map((name, i) => ({
        id: `h${i}`,
        namespace: heartbeatMetric.namespace,
        name: heartbeatMetric.name,
        dimensions: { [heartbeatMetric.dimension]: name },
        periodSeconds: 60,
        stat: 'SampleCount',
      })),
      start: new Date(nowMs - heartbeatLookbackMs),
      end: new Date(nowMs + 60_000),
    },
    signal,
  );
  return observers.map((name, i) => {
    const beats = (points.get(`h${i}`) ?? []).filter((p) => p.value > 0).map((p) => p.at.getTime());
    const atMs = beats.length === 0 ? undefined : Math.max(...beats);
    return { name, lastHeartbeat: atMs === undefined ? null : new Date(atMs).toISOString(), silent: atMs === undefined || nowMs - atMs > heartbeatSilentAfterMs };
  });
}
