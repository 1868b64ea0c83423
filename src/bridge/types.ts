/**
 * What the bridge tells the world: its typed events and how it ended. Apart from bridge.ts so
 * that the shell and the reporter can name them without importing the bridge that builds them.
 */
import type { BridgeStage, StopReason } from './machine.js';
import type { BridgeCounts } from './metrics.js';

/** Common fields of the per-message events. */
export interface MessageEventBase {
  messageId: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** From receipt to this outcome. */
  ms: number;
}

/** Typed events of the bridge, named `component:action:outcome`. */
export interface BridgeEvents {
  /** A receive returned (`count` may be 0). */
  'bridge:receive:succeeded': { count: number };
  'bridge:receive:failed': { error: string; retryInMs: number };
  /** SQS confirmed the delete: after success, or for input that can never succeed (`rejected`). */
  'bridge:message:deleted': MessageEventBase & { outcome: 'succeeded' | 'rejected'; reason?: string };
  /** The target failed; the message comes back after `retryInSeconds`. */
  'bridge:message:failed': MessageEventBase & { error: string; retryInSeconds: number };
  /** Unfinished at a forced shutdown: made visible again, not deleted. */
  'bridge:message:released': MessageEventBase;
  /** The target succeeded but the delete kept failing; SQS will deliver the message again. */
  'bridge:delete:failed': MessageEventBase & { error: string };
  'bridge:visibility:extended': { messageId: string; visibilityTimeoutSeconds: number };
  'bridge:visibility:failed': { messageId: string; error: string };
  /** A stage did not finish within its bound; it was abandoned and recovered (see the top of bridge.ts). */
  'bridge:stage:timedout': { stage: BridgeStage; action: string; timeoutMs: number; messageIds: string[] };
  /** The watchdog replaced a stalled receive loop. */
  'bridge:loop:restarted': { reason: string; restarts: number };
  'bridge:stop:completed': BridgeSummary;
}

/** How a bridge ended. */
export interface BridgeSummary {
  /** `stopped`: stop() was called; `drained`: `once` found the queue empty. */
  reason: StopReason;
  /** Messages whose work had not finished by the shutdown timeout (left undeleted). */
  unfinished: number;
  counts: BridgeCounts;
}
