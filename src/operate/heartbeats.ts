/**
 * The observers' heartbeats, read back (for `autoheal status`). Each observer publishes the metric
 * `autoheal` / `ObserverHeartbeat` with one dimension `Observer=<name>` once per probe round (issue
 * 10's contract; `Group` is not a dimension, so heartbeats say which observers live, not which
 * groups they watch). Two CloudWatch calls whatever the number of observers: ListMetrics finds
 * the observers, one GetMetricData reads the newest datapoint of each (up to 500 per call).
 */
import { GetMetricDataCommand, ListMetricsCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { callAws, chunks, pages } from '../aws/call.js';

/** The heartbeat contract shared with the observers. */
import { heartbeatMetric } from '../prober/heartbeat-metric.js';

/** How far back a heartbeat is looked for: an observer silent for longer shows `lastHeartbeat: null`. */
export const heartbeatLookbackMs = 3 * 60 * 60 * 1000;
/**
 * An observer whose newest heartbeat is older than this is reported silent. Observers beat at
 * most every 10 s; CloudWatch aggregates per minute and shows a datapoint a minute or two late.
 */
export const heartbeatSilentAfterMs = 5 * 60 * 1000;
/** GetMetricData takes at most 500 queries per call. */
const queriesPerCall = 500;

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
  const listing = pages((nextToken) =>
    callAws('cloudwatch:ListMetrics', signal, () =>
      client.send(
        new ListMetricsCommand({ Namespace: heartbeatMetric.namespace, MetricName: heartbeatMetric.name, ...(nextToken ? { NextToken: nextToken } : {}) }),
        { abortSignal: signal },
      ),
    ),
  );
  for await (const page of listing) {
    for (const m of page.Metrics ?? []) {
      const dims = m.Dimensions ?? [];
      const observer = dims.find((d) => d.Name === heartbeatMetric.dimension)?.Value;
      // Only the contract's shape: one Observer dimension and nothing else.
      if (observer !== undefined && dims.length === 1) names.add(observer);
    }
  }
  const observers = [...names].sort();
  const last = new Map<string, number>();
  for (const batch of chunks(observers, queriesPerCall)) {
    const queries: MetricDataQuery[] = batch.map((name, i) => ({
      Id: `h${i}`,
      Label: name,
      MetricStat: {
        Metric: { Namespace: heartbeatMetric.namespace, MetricName: heartbeatMetric.name, Dimensions: [{ Name: heartbeatMetric.dimension, Value: name }] },
        Period: 60,
        Stat: 'SampleCount',
      },
      ReturnData: true,
    }));
    const results = pages((nextToken) =>
      callAws('cloudwatch:GetMetricData', signal, () =>
        client.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: new Date(nowMs - heartbeatLookbackMs),
            EndTime: new Date(nowMs + 60_000),
            ScanBy: 'TimestampDescending',
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
          { abortSignal: signal },
        ),
      ),
    );
    for await (const page of results) {
      for (const r of page.MetricDataResults ?? []) {
        const name = batch[Number((r.Id ?? '').slice(1))];
        if (name === undefined) continue;
        (r.Timestamps ?? []).forEach((t, i) => {
          if ((r.Values?.[i] ?? 0) > 0 && t.getTime() > (last.get(name) ?? 0)) last.set(name, t.getTime());
        });
      }
    }
  }
  return observers.map((name) => {
    const atMs = last.get(name);
    return { name, lastHeartbeat: atMs === undefined ? null : new Date(atMs).toISOString(), silent: atMs === undefined || nowMs - atMs > heartbeatSilentAfterMs };
  });
}
