/**
 * Time and chance for the bridge, through one seam: the clock, its timers and random numbers.
 * The real one reads its globals when called, so vitest's fake timers drive it whenever they are
 * installed; a test may also hand in a clock of its own.
 */

/** A timer handle, as the clock's setTimeout returns it. */
export type ClockTimer = ReturnType<typeof setTimeout>;

export interface BridgeClock {
  /** Milliseconds since the epoch (message ages are measured against SQS's SentTimestamp). */
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
  /** In [0, 1): jitters the backoffs. */
  random(): number;
}

export const realClock: BridgeClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer),
  random: () => Math.random(),
};
