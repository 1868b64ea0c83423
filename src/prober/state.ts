/**
 * The prober machine's vocabulary: its settings, its named states, the events it takes and the
 * effects it returns (see machine.ts for how they move), and the few helpers every stage of it
 * shares. Pure: no I/O, no clock.
 */
import type { HealthSignal } from '../signals/types.js';
import type { ProberOptions, ProbeTarget } from './options.js';
import type { DueHeap } from './schedule.js';
import { selfCheckDefaults, type SelfCheckOptions, type SelfCheckState } from './self-check.js';
import type { ThresholdState } from './threshold.js';
import type { CheckResult, CheckTarget, LastCheck, ProberEvents, ProberStats } from './types.js';

/** What does not change during a run: the validated options and what the shell was given. */
export interface MachineSettings {
  readonly options: ProberOptions;
  readonly selfCheck: SelfCheckOptions;
  /** Something that should always answer, checked once a round. */
  readonly reference?: CheckTarget;
  /** The region written into signals (and so into SNS alarm messages). */
  readonly region?: string;
  /** A heartbeat callback is set: rounds beat. */
  readonly heartbeat: boolean;
  /** A discover callback is set, called again this long after each call ended. */
  readonly discoverEveryMs?: number;
}

/** The clock's two readings, carried by every event. */
export interface Reading {
  /** Monotonic milliseconds (the schedule, the self-check). */
  nowMs: number;
  /** Milliseconds since the epoch (what is reported). */
  atMs: number;
}

/** What a check says about the observer's path to its target. */
export type PathOutcome = 'passed' | 'answered' | 'refused' | 'silent';

/** Where a group stands for this observer. */
export type GroupReach = { readonly name: 'unknown' } | { readonly name: 'reachable' } | { readonly name: 'unreachable'; readonly sinceMs: number };

/** A group this observer probes (targets discovered without a group are in none). */
export interface GroupRecord {
  readonly name: string;
  /** Its current targets. */
  targets: number;
  reach: GroupReach;
}

/** A target's record of its path: its latest outcome and its latest checks, newest in bit 0. */
export interface PathRecord {
  outcome?: PathOutcome;
  silentBits: number;
  passedBits: number;
  recovering: boolean;
}

/** The observer's named states. */
export type Mode = { readonly name: 'running' } | { readonly name: 'stopping'; readonly sinceMs: number } | { readonly name: 'stopped' };

/** Where a target is in its schedule. */
export type TargetPhase =
  | { readonly name: 'idle' }
  | { readonly name: 'queued'; readonly dueMs: number }
  | { readonly name: 'checking'; readonly latenessMs: number };

/** Where a target's verdict is on its way to the sink. */
export type Delivery = { readonly name: 'quiet' } | { readonly name: 'sending'; readonly verdict: 'healthy' | 'unhealthy'; readonly signal: HealthSignal };

export type RoundPhase = { readonly name: 'idle' } | { readonly name: 'referencing' } | { readonly name: 'beating' };

export type DiscoveryPhase = { readonly name: 'off' } | { readonly name: 'discovering' } | { readonly name: 'waiting' };

/** What the machine holds for one target. */
export interface TargetRecord {
  /** Events about this record name it by id: a target removed and added again is a new record. */
  readonly id: number;
  readonly target: ProbeTarget;
  readonly key: string;
  readonly url: string;
  readonly check: CheckTarget;
  readonly phaseMs: number;
  dueMs: number;
  membership: 'current' | 'removed';
  phase: TargetPhase;
  delivery: Delivery;
  threshold: ThresholdState;
  /** What its latest checks said of the observer's path (reach.ts). */
  readonly path: PathRecord;
  /** The heartbeat period in which it was last checked (counts `probed` once per period). */
  beat: number;
  reported: 'healthy' | 'unhealthy';
  reportedAtMs: number;
  sequence: number;
  last?: LastCheck;
}

export interface ProberState {
  readonly settings: MachineSettings;
  mode: Mode;
  /** The schedule's origin (monotonic). */
  readonly startMs: number;
  /** Every record events may still name: the current targets, and removed ones with work in flight. */
  readonly records: Map<number, TargetRecord>;
  /** The current targets. */
  readonly byKey: Map<string, TargetRecord>;
  readonly byInstance: Map<string, TargetRecord>;
  readonly due: DueHeap<TargetRecord>;
  /** Due targets waiting for a slot, oldest first. */
  readonly queue: TargetRecord[];
  nextId: number;
  /** Slots taken: checks in flight. */
  checking: number;
  /** Sends in flight. */
  sending: number;
  /** When the schedule's timer is set to fire; Infinity when it is not set. */
  scheduleAtMs: number;
  /** Current targets whose latest check went unanswered (silent). */
  failing: number;
  /** Current targets whose latest check was refused, or denied by this host. */
  refused: number;
  /** Current targets that went silent and then passed again within their latest checks: lost checks. */
  recovering: number;
  /** The groups of the current targets, and whether this observer has seen them answer. */
  readonly groups: Map<string, GroupRecord>;
  /** Heartbeat periods begun; a period counts the targets checked in it. */
  beats: number;
  /** Distinct targets checked in this heartbeat period. */
  probed: number;
  /** The worst lateness of a check or of the loop in this heartbeat period. */
  beatLatenessMs: number;
  /** Current targets whose verdict is unhealthy. */
  unhealthy: number;
  self: SelfCheckState;
  /** The worst lateness seen since the last self-check input (loop delay, late starts, late timers). */
  worstLatenessMs: number;
  referenceOk?: boolean;
  round: RoundPhase;
  roundDueMs: number;
  lastBeatMs: number;
  discovery: DiscoveryPhase;
  /** The latest discovery failed: the observer cannot see its groups (no route to the APIs, no permission). */
  discoveryFailing: boolean;
  stats: ProberStats;
  latenessSum: number;
}

