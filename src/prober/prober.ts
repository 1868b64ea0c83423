/**
 * The prober: one observer's active HTTP/TCP checks of many targets, ELB-speed detection without
 * an ELB. Its loop is a pure machine (machine.ts: its named states, how they move, and the three
 * pure parts that judge — the schedule, the threshold and the observer's self-check) inside a thin
 * shell (shell.ts) that owns the I/O and one seam for time and chance (clock.ts).
 *
 *   running ──stop()──▶ stopping ──(checks and sends in flight settled, or the stop bound)──▶ stopped
 *
 * Targets are dynamic: {@link Prober.setTargets}, or a `discover` callback polled every
 * `discoverEveryMs`. The sink is pluggable: the healer in-process ({@link healerSink}) or an SNS
 * topic, published like a CloudWatch alarm ({@link snsSink}).
 */
import type { TypedEvents } from '../events.js';
import { proberOptionsSchema, type ProberOptions, type ProberOptionsInput, type ProbeTarget } from './options.js';
import { unreachableGroups } from './reach.js';
import type { SelfCheckState } from './self-check.js';
import { ProberShell, type ProberDeps } from './shell.js';
import type { LastCheck, ProberEvents, ProberMode, ProberStats } from './types.js';

export type { CheckEvent, CheckResult, CheckTarget, Heartbeat, LastCheck, ProberEvents, ProberMode, ProberStats, ProbeSink } from './types.js';
export type { ProberClock } from './clock.js';
export { selfCheckOptionsOf } from './state.js';
export { runDefaultCheck, type ProberDeps } from './shell.js';

/** A running prober. */
export interface Prober {
  readonly options: ProberOptions;
  readonly events: TypedEvents<ProberEvents>;
  /** running → stopping (after stop()) → stopped. */
  mode(): ProberMode;
  /** Replaces the targets; targets kept (same id, host and port) keep their state and schedule. */
  setTargets(targets: readonly ProbeTarget[]): void;
  targets(): ProbeTarget[];
  /** The last check of an instance, if any. */
  lastCheck(instanceId: string): LastCheck | undefined;
  /** The state the prober holds for an instance. */
  state(instanceId: string): 'healthy' | 'unhealthy' | undefined;
  /** The observer's own condition. */
  selfCheck(): SelfCheckState;
  /** The groups none of whose instances ever passed its check, since when (epoch ms). */
  unreachable(): Array<{ group: string; sinceMs: number }>;
  stats(): ProberStats;
  resetStats(): void;
  /**
   * Stops scheduling, aborts sends, waits for checks in flight (each ends by its timeout). Settles
   * at most `timeoutMs` after it was called, even when a check or a sink never does.
   */
  stop(): Promise<void>;
  /** Settles when the prober has stopped. */
  readonly promise: Promise<void>;
}

/** Starts probing. Options are validated here (zod's message names the option). */
export function startProber(input: ProberOptionsInput, deps: ProberDeps): Prober {
  const options = proberOptionsSchema.parse(input);
  const shell = new ProberShell(options, deps);
  return {
    options,
    events: shell.events,
    mode: () => shell.state.mode.name,
    setTargets: (targets) => shell.setTargets(targets),
    targets: () => [...shell.state.byKey.values()].map((r) => r.target),
    lastCheck: (instanceId) => shell.state.byInstance.get(instanceId)?.last,
    state: (instanceId) => shell.state.byInstance.get(instanceId)?.threshold.verdict,
    selfCheck: () => shell.state.self,
    unreachable: () => unreachableGroups(shell.state),
    stats: () => ({ ...shell.state.stats, targets: shell.state.byKey.size }),
    resetStats: () => shell.resetStats(),
    stop: () => shell.stop(),
    promise: shell.stopped,
  };
}
