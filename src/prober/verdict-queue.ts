/**
 * The observer's side of the verdict channel: its verdicts of a round go to the verdict queue (an
 * SQS queue only observers may write, `AUTOHEAL_VERDICT_QUEUE_URL`) together, as one verdict
 * envelope (src/signals/verdicts.ts), split only at SQS's message size. The healer reads the
 * envelope and, beside the observer it names, the record's `SenderId`: the channel's proof of who
 * sent it.
 *
 * A round's verdicts arrive over a short stretch (the checks of a round end within the timeout, or
 * spread over the jitter): the first verdict opens a window of `windowMs`, and everything that
 * arrives in it goes in the same message when it closes. So a zone going down costs a message per
 * observer per window, not one per instance. Each verdict's send settles with the message that
 * carried it: accepted, or rejected so the prober sends it again later. Healthy verdicts ride the
 * same way, so a withdrawn vote always arrives. Groups the observer cannot reach ride along as
 * reports ({@link VerdictQueueSink.report}). When the prober stops (its sends are aborted), what
 * waits goes at once instead of being dropped; the call's own bound still holds.
 */
import { sendMessage, type SQSClient } from '../aws/sqs.js';
import { verdictEntryOf, verdictMessages, type UnreachableEntry, type VerdictEntry } from '../signals/verdicts.js';
import type { HealthSignal } from '../signals/types.js';
import type { ProberClock } from './clock.js';
import { realClock } from './clock.js';
import type { TypedEvents } from '../events.js';
import { unreachableReason } from './reach.js';
import type { Heartbeat, ProberEvents, ProbeSink } from './types.js';

/** A round's verdicts wait at most this long for each other (the interval, when shorter). */
export const verdictWindowMaxMs = 1_000;

export interface VerdictQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** The name the envelope claims (the prober's `observer`). */
  observer: string;
  /** How long the first verdict waits for the rest of its round. */
  windowMs: number;
  clock?: Pick<ProberClock, 'setTimeout' | 'clearTimeout' | 'epochMs'>;
  /** Called with each message SQS accepted. */
  onSent?: (message: { messageId: string; verdicts: number; unreachable: number }) => void;
}

/** The sink, and how to report the groups the observer cannot reach. */
export interface VerdictQueueSink {
  sink: ProbeSink;
  /** Sends these groups as unreachable with the next message (or alone, at the end of a window). */
  report(unreachable: readonly UnreachableEntry[]): Promise<void>;
  /** Sends what waits now and settles once every send has (each send has its own bound). */
  drain(): Promise<void>;
}

interface Waiting {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A sink that sends each window's verdicts as one verdict envelope to the queue. */
export function verdictQueueSink(options: VerdictQueueOptions): VerdictQueueSink {
  const clock = options.clock ?? realClock;
  let verdicts: Array<Waiting & { entry: VerdictEntry }> = [];
  let reports: Waiting[] = [];
  let unreachable: readonly UnreachableEntry[] = [];
  let timer: ReturnType<ProberClock['setTimeout']> | undefined;
  const watched = new WeakSet<AbortSignal>();
  const sending = new Set<Promise<void>>();

  /** Starts a flush and keeps it until it settled (flush never rejects: each send settles its own). */
  const start = (): Promise<void> => {
    const p = flush();
    sending.add(p);
    void p.finally(() => sending.delete(p));
    return p;
  };

  const flush = async (): Promise<void> => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    const batch = verdicts;
    const reported = reports;
    const groups = unreachable;
    verdicts = [];
    reports = [];
    unreachable = [];
    if (batch.length === 0 && reported.length === 0) return;
    const sentAt = new Date(clock.epochMs()).toISOString();
    const bodies = verdictMessages({ observer: options.observer, sentAt, verdicts: batch.map((w) => w.entry), unreachable: groups });
    // The messages split the verdicts in order: each send settles with the message that holds it,
    // the reports with the first.
    let next = 0;
    for (const [i, body] of bodies.entries()) {
      const count = (JSON.parse(body) as { verdicts: unknown[] }).verdicts.length;
      const carried: Waiting[] = [...batch.slice(next, next + count), ...(i === 0 ? reported : [])];
      next += count;
      try {
        const messageId = await sendMessage(options.client, options.queueUrl, body);
        options.onSent?.({ messageId, verdicts: count, unreachable: i === 0 ? groups.length : 0 });
        for (const w of carried) w.resolve();
      } catch (error) {
        for (const w of carried) w.reject(error);
      }
    }
  };

  /** Opens the window if none is open; an aborted send (the prober stopping) sends what waits now. */
  const wait = (abort?: AbortSignal): void => {
    if (abort?.aborted) return void start();
    // One listener per signal (the prober hands every send the same one), not one per verdict.
    if (abort && !watched.has(abort)) {
      watched.add(abort);
      abort.addEventListener('abort', () => void start(), { once: true });
    }
    if (timer === undefined) timer = clock.setTimeout(() => void start(), options.windowMs);
  };

  return {
    sink: (signal: HealthSignal, { signal: abort }) =>
      new Promise<void>((resolve, reject) => {
        verdicts.push({ entry: verdictEntryOf(signal, sequenceOf(signal)), resolve, reject });
        wait(abort);
      }),
    report: (groups) =>
      new Promise<void>((resolve, reject) => {
        if (groups.length === 0) return resolve();
        unreachable = groups;
        reports.push({ resolve, reject });
        wait();
      }),
    drain: async () => {
      void start();
      await Promise.all([...sending]);
    },
  };
}

/** The sequence the prober gave the verdict (the tail of its event id `probe:OBSERVER:INSTANCE:SEQ`). */
function sequenceOf(signal: HealthSignal): number {
  const n = Number(signal.eventId?.split(':').pop());
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * Reports the prober's unreachable groups through the queue: at once when one is found, and with
 * every heartbeat while it lasts (the returned function is the heartbeat's part). A report that
 * fails is sent again with the next beat.
 */
export function reportUnreachable(queue: VerdictQueueSink, events: TypedEvents<ProberEvents>): (beat: Heartbeat) => Promise<void> {
  events.on('prober:group:unreachable', (e) => void queue.report([{ group: e.group, since: new Date(e.atMs).toISOString(), reason: e.reason }]).catch(() => {}));
  return (beat) => queue.report(beat.unreachable.map((u) => ({ group: u.group, since: new Date(u.sinceMs).toISOString(), reason: unreachableReason })));
}
