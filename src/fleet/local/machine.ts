/**
 * The local group as a pure machine: `step(state, event, at) -> { state, effects }`. The shell
 * (local-group.ts) owns the processes, the ports and the timers; it turns what they do into
 * events, feeds them here, and carries out the effects that come back. Nothing in this file
 * reads a clock, draws a random number or touches a process: the time and the one chance draw
 * (a launch backoff's jitter) arrive in `at`.
 *
 * The group runs, then stops:
 *
 *   running ──stop / killAll──▶ stopping ──every instance Terminated──▶ stopped
 *
 * Each instance, a process on this machine, moves through the states Auto Scaling names:
 *
 *   Pending ──portAnswered──▶ InService ──marked Unhealthy / scaled in / stop──▶ Terminating ──exited──▶ Terminated
 *      │                         │  exited: noticed after exitNoticeDelayMs,      (shuttingDown for shutdownDelayMs,
 *      │                         │  marked Unhealthy by the group's own check      then stopping: SIGTERM, and SIGKILL
 *      │                         ▼                                                 after stopTimeoutMs)
 *      └──exited, launchFailed, or no answer within startTimeoutMs (a launch failure)──▶ Terminating or Terminated
 *
 * A Pending instance first asks the shell for a port (`allocate` → `portAllocated`), then to
 * spawn (`spawn` → `spawned` or `launchFailed`), then to watch the port (`watchPort` →
 * `portAnswered`). An instance whose process is already gone, or never started, skips
 * Terminating. After every change the group reconciles towards `desired`:
 *
 * - Unhealthy instances are replaced: `terminate-first` (Auto Scaling's default maintenance
 *   policy) terminates, and launches once the old process is gone (a Terminating instance holds
 *   its slot); `launch-first` launches the replacement and terminates the old one once the new
 *   one is InService.
 * - Launch failures back off exponentially with jitter (100 ms doubling to 5 s), so a broken
 *   `command` cannot spin; an instance reaching InService resets the backoff.
 * - Zones, when the group has them, are balanced as Auto Scaling balances them: a launch goes to
 *   the zone with the fewest instances that serve (Pending or InService, Healthy), a scale-in takes
 *   the newest instance of the zone with the most.
 * - Of the Terminated, the 50 most recent are kept (and any a live replacement points at).
 */
import { backoffMs } from '../../backoff.js';
import type { HealthStatus } from '../port.js';
import type { LocalGroupEvents, ProcessExit } from './group-events.js';
import type { LocalGroupOptions } from './options.js';

/** Where every instance listens: loopback only, never reachable from the network. */
export const loopbackHost = '127.0.0.1';

/** How many Terminated instances the group remembers. */
export const keepTerminated = 50;

/** Launch backoff: the first failure waits up to this, doubling after each failure… */
export const launchBackoffBaseMs = 100;
/** …up to this. */
export const launchBackoffMaxMs = 5_000;

/** The settings the machine reads; the rest of the options belong to the shell. */
export type MachineConfig = Pick<
  LocalGroupOptions,
  'replacement' | 'startTimeoutMs' | 'stopTimeoutMs' | 'shutdownDelayMs' | 'exitNoticeDelayMs' | 'healthCheckGracePeriodSeconds' | 'idPrefix' | 'zones'
>;

/** The group's mode. */
export type GroupMode = 'running' | 'stopping' | 'stopped';

interface Common {
  readonly instanceId: string;
  readonly launchedAtMs: number;
  readonly health: HealthStatus;
  readonly zone?: string;
  /** The Unhealthy instance this one was launched to replace. */
  readonly replaces?: string;
}

/** Launched: a port being found (no `port`), a process being started (no `pid`), or a port not answering yet. */
export interface PendingInstance extends Common {
  readonly state: 'Pending';
  readonly port?: number;
  readonly pid?: number;
}

/** Serving. `exit` is set once its process exited and the group has not noticed yet. */
export interface InServiceInstance extends Common {
  readonly state: 'InService';
  readonly port: number;
  readonly pid: number;
  readonly inServiceAtMs: number;
  readonly exit?: ProcessExit;
}