/** New targets, and one number in [0, 1) per target for its phase (the shell's Math.random). */
export interface TargetsInput {
  targets: readonly ProbeTarget[];
  chance: readonly number[];
}

/** What happens to the machine. */
export type ProberEvent = Reading &
  (
    | ({ type: 'targets:set' } & TargetsInput)
    | { type: 'schedule:due' }
    /** `loopLateMs`: how late the event loop ran since the last reading (the shell's loop watch). */
    | { type: 'check:done'; id: number; result: CheckResult; ms: number; loopLateMs: number }
    | { type: 'send:done'; id: number; ms: number }
    | { type: 'send:failed'; id: number; error: string }
    | { type: 'round:due'; loopLateMs: number }
    | { type: 'reference:done'; ok: boolean; loopLateMs: number }
    | { type: 'heartbeat:done'; error?: string }
    | { type: 'discovery:due' }
    | ({ type: 'discovery:done' } & TargetsInput)
    | { type: 'discovery:failed'; error: string }
    | { type: 'stats:reset' }
    | { type: 'stop' }
    | { type: 'stop:due' }
  );

/** One kind of event. */
export type EventOf<T extends ProberEvent['type']> = Extract<ProberEvent, { type: T }>;

/** The machine's timers; setting one replaces it. Times are monotonic. */
export type TimerName = 'schedule' | 'round' | 'discovery' | 'stop';

/** An event to emit; built by {@link emit}, which keeps the name and the payload together. */
export interface EmitEffect<K extends keyof ProberEvents = keyof ProberEvents> {
  type: 'emit';
  event: K;
  payload: ProberEvents[K];
}

/** What the shell must do. */
export type Effect =
  | { type: 'timer:set'; timer: TimerName; atMs: number }
  | { type: 'timer:clear'; timer: TimerName }
  | { type: 'check'; id: number; check: CheckTarget }
  | { type: 'reference'; check: CheckTarget }
  | { type: 'send'; id: number; signal: HealthSignal }
  | { type: 'heartbeat'; beat: ProberEvents['prober:heartbeat'] }
  | { type: 'discover' }
  | EmitEffect
  | { type: 'log'; level: 'info' | 'warn'; fields: Record<string, unknown>; message: string }
  /** Stop watching the loop; abort the sends and the discovery in flight. */
  | { type: 'halt' }
  /** Nothing is in flight any more (or the stop bound passed): release the sockets, settle. */
  | { type: 'finish' };

export interface Step {
  state: ProberState;
  effects: Effect[];
}

export const idle: TargetPhase = { name: 'idle' };
export const quiet: Delivery = { name: 'quiet' };
export const roundIdle: RoundPhase = { name: 'idle' };

export function emptyStats(): ProberStats {
  return {
    targets: 0,
    checks: 0,
    failures: 0,
    inconclusive: 0,
    skipped: 0,
    maxLatenessMs: 0,
    meanLatenessMs: 0,
    lateOver100Ms: 0,
    signalsSent: 0,
    signalsFailed: 0,
    signalsWithheld: 0,
  };
}

/** The self-check settings of validated options. */
export function selfCheckOptionsOf(o: ProberOptions): SelfCheckOptions {
  const d = selfCheckDefaults(o);
  return {
    maxLatenessMs: o.maxLatenessMs ?? d.maxLatenessMs,
    cutOffMinTargets: o.cutOffMinTargets,
    lossyMinTargets: o.lossyMinTargets,
    recoverAfterMs: o.recoverAfterMs ?? d.recoverAfterMs,
  };
}

/** The machine's settings from validated options and what the shell has. */
export function machineSettings(options: ProberOptions, has: { region?: string; heartbeat: boolean; discoverEveryMs?: number }): MachineSettings {
  const r = options.reference;
  return {
    options,
    selfCheck: selfCheckOptionsOf(options),
    ...(r ? { reference: r.check === 'http' ? { kind: 'http', host: r.host, port: r.port, path: r.path, expectedStatus: 200 } : { kind: 'tcp', host: r.host, port: r.port } } : {}),
    ...(has.region ? { region: has.region } : {}),
    heartbeat: has.heartbeat,
    ...(has.discoverEveryMs !== undefined ? { discoverEveryMs: has.discoverEveryMs } : {}),
  };
}

/** An event to emit, its name and payload kept together. */
export function emit<K extends keyof ProberEvents>(out: Effect[], event: K, payload: ProberEvents[K]): void {
  out.push({ type: 'emit', event, payload });
}

/** A removed record with nothing in flight can no longer be named by an event. */
export function forgetIfDone(s: ProberState, rec: TargetRecord): void {
  if (rec.membership === 'removed' && rec.phase.name !== 'checking' && rec.delivery.name === 'quiet') s.records.delete(rec.id);
}
