import { describe, expect, it } from 'vitest';
import { mapLimited } from '../src/concurrency.js';

describe('mapLimited', () => {
  it('runs at most `limit` at once and keeps the order of results', async () => {
    // Prepare: each item waits for the test to release it, so the overlap is counted, not timed.
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const work = async (n: number): Promise<number> => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((release) => gates.push(release));
      running--;
      return n * 10;
    };

    // Act: release the waiting items, latest first, until all are done.
    const done = mapLimited([1, 2, 3, 4, 5, 6, 7], 3, work);
    for (let released = 0; released < 7; released++) {
      while (gates.length === 0) await new Promise((r) => setImmediate(r));
      (gates.pop() as () => void)();
    }

    // Assess
    expect(await done).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });

  it('rejects with the first failure and starts nothing after it; handles no items', async () => {
    const started: number[] = [];
    await expect(
      mapLimited([1, 2, 3, 4, 5], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('two');
        return n;
      }),
    ).rejects.toThrow('two');
    expect(started).toEqual([1, 2]);
    expect(await mapLimited([], 4, async (n: number) => n)).toEqual([]);
  });
});
