/**
 * The prober's schedule as pure functions over a clock reading. Every target has a fixed phase
 * in the interval (random in [0, jitterMs)); its checks are due at `startMs + phaseMs + k ×
 * intervalMs`, computed from the fixed start, never from the end of the previous check, so a slow
 * check or a busy event loop cannot make the schedule drift.
 */

/** A target's fixed offset within the interval; `random` is in [0, 1) (Math.random in production). */
export function phaseOf(jitterMs: number, random: number): number {
  return jitterMs > 0 ? Math.min(Math.max(random, 0), 1 - Number.EPSILON) * jitterMs : 0;
}

/**
 * The first due time at or after `nowMs` for a target with this phase, and, for a target whose
 * check was due at `dueMs`, the next one: missed slots (a pause longer than an interval) are
 * skipped and counted, the phase kept.
 */
export function nextDue(input: { startMs: number; phaseMs: number; intervalMs: number; nowMs: number; dueMs?: number }): {
  dueMs: number;
  missed: number;
} {
  const { startMs, phaseMs, intervalMs, nowMs } = input;
  if (input.dueMs === undefined) {
    const k = Math.max(0, Math.ceil((nowMs - startMs - phaseMs) / intervalMs));
    return { dueMs: startMs + phaseMs + k * intervalMs, missed: 0 };
  }
  const next = input.dueMs + intervalMs;
  if (next > nowMs) return { dueMs: next, missed: 0 };
  const missed = Math.ceil((nowMs - next) / intervalMs);
  return { dueMs: next + missed * intervalMs, missed };
}

/** A binary min-heap by due time. */
export class DueHeap<T extends { dueMs: number }> {
  private readonly items: T[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as T).dueMs <= item.dueMs) break;
      a[i] = a[parent] as T;
      i = parent;
    }
    a[i] = item;
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (a[r] as T).dueMs < (a[l] as T).dueMs ? r : l;
      if ((a[c] as T).dueMs >= last.dueMs) break;
      a[i] = a[c] as T;
      i = c;
    }
    a[i] = last;
    return top;
  }
  clear(): void {
    this.items.length = 0;
  }
}
