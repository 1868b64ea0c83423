/**
 * Exponential backoff with equal jitter, written once: the delay before attempt `attempt + 1` is
 * base × 2^(attempt − 1), capped at `max`, then jittered into its upper half, so that retries
 * never bunch at zero and never exceed the cap. Pure: `random` (in [0, 1)) is passed in.
 */
export interface BackoffOptions {
  /** 1 after the first failure. */
  attempt: number;
  baseMs: number;
  maxMs: number;
  /** Never less than this, whatever the base (e.g. a floor that stops a hot loop). Default 0. */
  minMs?: number;
  random: () => number;
}

export function backoffMs(options: BackoffOptions): number {
  const { attempt, baseMs, maxMs, minMs = 0, random } = options;
  // 2^30 is already past any cap; bounding the exponent keeps the product finite.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(minMs, jittered);
}