/** Its process still runs: `shuttingDown` (EC2's shutdown, for shutdownDelayMs), then `stopping` (SIGTERM sent). */
export interface TerminatingInstance extends Common {
  readonly state: 'Terminating';
  readonly stage: 'shuttingDown' | 'stopping';
  readonly port: number;
  readonly pid: number;
  readonly inServiceAtMs?: number;
  readonly reason: string;
}

/** Gone. `exit` is how its process ended (absent when it never ran). */
export interface TerminatedInstance extends Common {
  readonly state: 'Terminated';
  readonly port?: number;
  readonly pid?: number;
  readonly inServiceAtMs?: number;
  readonly reason: string;
  readonly terminatedAtMs: number;
  readonly exit?: ProcessExit;
}

export type Instance = PendingInstance | InServiceInstance | TerminatingInstance | TerminatedInstance;

/** An instance not yet Terminated. */
export type LiveInstance = Exclude<Instance, TerminatedInstance>;

export interface GroupState {
  readonly config: MachineConfig;
  readonly mode: GroupMode;
  readonly desired: number;
  /** The number in the next instance id. */
  readonly nextId: number;
  /** Launch failures since the last instance reached InService. */
  readonly launchFailures: number;
  /** No launch before this (the backoff after a launch failure). */
  readonly launchBlockedUntilMs: number;
  /** A `launchRetry` timer is armed. */
  readonly retryArmed: boolean;
  /** In launch order. */
  readonly instances: readonly Instance[];
}

/** A timer the shell arms and reports back as a `timer` event. */
export type Timer =
  | { readonly kind: 'launchRetry' }
  | { readonly kind: 'startTimeout' | 'exitNotice' | 'shutdown' | 'kill'; readonly instanceId: string };

/** One key per timer, for the shell's table of armed timers. */
export function timerKey(timer: Timer): string {
  return timer.kind === 'launchRetry' ? timer.kind : `${timer.kind}:${timer.instanceId}`;
}

/** What happened, as the shell reports it. */
export type GroupEvent =
  /** `start()`: bring the group to its desired capacity. */
  | { readonly type: 'reconcile' }
  | { readonly type: 'setDesired'; readonly desired: number }
  /** `setInstanceHealth` (the shell has checked that the instance is known and not Terminated). */
  | { readonly type: 'setHealth'; readonly instanceId: string; readonly status: HealthStatus; readonly respectGracePeriod: boolean }
  | { readonly type: 'portAllocated'; readonly instanceId: string; readonly port: number }
  | { readonly type: 'spawned'; readonly instanceId: string; readonly pid: number }
  /** The process could not be started, or failed after it started. */
  | { readonly type: 'launchFailed'; readonly instanceId: string; readonly error: string }
  | { readonly type: 'portAnswered'; readonly instanceId: string }
  | { readonly type: 'exited'; readonly instanceId: string; readonly exit: ProcessExit }
  | { readonly type: 'timer'; readonly timer: Timer }
  /** `stop()`: end every instance (no shutdown delay), then report `stopped`. */
  | { readonly type: 'stop' }
  /** `killNow()`: SIGKILL every process at once. */
  | { readonly type: 'killAll' };

type NoticePayloads = Omit<LocalGroupEvents, 'group:reaper:started' | 'group:instance:terminated'> & {
  /** The shell adds `lastOutput`, which only it holds. */
  'group:instance:terminated': Omit<LocalGroupEvents['group:instance:terminated'], 'lastOutput'>;
};

/** A typed event for the shell to emit. */
export type Notice = { [K in keyof NoticePayloads]: { readonly type: 'emit'; readonly name: K; readonly payload: NoticePayloads[K] } }[keyof NoticePayloads];

