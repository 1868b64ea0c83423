/**
 * CloudWatch: the only place that talks to it. Alarms (one DescribeAlarms reader, by names or by
 * prefix; PutMetricAlarm; DeleteAlarms; the contributors of a Metrics Insights alarm) and metrics
 * (the observers' heartbeats: PutMetricData, ListMetrics, GetMetricData). Every listing follows
 * its pages and cuts its lists to the API's limits; answers are plain data their users map.
 *
 * The Lambda imports this module on first use only (src/lambda/cloudwatch.ts): most invocations
 * never call CloudWatch, and its client would cost every cold start.
 */
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmContributorsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  type CompositeAlarm,
  type MetricAlarm,
  type PutMetricAlarmCommandInput,
  type StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { RemoteError } from '../errors.js';
import { callAws, chunks, pages } from './call.js';
import { clientSettings, type ClientOptions } from './settings.js';

export type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
/** An alarm as PutMetricAlarm takes it: the alarm manager builds these in the API's own words. */
export type MetricAlarmInput = PutMetricAlarmCommandInput;

/** DescribeAlarms returns at most 100 alarms per page and takes at most 100 names; DeleteAlarms takes at most 100 names. */
export const maxAlarmsPerCall = 100;
/** GetMetricData takes at most 500 queries per call. */
export const maxMetricQueriesPerCall = 500;

/** A CloudWatch client with the standard settings (src/aws/settings.ts). */
export function cloudWatchClient(options: ClientOptions = {}): CloudWatchClient {
  return new CloudWatchClient(clientSettings(options));
}

/** One alarm as DescribeAlarms reports it. */
export interface AlarmView {
  name: string;
  kind: 'metric' | 'composite';
  /** ALARM, OK or INSUFFICIENT_DATA; undefined when CloudWatch says none. */
  state?: string;
  /** CloudWatch's own explanation of the last transition. */
  stateReason?: string;
  stateUpdatedAt?: Date;
  actions: string[];
  /** How a metric alarm evaluates (absent for composite alarms and metric math). */
  statistic?: string;
  period?: number;
  evaluationPeriods?: number;
  threshold?: number;
  comparisonOperator?: string;
  /** The queries of a metric math or Metrics Insights alarm. */
  metrics: Array<{ id?: string; expression?: string; period?: number }>;
}

