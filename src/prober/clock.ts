/**
 * Time and chance for the prober's shell, through one seam: the clock's two readings, timers,
 * random numbers and the event loop's own lateness. The real one is the default; a test hands in
 * its own parts, or keeps the real ones under vitest's fake timers, which they call through.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** A timer handle, as setTimeout returns it. */
export type ClockTimer = ReturnType<typeof setTimeout>;

/** Watches how late the event loop runs. */
export interface LoopWatch {
  /** How late the loop ran since the last call, in ms (at or below 0 when it kept up). */
  lateMs(): number;
  stop(): void;
}

export interface ProberClock {
  /** Monotonic milliseconds: the schedule and the self-check. */
  now(): number;
  /** Milliseconds since the epoch: what is reported. */
  epochMs(): number;
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
  /** A number in [0, 1): where a new target falls in the interval. */
  random(): number;
  watchLoop(): LoopWatch;
}

/** The loop's own delay is sampled this often. */
const loopResolutionMs = 20;

/** The real clock. Each part calls its global when called, so fake timers installed later apply. */
export const realClock: ProberClock = {
  now: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (timer) => clearTimeout(timer),
  random: () => Math.random(),
  watchLoop() {
    // The self-check's first witness of a busy machine.
    const histogram = monitorEventLoopDelay({ resolution: loopResolutionMs });
    histogram.enable();
    return {
      lateMs() {
        // The histogram records each sample's whole period, so an idle loop reads the resolution.
        const lateMs = histogram.max / 1e6 - loopResolutionMs;
        histogram.reset();
        return lateMs;
      },
      stop: () => histogram.disable(),
    };
  },
};

/** Timers by name on a clock, each at a monotonic time; setting one replaces it. */
export class NamedTimers<N extends string> {
  private readonly handles = new Map<N, ClockTimer>();

  constructor(private readonly clock: ProberClock) {}

  set(name: N, atMs: number, fire: () => void): void {
    this.clear(name);
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fire();
    }, Math.max(0, atMs - this.clock.now()));
    this.handles.set(name, handle);
  }

  clear(name: N): void {
    const handle = this.handles.get(name);
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.handles.delete(name);
  }

  clearAll(): void {
    for (const name of [...this.handles.keys()]) this.clear(name);
  }
}
