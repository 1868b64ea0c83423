/**
 * CloudWatch Logs: the only place that talks to it (Logs Insights, for `autoheal history`).
 */
import { CloudWatchLogsClient, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { callAws } from './call.js';
import { clientSettings, type ClientOptions } from './settings.js';

export type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

/** A CloudWatch Logs client with the standard settings (src/aws/settings.ts). */
export function logsClient(options: ClientOptions = {}): CloudWatchLogsClient {
  return new CloudWatchLogsClient(clientSettings(options));
}

/** Starts a Logs Insights query over one log group; resolves with its id. Times in milliseconds (the API takes seconds). */
export async function startQuery(
  client: CloudWatchLogsClient,
  query: { logGroupName: string; sinceMs: number; untilMs: number; queryString: string; limit: number },
  signal?: AbortSignal,
): Promise<string | undefined> {
  const out = await callAws('logs:StartQuery', signal, (abortSignal) =>
    client.send(
      new StartQueryCommand({
        logGroupName: query.logGroupName,
        startTime: Math.floor(query.sinceMs / 1000),
        endTime: Math.ceil(query.untilMs / 1000),
        queryString: query.queryString,
        limit: query.limit,
      }),
      { abortSignal },
    ),
  );
  return out.queryId;
}

/** A query's status (`Scheduled`, `Running`, `Complete`, `Failed`, `Cancelled`, `Timeout`, `Unknown`) and, once complete, its rows as field-value records. */
export async function getQueryResults(client: CloudWatchLogsClient, queryId: string, signal?: AbortSignal): Promise<{ status: string; rows: Array<Record<string, string>> }> {
  const out = await callAws('logs:GetQueryResults', signal, (abortSignal) => client.send(new GetQueryResultsCommand({ queryId }), { abortSignal }));
  const rows = (out.results ?? []).map((row) => {
    const fields: Record<string, string> = {};
    for (const f of row) if (f.field !== undefined && f.value !== undefined) fields[f.field] = f.value;
    return fields;
  });
  return { status: out.status ?? 'Unknown', rows };
}