/** Which alarms to read: these names (metric and composite alarms), or every metric alarm whose name starts with `prefix` (only those in `state`, when given). */
export type AlarmQuery = { names: readonly string[] } | { prefix: string; state?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA' };

function metricAlarmView(a: MetricAlarm & { AlarmName: string }): AlarmView {
  return {
    name: a.AlarmName,
    kind: 'metric',
    ...(a.StateValue ? { state: a.StateValue } : {}),
    ...(a.StateReason ? { stateReason: a.StateReason } : {}),
    ...(a.StateUpdatedTimestamp ? { stateUpdatedAt: a.StateUpdatedTimestamp } : {}),
    actions: [...(a.AlarmActions ?? [])],
    ...(a.Statistic !== undefined ? { statistic: a.Statistic } : {}),
    ...(a.Period !== undefined ? { period: a.Period } : {}),
    ...(a.EvaluationPeriods !== undefined ? { evaluationPeriods: a.EvaluationPeriods } : {}),
    ...(a.Threshold !== undefined ? { threshold: a.Threshold } : {}),
    ...(a.ComparisonOperator !== undefined ? { comparisonOperator: a.ComparisonOperator } : {}),
    metrics: (a.Metrics ?? []).map((m) => ({
      ...(m.Id !== undefined ? { id: m.Id } : {}),
      ...(m.Expression !== undefined ? { expression: m.Expression } : {}),
      ...(m.Period !== undefined ? { period: m.Period } : {}),
    })),
  };
}

function compositeAlarmView(a: CompositeAlarm & { AlarmName: string }): AlarmView {
  return {
    name: a.AlarmName,
    kind: 'composite',
    ...(a.StateValue ? { state: a.StateValue } : {}),
    ...(a.StateReason ? { stateReason: a.StateReason } : {}),
    ...(a.StateUpdatedTimestamp ? { stateUpdatedAt: a.StateUpdatedTimestamp } : {}),
    actions: [...(a.AlarmActions ?? [])],
    metrics: [],
  };
}

/**
 * DescribeAlarms, every page: the alarms named (names of alarms that do not exist are absent; asked
 * 100 at a time), or the metric alarms of a prefix. Never asks without names or prefix: that would
 * list every alarm of the account.
 */
export async function describeAlarms(client: CloudWatchClient, query: AlarmQuery, signal?: AbortSignal): Promise<AlarmView[]> {
  const requests =
    'names' in query
      ? chunks([...new Set(query.names)], maxAlarmsPerCall).map((names) => ({
          AlarmNames: names,
          AlarmTypes: ['MetricAlarm' as const, 'CompositeAlarm' as const],
          MaxRecords: maxAlarmsPerCall,
        }))
      : query.prefix === ''
        ? []
        : [{ AlarmNamePrefix: query.prefix, AlarmTypes: ['MetricAlarm' as const], MaxRecords: maxAlarmsPerCall, ...(query.state ? { StateValue: query.state } : {}) }];
  const alarms: AlarmView[] = [];
  for (const request of requests) {
    const listing = pages((nextToken) =>
      callAws('cloudwatch:DescribeAlarms', signal, (abortSignal) =>
        client.send(new DescribeAlarmsCommand({ ...request, ...(nextToken ? { NextToken: nextToken } : {}) }), { abortSignal }),
      ),
    );
    for await (const page of listing) {
      for (const a of page.MetricAlarms ?? []) if (a.AlarmName) alarms.push(metricAlarmView({ ...a, AlarmName: a.AlarmName }));
      for (const a of page.CompositeAlarms ?? []) if (a.AlarmName) alarms.push(compositeAlarmView({ ...a, AlarmName: a.AlarmName }));
    }
  }
  return alarms;
}

/** Creates the alarm, or overwrites the one of the same name. */
export async function putMetricAlarm(client: CloudWatchClient, input: MetricAlarmInput, signal?: AbortSignal): Promise<void> {
  await callAws('cloudwatch:PutMetricAlarm', signal, (abortSignal) => client.send(new PutMetricAlarmCommand(input), { abortSignal }));
}

function isNotFound(error: unknown): boolean {
  const cause = error instanceof RemoteError ? error.cause : error;
  const name = cause instanceof Error ? cause.name : '';
  return name === 'ResourceNotFound' || name === 'ResourceNotFoundException';
}

/**
 * Deletes the alarms, 100 names per call. DeleteAlarms is all-or-nothing: one name that no longer
 * exists fails the whole batch with ResourceNotFound, so that batch is read again and deleted once
 * more with the names that still exist (someone else deleted the rest: the goal is reached for
 * them). Resolves with how many were gone already.
 */
export async function deleteAlarms(client: CloudWatchClient, names: readonly string[], signal?: AbortSignal): Promise<{ alreadyGone: number }> {
  let alreadyGone = 0;
  const deleteBatch = (batch: readonly string[]) =>
    callAws('cloudwatch:DeleteAlarms', signal, (abortSignal) => client.send(new DeleteAlarmsCommand({ AlarmNames: [...batch] }), { abortSignal }));
  for (const batch of chunks(names, maxAlarmsPerCall)) {
    try {
      await deleteBatch(batch);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const remaining = (await describeAlarms(client, { names: batch }, signal)).map((a) => a.name);
      alreadyGone += batch.length - remaining.length;
      if (remaining.length > 0) await deleteBatch(remaining);
    }
  }
  return { alreadyGone };
}

/** One contributor (time series) of a Metrics Insights alarm that is in ALARM. */
export interface AlarmContributor {
  id?: string;
  /** The contributor's attributes (the GROUP BY keys: `InstanceId`). */
  attributes: Record<string, string>;
  stateReason?: string;
}

/** DescribeAlarmContributors, every page. */
export async function describeAlarmContributors(client: CloudWatchClient, alarmName: string, signal?: AbortSignal): Promise<AlarmContributor[]> {
  const contributors: AlarmContributor[] = [];
  const listing = pages((nextToken) =>
    callAws('cloudwatch:DescribeAlarmContributors', signal, (abortSignal) =>
      client.send(new DescribeAlarmContributorsCommand({ AlarmName: alarmName, ...(nextToken ? { NextToken: nextToken } : {}) }), { abortSignal }),
    ),
  );
  for await (const page of listing) {
    for (const c of page.AlarmContributors ?? []) {
      contributors.push({
        ...(c.ContributorId !== undefined ? { id: c.ContributorId } : {}),
        attributes: { ...(c.ContributorAttributes ?? {}) },
        ...(c.StateReason !== undefined ? { stateReason: c.StateReason } : {}),
      });
    }
  }
  return contributors;
}

/** One data point to publish. */
export interface MetricDatum {
  name: string;
  dimensions: Record<string, string>;
  value: number;
  unit: StandardUnit;
  timestamp: Date;
}

/** Publishes the data points to the namespace. */
export async function putMetricData(client: CloudWatchClient, namespace: string, data: readonly MetricDatum[], signal?: AbortSignal): Promise<void> {
  await callAws('cloudwatch:PutMetricData', signal, (abortSignal) =>
    client.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: data.map((d) => ({
          MetricName: d.name,
          Dimensions: Object.entries(d.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Value: d.value,
          Unit: d.unit,
          Timestamp: d.timestamp,
        })),
      }),
      { abortSignal },
    ),
  );
}

