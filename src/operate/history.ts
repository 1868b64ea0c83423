/**
 * What autoheal decided, read back in time order (`autoheal history`). One shape for every source:
 *
 * - on AWS, the healer's own log lines, where it already records every decision (no second store
 *   to keep consistent or pay for): its log group through CloudWatch Logs Insights, over the JSON
 *   lines `report()` writes — msg `verdict` (mark or skip, with the reason key) and
 *   `verdict: work failed` (the error). Logs Insights is asynchronous: StartQuery, then
 *   GetQueryResults until the query completes, within a deadline; a query returns at most 10,000 rows;
 * - locally, a JSON-lines file: a demo run's decisions (the demo names the file at its end), or a
 *   captured healer log (its verdict lines are read the same way).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getQueryResults, startQuery, type CloudWatchLogsClient } from '../aws/logs.js';
import { ConfigError, RemoteError } from '../errors.js';
import type { TypedEvents } from '../events.js';
import type { HealerEvents, VerdictRecord } from '../healer/types.js';
import { actionOf } from './emf.js';

/** One decision. `action` is `failed` when the work failed (the verdict's reason is kept). */
export interface Decision {
  at: string;
  action: 'mark' | 'skip' | 'failed';
  reason: string;
  group: string | null;
  instanceId: string;
  detail: string | null;
  source: string | null;
  eventId: string | null;
  error?: string;
  dryRun?: boolean;
}

export interface HistoryFilter {
  sinceMs: number;
  untilMs: number;
  group?: string;
}

/** The healer's log messages that carry a decision (src/healer/healer.ts `report()`). */
export const decisionMessages = ['verdict', 'verdict: work failed'] as const;
/** Logs Insights returns at most this many rows per query. */
export const maxQueryRows = 10_000;

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A decision from one healer log line (parsed JSON), or undefined when the line is not one. */
export function decisionOfLogLine(line: Record<string, unknown>): Decision | undefined {
  if (!(decisionMessages as readonly unknown[]).includes(line.msg)) return undefined;
  const instanceId = text(line.instanceId);
  const reason = text(line.reason);
  const at = text(line.time) ?? text(line['@timestamp']) ?? text(line.at);
  if (instanceId === null || reason === null || at === null) return undefined;
  const failed = line.msg === 'verdict: work failed';
  const action = failed ? 'failed' : line.action === 'mark' ? 'mark' : 'skip';
  return {
    at: normalizeTime(at),
    action,
    reason,
    group: text(line.group),
    instanceId,
    detail: text(line.detail),
    source: text(line.source),
    eventId: text(line.eventId),
    ...(failed ? { error: text(line.error) ?? 'unknown error' } : {}),
    ...(line.dryRun === true || line.dryRun === 'true' || line.dryRun === 1 ? { dryRun: true } : {}),
  };
}

/** Logs Insights writes `2026-05-14 20:11:53.123`, in UTC; everything else is ISO 8601 already. */
function normalizeTime(value: string): string {
  const ms = Date.parse(/^\d{4}-\d\d-\d\d \d/.test(value) ? `${value.replace(' ', 'T')}Z` : value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

function keep(d: Decision, filter: HistoryFilter): boolean {
  const ms = Date.parse(d.at);
  return ms >= filter.sinceMs && ms <= filter.untilMs && (filter.group === undefined || d.group === filter.group);
}

const byTime = (a: Decision, b: Decision): number => Date.parse(a.at) - Date.parse(b.at);

/** The decision of a healer record, as the demo writes it to its file. */
export function decisionOfRecord(r: VerdictRecord, atMs: number): Decision {
  return {
    at: new Date(atMs).toISOString(),
    action: actionOf(r),
    reason: r.verdict.reason,
    group: r.groupName ?? null,
    instanceId: r.signal.instanceId,
    detail: r.verdict.detail ?? null,
    source: r.signal.source,
    eventId: r.signal.eventId,
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.dryRun ? { dryRun: true } : {}),
  };
}

/** Appends every decision of the healer to `file` as one JSON line (with msg `verdict`, as the healer logs it). */
export function recordDecisions(events: TypedEvents<HealerEvents>, file: string, clock: () => number = Date.now): () => void {
  const one = (r: VerdictRecord): void => {
    const d = decisionOfRecord(r, clock());
    const { at, action, error, ...rest } = d;
    const line = { time: at, msg: error !== undefined ? 'verdict: work failed' : 'verdict', action: action === 'failed' ? r.verdict.action : action, ...rest, ...(error !== undefined ? { error } : {}) };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  };
  const offs = [events.on('healer:verdict:marked', one), events.on('healer:verdict:skipped', one), events.on('healer:mark:failed', one)];
  return () => offs.forEach((off) => off());
}

/** The decisions in a JSON-lines file (a demo's, or a healer log), in time order. Lines that are not decisions are skipped. */
export function readDecisionsFile(file: string, filter: HistoryFilter): Decision[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--file ${file}: cannot be read (${(error as Error).message})`);
  }
  const out: Decision[] = [];
  for (const raw of content.split('\n')) {
    if (raw.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null) continue;
    const d = decisionOfLogLine(parsed as Record<string, unknown>);
    if (d && keep(d, filter)) out.push(d);
  }
  return out.sort(byTime);
}

/** The Logs Insights query over the healer's decision lines (the README shows the same one). */
export function decisionsQuery(group?: string): string {
  return [
    'fields @timestamp, time, msg, instanceId, group, action, reason, detail, source, eventId, error, dryRun',
    `| filter msg = "${decisionMessages[0]}" or msg = "${decisionMessages[1]}"`,
    ...(group !== undefined ? [`| filter group = ${JSON.stringify(group)}`] : []),
    '| sort @timestamp asc',
    `| limit ${maxQueryRows}`,
  ].join('\n');
}

export interface QueryOptions {
  /** Give up on a query not complete by then. Default 60 s. */
  timeoutMs?: number;
  /** Between GetQueryResults calls. Default 1 s. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** The decisions in the healer's log group within the filter, through Logs Insights, in time order. */
export async function queryDecisions(client: CloudWatchLogsClient, logGroupName: string, filter: HistoryFilter, options: QueryOptions = {}): Promise<{ decisions: Decision[]; truncated: boolean }> {
  const { signal } = options;
  const queryId = await startQuery(
    client,
    { logGroupName, sinceMs: filter.sinceMs, untilMs: filter.untilMs, queryString: decisionsQuery(filter.group), limit: maxQueryRows },
    signal,
  );
  if (!queryId) throw new RemoteError('logs:StartQuery', 'StartQuery returned no queryId', { retryable: true });
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const { status, rows } = await getQueryResults(client, queryId, signal);
    if (status === 'Complete') {
      const decisions = rows.flatMap((row) => {
        const d = decisionOfLogLine(row);
        return d && keep(d, filter) ? [d] : [];
      });
      return { decisions: decisions.sort(byTime), truncated: rows.length >= maxQueryRows };
    }
    if (status !== 'Running' && status !== 'Scheduled') throw new RemoteError('logs:GetQueryResults', `the Logs Insights query ${queryId} ended ${status}`, { retryable: status === 'Timeout' });
    if (Date.now() >= deadline) throw new RemoteError('logs:GetQueryResults', `the Logs Insights query ${queryId} did not complete within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`, { retryable: true });
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1_000));
  }
}