/** What the shell must do. */
export type Effect =
  /** Find a free loopback port, wait for a spawn turn, report `portAllocated` (or `launchFailed`). */
  | { readonly type: 'allocate'; readonly instanceId: string }
  /** Start the process on `port` in its own process group, report `spawned` or `launchFailed`. */
  | { readonly type: 'spawn'; readonly instanceId: string; readonly port: number }
  /** Try the port until it answers (`portAnswered`), while the instance is Pending. */
  | { readonly type: 'watchPort'; readonly instanceId: string; readonly port: number }
  /** SIGCONT (a frozen process cannot act on SIGTERM), SIGTERM, close its stdin. */
  | { readonly type: 'terminateProcess'; readonly instanceId: string; readonly pid: number }
  /** SIGKILL the process group. */
  | { readonly type: 'kill'; readonly pid: number }
  /** The leader exited: SIGKILL whatever it left in its process group, and unlist it from the reaper. */
  | { readonly type: 'reap'; readonly pid: number }
  | { readonly type: 'schedule'; readonly timer: Timer; readonly afterMs: number }
  | { readonly type: 'cancel'; readonly timer: Timer }
  | Notice
  | { readonly type: 'warn'; readonly instanceId: string; readonly error: string }
  /** The group forgot a Terminated instance: drop what the shell holds for it. */
  | { readonly type: 'forget'; readonly instanceId: string }
  /** Every instance is Terminated after a stop. */
  | { readonly type: 'stopped' };

/** The time, and one draw in [0, 1) for whatever chance this step needs. */
export interface Moment {
  readonly nowMs: number;
  readonly random: number;
}

export interface Step {
  readonly state: GroupState;
  readonly effects: readonly Effect[];
}

/** A group with no instance yet; `reconcile` launches them. */
export function initialState(config: MachineConfig, desired: number): GroupState {
  return { config, mode: 'running', desired, nextId: 1, launchFailures: 0, launchBlockedUntilMs: 0, retryArmed: false, instances: [] };
}

/** The pid of the instance's process while it runs. */
export function runningPid(instance: Instance): number | undefined {
  if (instance.state === 'Terminated') return undefined;
  if (instance.state === 'InService' && instance.exit) return undefined;
  return instance.pid;
}

export const isLive = (instance: Instance): instance is LiveInstance => instance.state !== 'Terminated';

/** Whether the group runs `desired` instances, all InService and Healthy, and nothing else. */
export function isSettled(state: GroupState): boolean {
  const live = state.instances.filter(isLive);
  return live.length === state.desired && live.every((i) => i.state === 'InService' && i.health === 'Healthy');
}

/** The step's working copy: the state's fields, a copied instance list, and the effects so far. */
interface Draft {
  readonly config: MachineConfig;
  readonly at: Moment;
  mode: GroupMode;
  desired: number;
  nextId: number;
  launchFailures: number;
  launchBlockedUntilMs: number;
  retryArmed: boolean;
  instances: Instance[];
  effects: Effect[];
  /** Something changed that the group must reconcile after, once, at the end of the step. */
  dirty: boolean;
}

/** The transition function. Never throws; an event about an instance in another state is ignored. */
export function step(state: GroupState, event: GroupEvent, at: Moment): Step {
  const d: Draft = { ...state, at, instances: [...state.instances], effects: [], dirty: false };
  handle(d, event);
  if (d.dirty) reconcile(d);
  const { at: _at, effects, dirty: _dirty, ...next } = d;
  return { state: next, effects };
}

function handle(d: Draft, event: GroupEvent): void {
  switch (event.type) {
    case 'reconcile':
      d.dirty = true;
      return;
    case 'setDesired':
      d.desired = event.desired;
      d.dirty = true;
      return;
    case 'setHealth':
      return setHealth(d, event.instanceId, event.status, event.respectGracePeriod);
    case 'portAllocated':
      return portAllocated(d, event.instanceId, event.port);
    case 'spawned':
      return spawned(d, event.instanceId, event.pid);
    case 'launchFailed':
      return launchFailed(d, event.instanceId, event.error);
    case 'portAnswered':
      return portAnswered(d, event.instanceId);
    case 'exited':
      return exited(d, event.instanceId, event.exit);
    case 'timer':
      return timerFired(d, event.timer);
    case 'stop':
      return stop(d);
    case 'killAll':
      return killAll(d);
  }
}

// ── helpers over the draft ───────────────────────────────────────────────────

function find(d: Draft, instanceId: string): Instance | undefined {
  return d.instances.find((i) => i.instanceId === instanceId);
}

function put(d: Draft, next: Instance): void {
  d.instances[d.instances.findIndex((i) => i.instanceId === next.instanceId)] = next;
}

