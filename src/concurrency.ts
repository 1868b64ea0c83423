/**
 * Bounded concurrency, one definition for every room that fans out: the wing's batched describe
 * calls, the healer's groups, `status`'s probes. Enough at once to hide latency, never so many
 * that one caller spends an account's API rate alone.
 */

/**
 * Runs `work` over `items`, at most `limit` at once, keeping the order of results. The first
 * failure rejects at once, and no item is started after it (those in flight run to their end).
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
