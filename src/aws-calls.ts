/**
 * The SDK boundary, written once: every AWS call goes through {@link callAws}, so an abort is
 * honoured before the request and any failure becomes a RemoteError naming the IAM action;
 * listing calls follow their pages with {@link pages}; id lists are cut to an API's limit with
 * {@link chunks}. The adapters (src/fleet/aws, src/alarms, src/prober/aws-discovery, the CLI)
 * stay thin: a command, its input, and what to keep of the answer.
 */
import { toRemoteError } from './errors.js';

/** Runs one SDK call; its failure becomes a RemoteError for `action` (e.g. `autoscaling:SetInstanceHealth`). */
export async function callAws<T>(action: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  try {
    signal?.throwIfAborted();
    return await call();
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

/** `items` in lists of at most `size`, in order. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
