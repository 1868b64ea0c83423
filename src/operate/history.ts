/**
 * What autoheal decided, read back in time order (`autoheal history`). One shape for every source:
 *
 * - on AWS, the healer's own log lines, where it already records every decision (no second store
 *   to keep consistent or pay for): its log group through CloudWatch Logs Insights, over the JSON
 *   lines `report()` writes — msg `verdict` (mark or skip, with the reason key) and
 *   `verdict: work failed` (the error). Logs Insights is asynchronous: StartQuery, then
 *   GetQueryResults until the query completes, within a deadline; a query returns at most 10,000 rows;
 * - locally, a JSON-lines file: a demo run's decisions (the demo names the file at its end), or a
 *   captured healer log (its verdict lines are read the same way). A demo's file also holds the
 *   evidence each instance it marked left when it was replaced (msg `evidence`: how its process
 *   ended and its last output lines); reading attaches it to that instance's mark.
 */
import { appendFileSync, createReadStream } from 'node:fs';
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
  /** On a mark, what the instance left when it was replaced, where that was recorded (a demo's file). */
  evidence?: DecisionEvidence;
}

/** What a marked instance left when it was replaced: how its process ended, and its last output lines. */
export interface DecisionEvidence {
  /** When it was Terminated. */
  at: string;
  /** Its exit code, or the signal that ended it; null when it never ran. */
  exit: { code: number | null; signal: string | null };
  /** Oldest first. */
  lastOutput: string[];
  availabilityZone?: string;
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

/** The log message of an evidence line. */
export const evidenceMessage = 'evidence';

/** Appends what a marked instance left when it was replaced, as one JSON line (msg `evidence`). */
export function appendEvidence(file: string, e: { atMs: number; group: string; instanceId: string } & Omit<DecisionEvidence, 'at'>): void {
  const zone = e.availabilityZone !== undefined ? { availabilityZone: e.availabilityZone } : {};
  const line = { time: new Date(e.atMs).toISOString(), msg: evidenceMessage, group: e.group, instanceId: e.instanceId, ...zone, exit: e.exit, lastOutput: e.lastOutput };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

const exitPart = (v: unknown): number | string | null | undefined => (v === null || typeof v === 'number' || typeof v === 'string' ? v : undefined);

/** The evidence in one log line (parsed JSON), or undefined when the line is not a well-formed one. */
export function evidenceOfLogLine(line: Record<string, unknown>): { instanceId: string; evidence: DecisionEvidence } | undefined {
  if (line.msg !== evidenceMessage) return undefined;
  const instanceId = text(line.instanceId);
  const at = text(line.time);
  const exit = typeof line.exit === 'object' && line.exit !== null ? (line.exit as Record<string, unknown>) : undefined;
  const code = exitPart(exit?.code);
  const signal = exitPart(exit?.signal);
  const output = Array.isArray(line.lastOutput) ? line.lastOutput : undefined;
  if (instanceId === null || at === null || output === undefined || (code !== null && typeof code !== 'number') || (signal !== null && typeof signal !== 'string')) {
    return undefined;
  }
  const zone = text(line.availabilityZone);
  return {
    instanceId,
    evidence: {
      at: normalizeTime(at),
      exit: { code, signal },
      lastOutput: output.filter((l): l is string => typeof l === 'string'),
      ...(zone !== null ? { availabilityZone: zone } : {}),
    },
  };
}

/** Attaches each evidence to the latest mark of its instance at or before it; decisions in time order. */
export function attachEvidence(decisions: Decision[], found: ReadonlyArray<{ instanceId: string; evidence: DecisionEvidence }>): Decision[] {
  for (const { instanceId, evidence } of found) {
    const atMs = Date.parse(evidence.at);
    const mark = decisions.findLast((d) => d.instanceId === instanceId && d.action === 'mark' && Date.parse(d.at) <= atMs);
    if (mark) mark.evidence = evidence;
  }
  return decisions;
}

/**
 * The most `--file` reads. A day of a busy healer's log is well under it; a device (/dev/zero) or
 * a disk image is refused at once instead of filling memory (as `explain` bounds one event).
 */
export const maxHistoryFileBytes = 256 * 1024 * 1024;
/** The longest line `--file` reads: a healer log line is a few hundred bytes; no newline in sight means not a log. */
export const maxHistoryLineBytes = 1024 * 1024;

/**
 * Calls `onLine` with each line of `file`, streaming: at most `maxBytes` (plus one chunk) are
 * ever read, and a line longer than `maxLineBytes` stops the read.
 * Leaving the loop early destroys the stream. Throws {@link ConfigError} saying what was wrong.
 */
async function readLinesBounded(file: string, onLine: (line: string) => void, bounds: HistoryFileBounds): Promise<void> {
  const { maxBytes, maxLineBytes } = bounds;
  const tooLarge = (what: string) => new ConfigError(`--file ${file}: ${what}; give a decisions file (JSON lines: a demo's, or a captured healer log), not a device or an archive`);
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(`larger than ${maxBytes} bytes, the most history reads`);
      let start = 0;
      for (let end = chunk.indexOf(10); end !== -1; start = end + 1, end = chunk.indexOf(10, start)) {
        onLine(Buffer.concat([...pending, chunk.subarray(start, end)]).toString('utf8'));
        pending = [];
        pendingBytes = 0;
      }
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxLineBytes) throw tooLarge(`a line longer than ${maxLineBytes} bytes`);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`--file ${file}: cannot be read (${(error as Error).message})`, { cause: error });
  }
  if (pendingBytes > 0) onLine(Buffer.concat(pending).toString('utf8'));
}

/** What `--file` reads at most. */
export interface HistoryFileBounds {
  maxBytes: number;
  maxLineBytes: number;
}

/** The decisions in a JSON-lines file (a demo's, or a healer log), in time order. Lines that are not decisions are skipped. */
export async function readDecisionsFile(
  file: string,
  filter: HistoryFilter,
  bounds: HistoryFileBounds = { maxBytes: maxHistoryFileBytes, maxLineBytes: maxHistoryLineBytes },
): Promise<Decision[]> {
  const out: Decision[] = [];
  const evidence: Array<{ instanceId: string; evidence: DecisionEvidence }> = [];
  await readLinesBounded(file, (raw) => {
    if (raw.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const e = evidenceOfLogLine(parsed as Record<string, unknown>);
    if (e) evidence.push(e);
    const d = decisionOfLogLine(parsed as Record<string, unknown>);
    if (d && keep(d, filter)) out.push(d);
  }, bounds);
  return attachEvidence(out.sort(byTime), evidence);
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
