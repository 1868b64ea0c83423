/**
 * The notices' outbox: how a notice reaches the topic without ever slowing a decision, and
 * without ever going twice in a window, whatever SNS does.
 *
 * - Off the decision's path: `submit` claims the notice's key and queues it; it never waits for
 *   SNS. One publish at a time, each bounded by `publishTimeoutMs`; at most `maxWaiting` notices
 *   wait (beyond, a notice is dropped and counted: a notice is for a person, not evidence).
 * - One per key per window: the key (`group|reason`, or `observer|reason`) is claimed when the
 *   notice is accepted, and stays claimed when its publish fails or times out. So a slow SNS, a
 *   silent one, or one that fails and is retried can never turn one notice into forty.
 * - Retried only when it surely did not go: an error answer that may pass next time (throttling,
 *   5xx) is retried up to `attempts` times with a growing delay; a publish that got no answer
 *   (timed out, connection lost) is never retried, because SNS may have taken it (`unknown`).
 * - `flush` waits for what is queued, at most `flushMs`: a Lambda must publish before it returns,
 *   but never waits longer for a notice than that.
 */
import { withDeadline } from '../deadline.js';
import { DeadlineError, describeError, isRetryable } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** What the outbox needs of a notice (./notices.ts `Notice` is one). */
export interface Outgoing {
  kind: string;
  /** The group, or the observer. */
  subjectOf: string;
  reason: string;
  /** Narrows the window's key below the subject and reason. */
  scope?: string;
  subject: string;
  body: string;
  attributes: Record<string, string>;
}

/** Sends one notice; it is given the signal that aborts it at its bound. */
export type Publisher<T extends Outgoing> = (notice: T, signal?: AbortSignal) => Promise<void>;

export interface OutboxOptions<T extends Outgoing> {
  publish: Publisher<T>;
  /** At most one notice per key within this window. Default 30 min. */
  windowMs?: number;
  /** One publish's bound. Default 5 s. */
  publishTimeoutMs?: number;
  /** Publishes of one notice at most, when SNS answers with an error a retry may fix. Default 3. */
  attempts?: number;
  /** The first retry's delay, doubled for each further one. Default 500 ms. */
  retryDelayMs?: number;
  /** Notices waiting at most; beyond, new ones are dropped. Default 100. */
  maxWaiting?: number;
  /** How long `flush` waits at most. Default 1 s. */
  flushMs?: number;
  clock?: () => number;
  logger?: Logger;
}

/** Counts, for tests and the summary. */
export interface OutboxCounts {
  published: number;
  /** Held back by the window. */
  deduplicated: number;
  /** Every attempt failed, or the failure was one a retry cannot fix. */
  failed: number;
  /** The publish timed out: SNS may or may not have taken it; never retried. */
  unknown: number;
  /** Not queued: too many notices waiting. */
  dropped: number;
}

export interface Outbox<T extends Outgoing> {
  /** Accepts a notice (subject to the window) and queues it. Never throws; resolves once its publish is settled. */
  submit(notice: T): Promise<void>;
  /** Resolves when everything queued so far is settled, or after `maxWaitMs` (default flushMs), whichever comes first. */
  flush(maxWaitMs?: number): Promise<void>;
  readonly counts: Readonly<OutboxCounts>;
}

/** A notice's key in the window: its subject, reason and scope. */
export const noticeKey = (n: Outgoing): string => `${n.subjectOf}|${n.reason}${n.scope ? `|${n.scope}` : ''}`;

