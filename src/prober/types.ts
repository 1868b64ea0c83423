/**
 * The prober's public vocabulary: what a check returns, what it emits, what it counts. Its own
 * room, importing nothing with I/O, so that the pure machine (machine.ts) and the shell around it
 * (shell.ts, prober.ts) share one definition of each.
 */
import type { HealthSignal } from '../signals/types.js';
import type { DegradedReason } from './self-check.js';

/** The outcome of one check. */
export interface CheckResult {
  ok: boolean;
  /** Why it failed: `timeout after 500 ms`, `ECONNREFUSED`, `status 503`. */
  error?: string;
  /** The HTTP status, when one arrived. */
  status?: number;
}

/** A check as the prober runs it: an HTTP GET or a TCP connect. */
export type CheckTarget =
  | { kind: 'http'; host: string; port: number; path: string; expectedStatus: number }
  | { kind: 'tcp'; host: string; port: number };

/** Where the prober's signals go. It throws when the signal was not accepted; the prober sends it again later. */
export type ProbeSink = (signal: HealthSignal, options: { signal: AbortSignal }) => Promise<void>;

/** The last check of a target, for live views. */
export interface LastCheck {
  ok: boolean;
  atMs: number;
  ms: number;
  error?: string;
}

/** Payload of check events. `atMs` is when the check ended, in milliseconds since the epoch. */
export interface CheckEvent {
  instanceId: string;
  target: string;
  ok: boolean;
  error?: string;
  /** How long the check took. */
  ms: number;
  /** How long after its due time it started. */
  latenessMs: number;
  consecutiveFailures: number;
  /** The observer could not vouch for this failure (it ran late itself): it counted neither way. */
  inconclusive?: boolean;
  atMs: number;
}

/** One beat of an observer: it is alive, and whether it trusts itself right now. */
export interface Heartbeat {
  observer: string;
  degraded: boolean;
  reasons: DegradedReason[];
  targets: number;
  /** Distinct targets checked since the last beat (the `ObserverTargets` metric): 0 is an observer probing nothing. */
  probed: number;
  /** Targets whose verdict is unhealthy (sent or withheld). */
  unhealthy: number;
  /** Groups this observer cannot reach: it withholds its votes about them. */
  unreachable: Array<{ group: string; sinceMs: number }>;
  /** The worst lateness of a check or of the loop since the last beat: an observer falling behind. */
  worstLatenessMs: number;
  /** Its latest discovery of the groups failed: it probes what it knew before, or nothing. */
  discoveryFailing: boolean;
  atMs: number;
}

/** Why an unhealthy verdict was not sent: the observer is degraded, or the target's group never answered it. */
export type WithholdReason = DegradedReason | 'groupUnreachable';

/** Typed events of the prober. */
export interface ProberEvents {
  'prober:check:succeeded': CheckEvent;
  'prober:check:failed': CheckEvent;
  /** A target crossed a threshold. */
  'prober:target:unhealthy': { instanceId: string; target: string; detail: string; atMs: number };
  'prober:target:healthy': { instanceId: string; target: string; detail: string; atMs: number };
  /** The sink accepted a signal (published to SNS, or handled by the healer). */
  'prober:signal:sent': { signal: HealthSignal; ms: number; atMs: number };
  'prober:signal:failed': { signal: HealthSignal; error: string; atMs: number };
  /** An unhealthy verdict not sent because the observer is degraded. */
  'prober:signal:withheld': { observer: string; instanceId: string; reasons: WithholdReason[]; atMs: number };
  'prober:observer:degraded': { observer: string; reasons: DegradedReason[]; atMs: number };
  'prober:observer:recovered': { observer: string; degradedForMs: number; atMs: number };
  'prober:heartbeat': Heartbeat;
  'prober:discovery:failed': { error: string; atMs: number };
  /** No instance of the group ever passed this observer's check, and one turned unhealthy: the observer withholds its votes about the group. */
  'prober:group:unreachable': { observer: string; group: string; targets: number; reason: string; atMs: number };
  'prober:group:reachable': { observer: string; group: string; unreachableForMs: number; atMs: number };
  'prober:targets:changed': { count: number; added: number; removed: number; atMs: number };
}

/** Counters since the start (or the last `resetStats`). */
export interface ProberStats {
  targets: number;
  checks: number;
  failures: number;
  /** Failed checks not counted because the observer ran late itself. */
  inconclusive: number;
  /** Checks not run because the previous check of the same target was still running or waiting. */
  skipped: number;
  maxLatenessMs: number;
  meanLatenessMs: number;
  /** Checks that started more than 100 ms after their due time. */
  lateOver100Ms: number;
  signalsSent: number;
  signalsFailed: number;
  signalsWithheld: number;
}

/** The prober's modes. */
export type ProberMode = 'running' | 'stopping' | 'stopped';