function emit<K extends Notice['name']>(d: Draft, name: K, payload: Extract<Notice, { name: K }>['payload']): void {
  d.effects.push({ type: 'emit', name, payload } as Notice);
}

/** The fields every state carries, to rebuild an instance in another state. */
function common(i: Instance): Common {
  return {
    instanceId: i.instanceId,
    launchedAtMs: i.launchedAtMs,
    health: i.health,
    ...(i.zone !== undefined ? { zone: i.zone } : {}),
    ...(i.replaces !== undefined ? { replaces: i.replaces } : {}),
  };
}

/** The timers armed for the instance in its state, cancelled when it leaves that state. */
function disarm(d: Draft, i: LiveInstance): void {
  const timer = armedTimer(d, i);
  if (timer) d.effects.push({ type: 'cancel', timer });
}

function armedTimer(d: Draft, i: LiveInstance): Timer | undefined {
  const { instanceId } = i;
  if (i.state === 'Pending') return i.pid !== undefined ? { kind: 'startTimeout', instanceId } : undefined;
  if (i.state === 'InService') return i.exit && d.config.exitNoticeDelayMs > 0 ? { kind: 'exitNotice', instanceId } : undefined;
  return { kind: i.stage === 'shuttingDown' ? 'shutdown' : 'kill', instanceId };
}

// ── events ───────────────────────────────────────────────────────────────────

function setHealth(d: Draft, instanceId: string, status: HealthStatus, respectGracePeriod: boolean): void {
  const i = find(d, instanceId);
  if (!i || i.state === 'Terminated') return;
  const graceEndsMs = i.launchedAtMs + d.config.healthCheckGracePeriodSeconds * 1000;
  if (respectGracePeriod && d.at.nowMs < graceEndsMs) {
    emit(d, 'group:instance:mark-ignored', { instanceId, reason: 'in grace period', atMs: d.at.nowMs });
    return;
  }
  if (i.health === status || i.state === 'Terminating') return;
  put(d, { ...i, health: status });
  emit(d, 'group:instance:marked', { instanceId, status, by: 'fleet', atMs: d.at.nowMs });
  d.dirty = true;
}

function portAllocated(d: Draft, instanceId: string, port: number): void {
  const i = find(d, instanceId);
  // Terminated meanwhile (the group stopped, or scaled in): it is never spawned.
  if (i?.state !== 'Pending' || i.port !== undefined) return;
  put(d, { ...i, port });
  d.effects.push({ type: 'spawn', instanceId, port });
}

function spawned(d: Draft, instanceId: string, pid: number): void {
  const i = find(d, instanceId);
  if (i?.state !== 'Pending' || i.port === undefined || i.pid !== undefined) {
    // A process nobody waits for any more: end it at once.
    d.effects.push({ type: 'reap', pid });
    return;
  }
  put(d, { ...i, pid });
  emit(d, 'group:instance:launched', { instanceId, pid, port: i.port, ...tail(i), atMs: d.at.nowMs });
  d.effects.push({ type: 'watchPort', instanceId, port: i.port }, { type: 'schedule', timer: { kind: 'startTimeout', instanceId }, afterMs: d.config.startTimeoutMs });
}

/** `replaces` and `availabilityZone`, where the instance has them, for the launched and in-service events. */
function tail(i: Instance): { replaces?: string; availabilityZone?: string } {
  return { ...(i.replaces !== undefined ? { replaces: i.replaces } : {}), ...(i.zone !== undefined ? { availabilityZone: i.zone } : {}) };
}

function portAnswered(d: Draft, instanceId: string): void {
  const i = find(d, instanceId);
  if (i?.state !== 'Pending' || i.pid === undefined || i.port === undefined) return;
  disarm(d, i);
  put(d, { ...common(i), state: 'InService', port: i.port, pid: i.pid, inServiceAtMs: d.at.nowMs });
  d.launchFailures = 0;
  emit(d, 'group:instance:in-service', { instanceId, pid: i.pid, port: i.port, ...tail(i), atMs: d.at.nowMs });
  d.dirty = true;
}

