/**
 * The SDK boundary, written once: every AWS call of the wing's service modules (./autoscaling.ts,
 * ./ec2.ts, ./cloudwatch.ts, …) goes through {@link callAws}, so an abort is honoured, every call
 * ends within its deadline, and any failure becomes a RemoteError naming the IAM action (classified
 * once, src/errors.ts); listing calls follow their pages with {@link pages}; id lists are cut to an
 * API's limit with {@link chunks}.
 */
import { awsTimeouts } from './settings.js';
import { withDeadline } from '../deadline.js';
import { toRemoteError } from '../errors.js';

/** Per-call options of {@link callAws}. */
export interface CallOptions {
  /**
   * The bound of this call with its retries; default: the common one (3 × AUTOHEAL_AWS_TIMEOUT_MS,
   * src/aws/settings.ts). Calls that wait on purpose (a long poll, an invoke) pass their own.
   */
  timeoutMs?: number;
  /** Named in the timeout's error when `timeoutMs` is given: the flag or variable that sets it. */
  setBy?: string;
}

/**
 * Runs one SDK call; its failure becomes a RemoteError for `action` (e.g. `autoscaling:SetInstanceHealth`).
 * `call` is given the signal to pass to the SDK (`{ abortSignal }`): it aborts when `signal` does
 * or the call's deadline passes, and then callAws fails at once with a DeadlineError, even if the
 * request ignores the signal.
 */
export async function callAws<T>(
  action: string,
  signal: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
  options: CallOptions = {},
): Promise<T> {
  try {
    const common = options.timeoutMs === undefined ? awsTimeouts() : undefined;
    const timeoutMs = options.timeoutMs ?? common?.callTimeoutMs ?? Number.POSITIVE_INFINITY;
    const setBy = options.setBy ?? common?.setBy;
    return await withDeadline(action, timeoutMs, call, { signal, ...(setBy ? { setBy } : {}) });
  } catch (error) {
    throw toRemoteError(action, error);
  }
}

/** Every page of a listing call: `fetch` is given the previous page's NextToken (none at first). */
export async function* pages<P extends { NextToken?: string | undefined }>(
  fetch: (nextToken: string | undefined) => Promise<P>,
): AsyncGenerator<P> {
  let nextToken: string | undefined;
  do {
    const page = await fetch(nextToken);
    yield page;
    nextToken = page.NextToken;
  } while (nextToken);
}

/**
 * Batches of one describe in flight at once: a zone's worth of verdicts (3,300 instances) is 67
 * batches of DescribeAutoScalingInstances, 9 calls deep instead of 67. Within the account's rate:
 * in bench/scale.ts five healers at once stay at a third of it and are never throttled (EC2
 * documents a bucket of 100 and 20 a second for its describes; Auto Scaling publishes none).
 */
export const callsAtOnce = 8;

/** `items` in lists of at most `size`, in order. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
