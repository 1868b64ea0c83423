/**
 * Failure injection into a local group's instances, the three ways an instance dies:
 *
 * - `freeze`: SIGSTOP to the instance's process group. Alive, holding its port, answering
 *   nothing: what `ifdown eth0` looks like from outside. Only a probe with a timeout sees it.
 * - `crash`: SIGKILL. The port refuses connections at once.
 * - `sick`: SIGUSR1, on which the built-in instance server's health endpoint answers 503 (a
 *   `--command` server must handle SIGUSR1 the same way for this mode).
 */
import type { LocalGroup } from '../fleet/local/local-group.js';
import { AutohealError } from '../errors.js';

/** The failure modes, in the order the CLI lists them. */
export const failureModes = ['freeze', 'crash', 'sick'] as const;
export type FailureMode = (typeof failureModes)[number];

/** What was injected, and when (milliseconds since the epoch). */
export interface Injection {
  instanceId: string;
  pid: number;
  mode: FailureMode;
  atMs: number;
  /** The instance's zone, when its group has zones. */
  availabilityZone?: string;
}

/** Injects `mode` into the instance; throws when the instance has no running process. */
export function injectFailure(group: Pick<LocalGroup, 'pidOf'>, instanceId: string, mode: FailureMode): Injection {
  const pid = group.pidOf(instanceId);
  if (pid === undefined) throw new AutohealError(`cannot inject ${mode} into ${instanceId}: no running process`);
  const atMs = Date.now();
  try {
    if (mode === 'freeze') process.kill(-pid, 'SIGSTOP');
    else if (mode === 'crash') process.kill(-pid, 'SIGKILL');
    else process.kill(pid, 'SIGUSR1');
  } catch (error) {
    throw new AutohealError(`cannot inject ${mode} into ${instanceId} (pid ${pid})`, { cause: error });
  }
  return { instanceId, pid, mode, atMs };
}