function exited(d: Draft, instanceId: string, exit: ProcessExit): void {
  const i = find(d, instanceId);
  if (!i || i.state === 'Terminated' || (i.state === 'InService' && i.exit)) return;
  if (i.pid !== undefined) d.effects.push({ type: 'reap', pid: i.pid });
  if (i.state === 'Terminating') return finish(d, i, i.reason, exit);
  if (d.mode !== 'running') return finish(d, i, 'group stopped', exit);
  emit(d, 'group:instance:exited', { instanceId, code: exit.code, signal: exit.signal, atMs: d.at.nowMs });
  if (i.state === 'Pending') {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return launchFailed(d, instanceId, `${how} before it listened on ${loopbackHost}:${i.port}`, exit);
  }
  const noticed: InServiceInstance = { ...i, exit };
  put(d, noticed);
  if (d.config.exitNoticeDelayMs > 0) {
    d.effects.push({ type: 'schedule', timer: { kind: 'exitNotice', instanceId }, afterMs: d.config.exitNoticeDelayMs });
  } else notice(d, instanceId);
}

/** The group's own check noticed that an InService instance's process is gone: it marks it Unhealthy. */
function notice(d: Draft, instanceId: string): void {
  const i = find(d, instanceId);
  if (d.mode !== 'running' || i?.state !== 'InService') return;
  if (i.health !== 'Unhealthy') {
    put(d, { ...i, health: 'Unhealthy' });
    emit(d, 'group:instance:marked', { instanceId, status: 'Unhealthy', by: 'exit', atMs: d.at.nowMs });
  }
  d.dirty = true;
}

function timerFired(d: Draft, timer: Timer): void {
  if (timer.kind === 'launchRetry') {
    d.retryArmed = false;
    d.dirty = true;
    return;
  }
  const i = find(d, timer.instanceId);
  if (timer.kind === 'exitNotice') return notice(d, timer.instanceId);
  if (timer.kind === 'startTimeout') {
    if (i?.state === 'Pending' && i.pid !== undefined) {
      launchFailed(d, i.instanceId, `did not listen on ${loopbackHost}:${i.port} within ${d.config.startTimeoutMs} ms`);
    }
    return;
  }
  if (i?.state !== 'Terminating') return;
  if (timer.kind === 'shutdown' && i.stage === 'shuttingDown') return stopProcess(d, i);
  if (timer.kind === 'kill' && i.stage === 'stopping') d.effects.push({ type: 'kill', pid: i.pid });
}

function launchFailed(d: Draft, instanceId: string, error: string, exit?: ProcessExit): void {
  const i = find(d, instanceId);
  if (!i || i.state === 'Terminating' || i.state === 'Terminated') return;
  d.launchFailures++;
  // Free the instance it was to replace, so that the next launch replaces it instead.
  const { replaces: _freed, ...rest } = i;
  put(d, rest);
  d.launchBlockedUntilMs =
    d.at.nowMs + backoffMs({ attempt: d.launchFailures, baseMs: launchBackoffBaseMs, maxMs: launchBackoffMaxMs, random: () => d.at.random });
  emit(d, 'group:launch:failed', { instanceId, error, atMs: d.at.nowMs });
  d.effects.push({ type: 'warn', instanceId, error });
  terminate(d, instanceId, 'launch failed', exit);
}

function stop(d: Draft): void {
  if (d.mode === 'running') d.mode = 'stopping';
  if (d.retryArmed) {
    d.effects.push({ type: 'cancel', timer: { kind: 'launchRetry' } });
    d.retryArmed = false;
  }
  for (const i of [...d.instances]) {
    if (i.state === 'Terminating' && i.stage === 'shuttingDown') {
      disarm(d, i);
      stopProcess(d, i);
    } else if (i.state !== 'Terminating') terminate(d, i.instanceId, 'group stopped');
  }
  settleStop(d);
}

function killAll(d: Draft): void {
  if (d.mode === 'running') d.mode = 'stopping';
  if (d.retryArmed) {
    d.effects.push({ type: 'cancel', timer: { kind: 'launchRetry' } });
    d.retryArmed = false;
  }
  for (const i of d.instances) {
    const pid = runningPid(i);
    if (pid !== undefined) d.effects.push({ type: 'kill', pid });
  }
  settleStop(d);
}

