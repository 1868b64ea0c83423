/** Small statistics for timelines and benchmarks. */

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/**
 * The prober's interval × unhealthy threshold: the reference a detection time is read against. Not
 * a bound either way: a failure between two probes is confirmed from (threshold − 1) intervals on,
 * and a probe that waits for its timeout (a frozen instance) adds to it.
 */
export function detectionFloorMs(intervalMs: number, unhealthyThreshold: number): number {
  return intervalMs * unhealthyThreshold;
}
