/**
 * What a local group tells the rest of the code: its typed events and its view of one instance.
 * The machine (machine.ts) decides every event but the reaper's; the shell (local-group.ts)
 * emits them, adding what only the shell holds (an instance's last output lines).
 */
import type { HealthStatus, InstanceView } from '../port.js';

/** How an instance's process ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** How people read an exit: `exited with code 0`, `killed by SIGKILL`. */
export function describeExit(exit: ProcessExit): string {
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return exit.code === null ? 'never ran' : `exited with code ${exit.code}`;
}

/** One instance as the local group knows it (a superset of {@link InstanceView}). */
export interface LocalInstance extends InstanceView {
  launchedAt: Date;
  port: number;
  /** The child's pid, once spawned. */
  pid?: number;
  inServiceAt?: Date;
  terminatedAt?: Date;
  /** The Unhealthy instance this one was launched to replace. */
  replaces?: string;
  /** Why it was terminated. */
  terminationReason?: string;
  /** How its process ended, once it did. */
  exit?: ProcessExit;
}

/** Typed events of the local group. `atMs` is milliseconds since the epoch. */
export interface LocalGroupEvents {
  'group:instance:launched': { instanceId: string; pid: number; port: number; replaces?: string; availabilityZone?: string; atMs: number };
  'group:instance:in-service': { instanceId: string; pid: number; port: number; replaces?: string; availabilityZone?: string; atMs: number };
  /** Health set, through the fleet port (`by: 'fleet'`) or by the group's own exit check (`by: 'exit'`). */
  'group:instance:marked': { instanceId: string; status: HealthStatus; by: 'fleet' | 'exit'; atMs: number };
  /** `setInstanceHealth` was ignored because the instance is in its grace period. */
  'group:instance:mark-ignored': { instanceId: string; reason: string; atMs: number };
  /** The process exited while nobody was terminating it. */
  'group:instance:exited': { instanceId: string; code: number | null; signal: string | null; atMs: number };
  'group:instance:terminating': { instanceId: string; reason: string; atMs: number };
  /**
   * The instance is gone: how its process ended (`code`, `signal`; both null when it never ran)
   * and its last output lines, oldest first: the evidence a replaced instance leaves behind.
   */
  'group:instance:terminated': { instanceId: string; code: number | null; signal: string | null; lastOutput: string[]; atMs: number };
  'group:launch:failed': { instanceId: string; error: string; atMs: number };
  /** The reaper process started (it kills every instance if this process dies). */
  'group:reaper:started': { pid: number; atMs: number };
}
