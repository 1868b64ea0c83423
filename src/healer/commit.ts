/**
 * Read, decide, commit — again from a fresh read when another writer came first. The one loop
 * every change of a group's ledger goes through (./group-batch.ts: the decisions and the release
 * of a mark that failed), so a ledger shared by many processes (src/runtime/dynamodb-ledger.ts) never
 * loses a change: a write lands only on the version it was decided from.
 *
 * The backoff is jittered (src/backoff.ts) so that writers that collided do not collide again in
 * step; the attempts are bounded so nothing waits forever: past them the loop throws the last
 * {@link LedgerConflictError}, which is retryable (a batch item failure, a Lambda retry).
 */
import { backoffMs } from '../backoff.js';
import type { GroupLedger } from '../policy/ledger.js';
import { LedgerConflictError, type LedgerEntry, type LedgerPort } from './ledger.js';

/** How often a commit is tried, and how long to wait between tries. */
export const commitRetry = {
  attempts: 10,
  baseMs: 20,
  maxMs: 1_000,
} as const;

/** Time and chance for the loop: the healer's clock seam. */
export interface CommitSeam {
  /** In [0, 1): jitters the backoff. */
  random: () => number;
  /** Waits `ms`; rejects when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What a step decided: the ledger to write (the same value: nothing to write) and what to hand back. */
export interface Step<T> {
  ledger: GroupLedger;
  result: T;
}

/** How the loop went, for the records and the conflict rate. */
export interface Committed<T> {
  result: T;
  /** Writes that lost to another writer before this one landed. */
  conflicts: number;
}

/**
 * Reads the entry at `key`, runs `decide` on it, and writes what it returns on the version read;
 * on a conflict, waits and starts again from a fresh read. `decide` must be pure over the entry:
 * it may run several times, and only the run whose write landed counts.
 */
export async function commitLoop<T>(ledger: LedgerPort, key: string, decide: (entry: LedgerEntry) => Step<T>, seam: CommitSeam, abort?: AbortSignal): Promise<Committed<T>> {
  for (let attempt = 1; ; attempt++) {
    const entry = await ledger.read(key, abort);
    const step = decide(entry);
    if (step.ledger === entry.ledger) return { result: step.result, conflicts: attempt - 1 };
    try {
      await ledger.write(key, step.ledger, entry.version, abort);
      return { result: step.result, conflicts: attempt - 1 };
    } catch (error) {
      if (!(error instanceof LedgerConflictError) || attempt >= commitRetry.attempts) throw error;
    }
    await seam.sleep(backoffMs({ attempt, baseMs: commitRetry.baseMs, maxMs: commitRetry.maxMs, random: seam.random }), abort);
  }
}

/** The real seam: Math.random and a timer that an abort cancels. */
export const realCommitSeam: CommitSeam = {
  random: () => Math.random(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