/** After a stop or a kill, once nothing is live: stopped. */
function settleStop(d: Draft): void {
  if (d.mode !== 'stopping' || d.instances.some(isLive)) return;
  d.mode = 'stopped';
  d.effects.push({ type: 'stopped' });
}

// ── termination ──────────────────────────────────────────────────────────────

/**
 * Begins terminating the instance: at once when its process is gone or never started, after
 * shutdownDelayMs while the group runs, otherwise now (SIGTERM, SIGKILL after stopTimeoutMs).
 */
function terminate(d: Draft, instanceId: string, reason: string, exit?: ProcessExit): void {
  const i = find(d, instanceId);
  if (!i || i.state === 'Terminating' || i.state === 'Terminated') return;
  emit(d, 'group:instance:terminating', { instanceId, reason, atMs: d.at.nowMs });
  const pid = exit ? undefined : runningPid(i);
  if (pid === undefined || i.port === undefined) return finish(d, i, reason, exit ?? (i.state === 'InService' ? i.exit : undefined));
  disarm(d, i);
  const inService = i.state === 'InService' ? { inServiceAtMs: i.inServiceAtMs } : {};
  const terminating: TerminatingInstance = { ...common(i), state: 'Terminating', stage: 'shuttingDown', port: i.port, pid, ...inService, reason };
  if (d.config.shutdownDelayMs > 0 && d.mode === 'running') {
    put(d, terminating);
    d.effects.push({ type: 'schedule', timer: { kind: 'shutdown', instanceId }, afterMs: d.config.shutdownDelayMs });
    return;
  }
  stopProcess(d, terminating);
}

function stopProcess(d: Draft, i: TerminatingInstance): void {
  put(d, { ...i, stage: 'stopping' });
  d.effects.push(
    { type: 'terminateProcess', instanceId: i.instanceId, pid: i.pid },
    { type: 'schedule', timer: { kind: 'kill', instanceId: i.instanceId }, afterMs: d.config.stopTimeoutMs },
  );
}

function finish(d: Draft, i: LiveInstance, reason: string, exit: ProcessExit | undefined): void {
  disarm(d, i);
  const inServiceAtMs = i.state === 'InService' || i.state === 'Terminating' ? i.inServiceAtMs : undefined;
  put(d, {
    ...common(i),
    state: 'Terminated',
    ...(i.port !== undefined ? { port: i.port } : {}),
    ...(i.pid !== undefined ? { pid: i.pid } : {}),
    ...(inServiceAtMs !== undefined ? { inServiceAtMs } : {}),
    reason,
    terminatedAtMs: d.at.nowMs,
    ...(exit ? { exit } : {}),
  });
  emit(d, 'group:instance:terminated', { instanceId: i.instanceId, code: exit?.code ?? null, signal: exit?.signal ?? null, atMs: d.at.nowMs });
  prune(d);
  d.dirty = true;
  settleStop(d);
}

function prune(d: Draft): void {
  const terminated = d.instances.filter((i) => i.state === 'Terminated');
  for (const old of terminated.slice(0, Math.max(0, terminated.length - keepTerminated))) {
    // A replacement may still point at it: keep `replaces` meaningful by keeping referenced ones.
    if (d.instances.some((r) => r.replaces === old.instanceId && isLive(r))) continue;
    d.instances = d.instances.filter((i) => i !== old);
    d.effects.push({ type: 'forget', instanceId: old.instanceId });
  }
}

// ── reconciling ──────────────────────────────────────────────────────────────

/** Brings the group towards its desired state; idempotent, run at the end of every step that changed something. */
function reconcile(d: Draft): void {
  if (d.mode !== 'running') return;
  replaceUnhealthy(d);
  const live = d.instances.filter(isLive);
  // terminate-first: Terminating instances still hold their slot, so the launch waits until they are gone.
  const occupied =
    d.config.replacement === 'terminate-first' ? live.length : live.filter((i) => i.health === 'Healthy' && i.state !== 'Terminating').length;
  if (occupied > d.desired) {
    const serving = live.filter((i) => i.state !== 'Terminating' && i.health === 'Healthy');
    for (const i of scaleInOrder(serving, occupied - d.desired, d.config.zones)) terminate(d, i.instanceId, 'scaled in');
    return;
  }
  const missing = d.desired - occupied;
  if (missing <= 0) return;
  const waitMs = d.launchBlockedUntilMs - d.at.nowMs;
  if (waitMs > 0) {
    if (!d.retryArmed) {
      d.retryArmed = true;
      d.effects.push({ type: 'schedule', timer: { kind: 'launchRetry' }, afterMs: waitMs });
    }
    return;
  }
  for (let k = 0; k < missing; k++) launch(d, nextToReplace(d));
}

