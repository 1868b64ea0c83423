/**
 * The verdict envelope: one observer's verdicts of one round in one message, the shape observers
 * send to the verdict queue (an SQS queue only observers may write). One message per round, not
 * one per instance, so a zone going down costs the healer a message per observer per round
 * instead of a message per instance per observer.
 *
 * ```json
 * { "kind": "autoheal.verdicts", "version": 1, "observer": "observer-us-east-1a",
 *   "sentAt": "2026-03-14T09:15:02.517Z",
 *   "verdicts": [{ "instanceId": "i-0abc…", "state": "unhealthy", "sequence": 4,
 *                  "observedAt": "2026-03-14T09:15:02.301Z",
 *                  "reason": "http://10.0.1.17:80/health: 2 consecutive failures: timeout after 1000 ms" }],
 *   "unreachable": [{ "group": "web", "since": "2026-03-14T09:14:40.000Z",
 *                     "reason": "no instance of the group has answered this observer" }] }
 * ```
 *
 * `observer` is what the message claims; the channel's proof of who sent it (the SQS `SenderId`
 * of the record) travels beside it as each signal's `sender`, for the healer to check. A message
 * is split only where SQS makes it: {@link verdictMessages} keeps each under the queue's size.
 * Pure, like every parser here: what it cannot use is a rejection naming the place.
 */
import type { Collector, Place } from './context.js';
import { observerNameProblem } from './observer-name.js';
import { probeSignal } from './probe.js';
import { arr, has, isEc2InstanceId, isoTime, isRecord, kindOf, notAnInstanceId, quote, shortReason, str } from './read.js';
import type { HealthSignal, ObserverReport } from './types.js';

/** What the envelope calls itself (its `kind`), and the version this parser reads. */
export const verdictEnvelopeKind = 'autoheal.verdicts';
export const verdictEnvelopeVersion = 1;

/** SQS's default and the verdict queue's message size, in bytes: a message is split only beyond it. */
export const verdictMessageMaxBytes = 256 * 1024;

/** The most verdicts (and unreachable groups) read from one envelope; a round's fit in far fewer. */
export const maxVerdictsPerEnvelope = 10_000;

/** One verdict about one instance, as the envelope carries it. */
export interface VerdictEntry {
  instanceId: string;
  state: 'healthy' | 'unhealthy';
  /** The observer's count of its verdicts about this instance: with the name, the verdict's id. */
  sequence: number;
  /** When the verdict was reached, ISO 8601 (default: the envelope's `sentAt`). */
  observedAt: string;
  reason: string;
}

/** A group the observer cannot reach from where it stands: its report, not a vote. */
export interface UnreachableEntry {
  group: string;
  /** Since when, ISO 8601. */
  since: string;
  reason: string;
}

/** What one round of an observer says. */
export interface VerdictBatch {
  observer: string;
  /** ISO 8601. */
  sentAt: string;
  verdicts: readonly VerdictEntry[];
  unreachable?: readonly UnreachableEntry[];
}

/** The envelope's entry for a probe signal and its sequence. */
export function verdictEntryOf(signal: HealthSignal, sequence: number): VerdictEntry {
  return { instanceId: signal.instanceId, state: signal.state, sequence, observedAt: signal.observedAt, reason: signal.reason };
}

const bytesOf = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * The batch as message bodies, each at most `maxBytes` of UTF-8: one, unless SQS's size makes
 * more (the unreachable groups ride in the first). Every verdict is in exactly one of them.
 */
export function verdictMessages(batch: VerdictBatch, maxBytes = verdictMessageMaxBytes): string[] {
  const head = { kind: verdictEnvelopeKind, version: verdictEnvelopeVersion, observer: batch.observer, sentAt: batch.sentAt };
  const text = (verdicts: readonly VerdictEntry[], first: boolean): string =>
    JSON.stringify({ ...head, verdicts, ...(first && batch.unreachable && batch.unreachable.length > 0 ? { unreachable: batch.unreachable } : {}) });
  const messages: string[] = [];
  let chunk: VerdictEntry[] = [];
  // The JSON of a list is its entries, one comma apart: a chunk's size is known without re-serializing it.
  let size = bytesOf(text([], true));
  for (const entry of batch.verdicts) {
    const bytes = bytesOf(JSON.stringify(entry));
    if (chunk.length > 0 && size + 1 + bytes > maxBytes) {
      messages.push(text(chunk, messages.length === 0));
      chunk = [];
      size = bytesOf(text([], false));
    }
    size += bytes + (chunk.length > 0 ? 1 : 0);
    chunk.push(entry);
  }
  if (chunk.length > 0 || messages.length === 0) messages.push(text(chunk, messages.length === 0));
  return messages;
}

/** Whether a parsed object is a verdict envelope (its `kind`). */
export function isVerdictEnvelope(event: Record<string, unknown>): boolean {
  return str(event, 'kind') === verdictEnvelopeKind;
}

