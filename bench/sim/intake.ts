/**
 * The healer's intake in virtual time, for bench/scale.ts: the verdict queue (SQS) and Lambda's
 * event source mapping in front of the real healer (batches, a batching window, a concurrency
 * bound, partial batch responses, redelivery after the visibility timeout, a dead-letter queue),
 * and the observers that write to it (a round every 2 s, a verdict after 2 failed checks of 1 s,
 * repeated every 10 s while the instance stays down, a round's verdicts in messages of up to
 * 1,000). See ./account.ts for the figures.
 */
import type { Healer } from '../../src/healer/types.js';
import type { HealthSignal } from '../../src/signals/types.js';
import type { SimulatedAccount, VirtualTime } from './account.js';

interface Message {
  id: number;
  signals: HealthSignal[];
  visibleAtMs: number;
  receives: number;
}

export const intake = { batchSize: 10, batchingWindowMs: 1_000, maxConcurrency: 5, visibilityTimeoutMs: 360_000, maxReceiveCount: 10 } as const;

/** The verdict queue, consumed by `maxConcurrency` healer environments. */
export class VerdictQueue {
  deadLettered = 0;
  invocations = 0;
  private waiting: Message[] = [];
  private ids = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly time: VirtualTime,
    healers: readonly Healer[],
  ) {
    for (const healer of healers) void this.poll(healer);
  }

  send(signals: HealthSignal[]): void {
    this.waiting.push({ id: ++this.ids, signals, visibleAtMs: this.time.nowMs, receives: 0 });
    for (const wake of this.idle.splice(0)) wake();
  }

  /** One environment: takes a batch when one is ready, hands it to its healer, returns the failures. */
  private async poll(healer: Healer): Promise<void> {
    for (;;) {
      const visible = () => this.waiting.filter((m) => m.visibleAtMs <= this.time.nowMs);
      if (visible().length === 0) {
        await Promise.race([new Promise<void>((wake) => this.idle.push(wake)), this.time.sleep(1_000)]);
        continue;
      }
      // The batching window: wait for a full batch, at most the window.
      if (visible().length < intake.batchSize) await this.time.sleep(intake.batchingWindowMs);
      const batch = visible().slice(0, intake.batchSize);
      if (batch.length === 0) continue;
      for (const m of batch) {
        m.receives++;
        m.visibleAtMs = this.time.nowMs + intake.visibilityTimeoutMs;
      }
      this.invocations++;
      const signals = batch.flatMap((m) => m.signals);
      const records = await healer.handleSignals(signals);
      // Partial batch response: a message fails when any of its verdicts' work failed and may be retried.
      let k = 0;
      for (const m of batch) {
        const failed = records.slice(k, k + m.signals.length).some((r) => r.retryable === true);
        k += m.signals.length;
        if (!failed) this.waiting = this.waiting.filter((w) => w !== m);
        else if (m.receives >= intake.maxReceiveCount) {
          this.waiting = this.waiting.filter((w) => w !== m);
          this.deadLettered++;
        }
      }
    }
  }
}

/** An observer: probes every instance of the fleet each round, and writes its verdicts to the queue. */
export function startObserver(time: VirtualTime, account: SimulatedAccount, queue: VerdictQueue, name: string, phaseMs: number, alive: () => boolean): void {
  const failures = new Map<string, number>();
  const lastSent = new Map<string, number>();
  const round = (): void => {
    time.at(time.nowMs + 2_000, round);
    if (!alive()) return;
    const verdicts: HealthSignal[] = [];
    for (const i of account.probed()) {
      if (i.up) {
        failures.delete(i.instanceId);
        continue;
      }
      const n = (failures.get(i.instanceId) ?? 0) + 1;
      failures.set(i.instanceId, n);
      const last = lastSent.get(i.instanceId);
      if (n < 2 || (last !== undefined && time.nowMs - last < 10_000)) continue;
      lastSent.set(i.instanceId, time.nowMs);
      // The failed check timed out 1 s after the round began.
      const observedAt = new Date(time.nowMs + 1_000).toISOString();
      verdicts.push({ instanceId: i.instanceId, state: 'unhealthy', source: 'probe', observedAt, eventId: `${name}:${i.instanceId}:${time.nowMs}`, reason: 'timeout after 1000 ms', instanceIdFrom: 'probe-target', observer: name });
    }
    if (verdicts.length === 0) return;
    // Sent when the round's checks have ended (their 1 s timeout), split at SQS's 256 KiB.
    time.at(time.nowMs + 1_000, () => {
      for (let k = 0; k < verdicts.length; k += 1_000) queue.send(verdicts.slice(k, k + 1_000));
    });
  };
  time.at(phaseMs, round);
}