/** ListMetrics, every page: the dimensions of each metric of that name (CloudWatch keeps them two weeks). */
export async function listMetrics(client: CloudWatchClient, metric: { namespace: string; name: string }, signal?: AbortSignal): Promise<Array<Array<{ name: string; value: string }>>> {
  const found: Array<Array<{ name: string; value: string }>> = [];
  const listing = pages((nextToken) =>
    callAws('cloudwatch:ListMetrics', signal, (abortSignal) =>
      client.send(new ListMetricsCommand({ Namespace: metric.namespace, MetricName: metric.name, ...(nextToken ? { NextToken: nextToken } : {}) }), { abortSignal }),
    ),
  );
  for await (const page of listing) {
    for (const m of page.Metrics ?? []) found.push((m.Dimensions ?? []).flatMap((d) => (d.Name !== undefined && d.Value !== undefined ? [{ name: d.Name, value: d.Value }] : [])));
  }
  return found;
}

/** One statistic of one metric to read: `id` names it in the answer (a lower-case letter, then letters, digits or _; unique). */
export interface MetricQuery {
  id: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  periodSeconds: number;
  stat: string;
}

/**
 * GetMetricData, every page, 500 queries per call: each query's data points (newest first) by its id.
 */
export async function getMetricData(
  client: CloudWatchClient,
  request: { queries: readonly MetricQuery[]; start: Date; end: Date },
  signal?: AbortSignal,
): Promise<Map<string, Array<{ at: Date; value: number }>>> {
  const points = new Map<string, Array<{ at: Date; value: number }>>();
  for (const batch of chunks(request.queries, maxMetricQueriesPerCall)) {
    const listing = pages((nextToken) =>
      callAws('cloudwatch:GetMetricData', signal, (abortSignal) =>
        client.send(
          new GetMetricDataCommand({
            MetricDataQueries: batch.map((q) => ({
              Id: q.id,
              MetricStat: {
                Metric: { Namespace: q.namespace, MetricName: q.name, Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })) },
                Period: q.periodSeconds,
                Stat: q.stat,
              },
              ReturnData: true,
            })),
            StartTime: request.start,
            EndTime: request.end,
            ScanBy: 'TimestampDescending',
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
          { abortSignal },
        ),
      ),
    );
    for await (const page of listing) {
      for (const r of page.MetricDataResults ?? []) {
        if (r.Id === undefined) continue;
        const list = points.get(r.Id) ?? [];
        (r.Timestamps ?? []).forEach((at, i) => list.push({ at, value: r.Values?.[i] ?? 0 }));
        points.set(r.Id, list);
      }
    }
  }
  return points;
}
