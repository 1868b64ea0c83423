/** Small statistics for timelines and benchmarks. */

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** The detection floor of a prober: no failure can be confirmed sooner than `intervalMs × unhealthyThreshold`. */
export function detectionFloorMs(intervalMs: number, unhealthyThreshold: number): number {
  return intervalMs * unhealthyThreshold;
}