/** The HTTP status of the error answer behind `error` (its causes included), or undefined when nothing answered. */
function statusOf(error: unknown): number | undefined {
  let current: unknown = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 4; depth++) {
    const status = (current as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
    if (typeof status === 'number') return status;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

interface Queued<T extends Outgoing> {
  notice: T;
  attempt: number;
  settle: () => void;
}

const logFields = (n: Outgoing) => ({ notice: n.kind, group: n.attributes.group, observer: n.attributes.observer, reason: n.reason, subject: n.subject });

/** Publishes one queued notice once, within its bound; returns what became of it. */
async function attempt<T extends Outgoing>(q: Queued<T>, publish: Publisher<T>, publishTimeoutMs: number, attempts: number, logger: Logger): Promise<'published' | 'retry' | 'failed' | 'unknown'> {
  try {
    await withDeadline('sns:Publish', publishTimeoutMs, (signal) => publish(q.notice, signal));
    logger.info(logFields(q.notice), 'notice published');
    return 'published';
  } catch (error) {
    const unknown = error instanceof DeadlineError || statusOf(error) === undefined;
    const again = !unknown && isRetryable(error) && q.attempt < attempts;
    logger[again ? 'warn' : 'error'](
      { ...logFields(q.notice), attempt: q.attempt, error: describeError(error) },
      unknown ? 'notice publish unanswered (not retried: it may have gone)' : again ? 'notice not published; retrying' : 'notice not published',
    );
    return unknown ? 'unknown' : again ? 'retry' : 'failed';
  }
}

/** The notice as sent: with how many of its key were held back in the window before it. */
function withHeldBack<T extends Outgoing>(notice: T, held: number, windowMs: number): T {
  if (held === 0) return notice;
  return { ...notice, body: `${notice.body}\n\n${held} similar notice${held > 1 ? 's' : ''} (${notice.reason}, ${notice.subjectOf}) held back in the previous ${Math.round(windowMs / 60_000)} min.` };
}

export function createOutbox<T extends Outgoing>(options: OutboxOptions<T>): Outbox<T> {
  const windowMs = options.windowMs ?? 30 * 60_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const attempts = options.attempts ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const maxWaiting = options.maxWaiting ?? 100;
  const flushMs = options.flushMs ?? 1_000;
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const counts: OutboxCounts = { published: 0, deduplicated: 0, failed: 0, unknown: 0, dropped: 0 };
  /** Per key: when its notice was accepted, and how many were held back since. */
  const sent = new Map<string, { atMs: number; held: number }>();
  const queue: Array<Queued<T>> = [];
  const unsettled = new Set<Promise<void>>();
  let draining = false;

  async function drain(): Promise<void> {
    if (draining) return;
    draining = true;
    try {
      for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
        const outcome = await attempt(q, options.publish, publishTimeoutMs, attempts, logger);
        if (outcome === 'retry') {
          const next: Queued<T> = { ...q, attempt: q.attempt + 1 };
          // The delay keeps the queue moving: other notices go meanwhile.
          setTimeout(() => {
            queue.push(next);
            void drain();
          }, retryDelayMs * 2 ** (q.attempt - 1)).unref();
          continue;
        }
        counts[outcome]++;
        q.settle();
      }
    } finally {
      draining = false;
    }
  }

  function submit(notice: T): Promise<void> {
    const key = noticeKey(notice);
    const nowMs = clock();
    const last = sent.get(key);
    if (last && nowMs - last.atMs < windowMs) {
      last.held++;
      counts.deduplicated++;
      return Promise.resolve();
    }
    const held = last?.held ?? 0;
    sent.set(key, { atMs: nowMs, held: 0 });
    // Bounded: keys older than the window are forgotten.
    if (sent.size > 1_000) for (const [k, v] of sent) if (nowMs - v.atMs >= windowMs) sent.delete(k);
    if (queue.length >= maxWaiting) {
      counts.dropped++;
      logger.error({ ...logFields(notice), waiting: queue.length }, 'notice dropped: too many waiting');
      return Promise.resolve();
    }
    const out = withHeldBack(notice, held, windowMs);
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    unsettled.add(done);
    void done.then(() => unsettled.delete(done));
    queue.push({ notice: out, attempt: 1, settle });
    void drain();
    return done;
  }

  async function flush(maxWaitMs = flushMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
    try {
      await Promise.race([
        (async () => {
          while (unsettled.size > 0) await Promise.all([...unsettled]);
        })(),
        bound,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  return { submit, flush, counts };
}
