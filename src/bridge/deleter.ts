/**
 * Deletes messages in DeleteMessageBatch calls of up to 10, coalescing the deletes that arrive
 * while a call is in progress. Each entry of `Failed[]` is retried with jittered backoff unless
 * SQS says the request itself was wrong (SenderFault); the caller learns per message whether it
 * was really deleted, so a message counts as processed only once it is gone. A call that is not
 * answered fails with the bound of the queue port it is given (the bridge gives it one with a
 * deadline), and its entries are retried like any other failure: a hung call never stops deleting.
 */
import { backoffMs } from '../backoff.js';
import { describeError, isRetryable } from '../errors.js';
import { realClock, type BridgeClock, type ClockTimer } from './clock.js';
import type { QueuePort } from './queue.js';

interface Pending {
  receiptHandle: string;
  attempts: number;
  lastError: string;
  resolve(result: { deleted: boolean; error?: string }): void;
}

/** The most entries one DeleteMessageBatch takes. */
const maxEntries = 10;

export class Deleter {
  private pending: Pending[] = [];
  private flushing = false;
  private closed = false;
  private readonly timers = new Set<ClockTimer>();

  constructor(
    private readonly queue: QueuePort,
    private readonly maxAttempts: number,
    /** Its retries' timers and jitter: the bridge's one clock seam. */
    private readonly clock: Pick<BridgeClock, 'setTimeout' | 'clearTimeout' | 'random'> = realClock,
  ) {}

  /** Resolves `{ deleted: true }` once SQS confirmed the delete, or `{ deleted: false, error }` after the last attempt. */
  delete(receiptHandle: string): Promise<{ deleted: boolean; error?: string }> {
    if (this.closed) return Promise.resolve({ deleted: false, error: 'the bridge stopped' });
    return new Promise((resolve) => {
      this.pending.push({ receiptHandle, attempts: 0, lastError: '', resolve });
      void this.flush();
    });
  }

  /** Gives up on every delete still waiting (forced shutdown); those messages will be redelivered. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    for (const entry of this.pending.splice(0)) entry.resolve({ deleted: false, error: 'the bridge stopped' });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending.splice(0, maxEntries);
        let failures: Map<string, { error: string; retryable: boolean }>;
        try {
          const failed = await this.queue.deleteBatch(batch.map((e) => e.receiptHandle));
          failures = new Map(failed.map((f) => [f.receiptHandle, { error: `${f.code}: ${f.message}`, retryable: !f.senderFault }]));
        } catch (error) {
          const retryable = isRetryable(error);
          failures = new Map(batch.map((e) => [e.receiptHandle, { error: describeError(error), retryable }]));
        }
        for (const entry of batch) {
          const failure = failures.get(entry.receiptHandle);
          if (!failure) {
            entry.resolve({ deleted: true });
            continue;
          }
          entry.attempts++;
          entry.lastError = failure.error;
          if (!failure.retryable || entry.attempts >= this.maxAttempts) {
            entry.resolve({ deleted: false, error: entry.lastError });
            continue;
          }
          this.retryLater(entry);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private retryLater(entry: Pending): void {
    const delayMs = backoffMs({ attempt: entry.attempts, baseMs: 100, maxMs: 5_000, random: () => this.clock.random() });
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) {
        entry.resolve({ deleted: false, error: entry.lastError });
        return;
      }
      this.pending.push(entry);
      void this.flush();
    }, delayMs);
    this.timers.add(timer);
  }
}