/** The longest group name Auto Scaling allows. */
const maxGroupChars = 255;

/** Reads a verdict envelope: its verdicts become probe signals, its unreachable groups reports. */
export function verdictEnvelope(col: Collector, at: Place, env: Record<string, unknown>): void {
  const version = env.version;
  if (version !== verdictEnvelopeVersion) {
    col.reject(at, 'version', `${version === undefined ? 'missing' : `${quote(String(version), 20)} is not a version this healer reads`} (${verdictEnvelopeVersion})`);
    return;
  }
  const observer = env.observer;
  const observerProblem = typeof observer === 'string' ? observerNameProblem(observer) : `expected a string, got ${kindOf(observer)}`;
  if (observerProblem !== undefined) return col.reject(at, 'observer', observerProblem);
  const name = observer as string;
  const sentAt = isoTime(env.sentAt);
  if (sentAt === undefined) return col.reject(at, 'sentAt', 'not an ISO 8601 timestamp');
  const verdicts = arr(env, 'verdicts');
  if (verdicts === undefined) return col.reject(at, 'verdicts', has(env, 'verdicts') ? `expected an array, got ${kindOf(env.verdicts)}` : 'missing');
  const seen = new Set<string>();
  verdicts.slice(0, maxVerdictsPerEnvelope).forEach((entry, i) => verdict(col, at, `verdicts[${i}]`, entry, { observer: name, sentAt, seen }));
  if (verdicts.length > maxVerdictsPerEnvelope) col.reject(at, 'verdicts', `${verdicts.length} entries; only the first ${maxVerdictsPerEnvelope} are read`);
  if (!has(env, 'unreachable')) return;
  const unreachable = arr(env, 'unreachable');
  if (unreachable === undefined) return col.reject(at, 'unreachable', `expected an array, got ${kindOf(env.unreachable)}`);
  unreachable.slice(0, maxVerdictsPerEnvelope).forEach((entry, i) => report(col, at, `unreachable[${i}]`, entry, name, sentAt));
  if (unreachable.length > maxVerdictsPerEnvelope) col.reject(at, 'unreachable', `${unreachable.length} entries; only the first ${maxVerdictsPerEnvelope} are read`);
}

function verdict(col: Collector, at: Place, here: string, entry: unknown, o: { observer: string; sentAt: string; seen: Set<string> }): void {
  if (!isRecord(entry)) return col.reject(at, here, `expected an object, got ${kindOf(entry)}`);
  const instanceId = str(entry, 'instanceId');
  if (instanceId === undefined) return col.reject(at, `${here}.instanceId`, 'missing');
  if (!isEc2InstanceId(instanceId)) return col.reject(at, `${here}.instanceId`, notAnInstanceId(instanceId));
  const state = entry.state;
  if (state !== 'healthy' && state !== 'unhealthy') {
    return col.reject(at, `${here}.state`, typeof state === 'string' ? `${quote(state, 20)} is not healthy or unhealthy` : 'missing');
  }
  const sequence = entry.sequence;
  if (!(typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence >= 0)) {
    return col.reject(at, `${here}.sequence`, `expected a whole number, got ${kindOf(sequence)}`);
  }
  const observedAt = has(entry, 'observedAt') ? isoTime(entry.observedAt) : o.sentAt;
  if (observedAt === undefined) return col.reject(at, `${here}.observedAt`, 'not an ISO 8601 timestamp');
  const reason = str(entry, 'reason');
  if (reason === undefined) return col.reject(at, `${here}.reason`, 'missing');
  // One verdict per instance per round: a second one is a bug of the sender, and the first stands.
  if (o.seen.has(instanceId)) return col.reject(at, `${here}.instanceId`, `${instanceId} has an earlier verdict in this envelope; the first counts`);
  o.seen.add(instanceId);
  const signal = probeSignal({ instanceId, healthy: state === 'healthy', target: shortReason(reason), observedAt, detail: '', sequence, observer: o.observer });
  if (at.sender !== undefined) signal.sender = at.sender;
  col.signal(at, signal);
}

function report(col: Collector, at: Place, here: string, entry: unknown, observer: string, sentAt: string): void {
  if (!isRecord(entry)) return col.reject(at, here, `expected an object, got ${kindOf(entry)}`);
  const group = str(entry, 'group');
  if (group === undefined || group.length > maxGroupChars) return col.reject(at, `${here}.group`, group === undefined ? 'missing' : `longer than ${maxGroupChars} characters`);
  const since = has(entry, 'since') ? isoTime(entry.since) : sentAt;
  if (since === undefined) return col.reject(at, `${here}.since`, 'not an ISO 8601 timestamp');
  const reason = str(entry, 'reason');
  const out: ObserverReport = { observer, group, since, reason: reason === undefined ? 'unreachable' : shortReason(reason) };
  if (at.sender !== undefined) out.sender = at.sender;
  col.report(at, out);
}
