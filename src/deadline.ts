/**
 * Deadlines, written once: {@link withDeadline} runs one piece of remote work with a bound. When
 * the bound expires the work's abort signal fires (so an SDK request or an invoke is cancelled
 * and its socket closed) and the caller gets a {@link DeadlineError} at once, even if the work
 * ignores its signal: nothing waits forever. callAws (every AWS call, src/aws/call.ts) and the bridge (every
 * delivery and every stage of its loop) use it.
 */
import { DeadlineError } from './errors.js';

export interface DeadlineOptions {
  /** A caller's own abort (a shutdown, an outer deadline); its reason is thrown as is. */
  signal?: AbortSignal | undefined;
  /** Named in the error: the flag or variable that sets this bound. */
  setBy?: string;
}

/**
 * Runs `work` with a signal that aborts after `timeoutMs` (or when `options.signal` aborts), and
 * settles no later than that: with the work's result, its error, or a {@link DeadlineError} for
 * `action`. A `timeoutMs` of Infinity sets no bound of its own.
 */
export async function withDeadline<T>(
  action: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions = {},
): Promise<T> {
  const { signal: outer } = options;
  outer?.throwIfAborted();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        const error = new DeadlineError(action, timeoutMs, options.setBy);
        controller.abort(error);
        reject(error);
      }, Math.max(0, timeoutMs));
    }
    if (outer) {
      onOuterAbort = () => {
        controller.abort(outer.reason);
        reject(outer.reason instanceof Error ? outer.reason : new Error(`${action}: aborted`));
      };
      outer.addEventListener('abort', onOuterAbort, { once: true });
    }
  });
  // The race's loser must not surface as an unhandled rejection.
  expired.catch(() => {});
  try {
    // Called inside an async function, so a synchronous throw becomes a rejection like any other.
    const running = (async () => work(controller.signal))();
    return await Promise.race([running, expired]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onOuterAbort) outer?.removeEventListener('abort', onOuterAbort);
  }
}