function replaceUnhealthy(d: Draft): void {
  const unhealthy = d.instances.filter((i) => isLive(i) && i.health === 'Unhealthy' && i.state !== 'Terminating');
  if (d.config.replacement === 'terminate-first') {
    for (const i of unhealthy) terminate(d, i.instanceId, 'marked Unhealthy');
    return;
  }
  const serving = d.instances.filter((i) => isLive(i) && i.health === 'Healthy' && i.state !== 'Terminating').length;
  for (const i of unhealthy) {
    const replacement = d.instances.find((r) => r.replaces === i.instanceId && isLive(r));
    if (replacement?.state === 'InService' || (!replacement && serving >= d.desired)) {
      terminate(d, i.instanceId, 'marked Unhealthy, replacement InService');
    }
  }
}

/** The Unhealthy (or already terminated-for-health) instance a new launch replaces, if any. */
function nextToReplace(d: Draft): string | undefined {
  const taken = new Set(d.instances.flatMap((i) => (i.replaces !== undefined ? [i.replaces] : [])));
  return d.instances.find((i) => i.health === 'Unhealthy' && !taken.has(i.instanceId))?.instanceId;
}

function launch(d: Draft, replaces: string | undefined): void {
  // With the default prefix: `i-10ca1` and 12 digits, 17 hex digits in all — an EC2-shaped id, which
  // every parser of autoheal checks ("10ca1" reads "local").
  const instanceId = `${d.config.idPrefix}${String(d.nextId++).padStart(12, '0')}`;
  const zone = launchZone(d.instances, d.config.zones);
  d.instances.push({
    state: 'Pending',
    instanceId,
    launchedAtMs: d.at.nowMs,
    health: 'Healthy',
    ...(zone !== undefined ? { zone } : {}),
    ...(replaces !== undefined ? { replaces } : {}),
  });
  d.effects.push({ type: 'allocate', instanceId });
}

/** Instances that serve, or will: Pending or InService, and Healthy. */
const serves = (i: Instance): boolean => (i.state === 'Pending' || i.state === 'InService') && i.health === 'Healthy';

/**
 * The zone a launch goes to: the one with the fewest instances that serve, the first listed on a
 * tie. Auto Scaling "maintains an equal number of instances across enabled Availability Zones"
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html).
 */
export function launchZone(instances: readonly Instance[], zones: readonly string[]): string | undefined {
  let best: { zone: string; count: number } | undefined;
  for (const zone of zones) {
    const count = instances.filter((i) => i.zone === zone && serves(i)).length;
    if (!best || count < best.count) best = { zone, count };
  }
  return best?.zone;
}

/**
 * The `count` instances a scale-in terminates: the newest first; with zones, each from the zone
 * that has the most of `candidates` left (the first listed on a tie), as Auto Scaling keeps zones
 * balanced before it applies its termination policy
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html).
 */
export function scaleInOrder(candidates: readonly Instance[], count: number, zones: readonly string[]): Instance[] {
  // Stable: among instances launched in the same millisecond, the earlier launch goes first.
  const newest = [...candidates].sort((a, b) => b.launchedAtMs - a.launchedAtMs);
  if (zones.length === 0) return newest.slice(0, count);
  const chosen: Instance[] = [];
  while (chosen.length < count && newest.length > 0) {
    const size = (zone: string): number => newest.filter((i) => i.zone === zone).length;
    const zone = zones.reduce((most, z) => (size(z) > size(most) ? z : most));
    const index = Math.max(0, newest.findIndex((i) => i.zone === zone));
    chosen.push(...newest.splice(index, 1));
  }
  return chosen;
}
