/**
 * The local group's one seam for time: what the shell reads the time from and arms its timers
 * with. The default is the system's, read when called, so vitest's fake timers (installed before
 * the group is built) drive it as they drive everything else.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms`; returns the function that cancels it (a no-op once it ran). */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

/** Timers armed on a clock by key: arming a key again replaces its timer. */
export class TimerTable {
  private readonly armed = new Map<string, () => void>();

  constructor(private readonly clock: Clock) {}

  /** Calls `fn` after `ms`, unless the key is cancelled or armed again first. */
  arm(key: string, ms: number, fn: () => void): void {
    this.cancel(key);
    this.armed.set(
      key,
      this.clock.after(ms, () => {
        this.armed.delete(key);
        fn();
      }),
    );
  }

  /** A key not armed (or whose timer ran) is fine. */
  cancel(key: string): void {
    this.armed.get(key)?.();
    this.armed.delete(key);
  }
}
