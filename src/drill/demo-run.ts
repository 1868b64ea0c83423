/**
 * What every stage of the demo is given: its options, its logger, the abort signal, and the stack
 * of clean-ups that `runDemo` unwinds whatever happens, so an error or a Ctrl-C leaves no child
 * process and no open port.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DemoOptions } from './demo-options.js';

export type Cleanup = () => Promise<unknown> | unknown;

export interface DemoRun {
  options: DemoOptions;
  logger: Logger;
  signal?: AbortSignal;
  /** Undone last first. */
  cleanups: Cleanup[];
}

/** Runs every clean-up, last first; one that fails is logged and the rest still run. */
export async function unwind(run: DemoRun): Promise<void> {
  for (const cleanup of run.cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      run.logger.warn({ error: describeError(error) }, 'demo: cleanup step failed');
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
