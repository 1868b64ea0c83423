/**
 * The local group's machine, table-driven: each row is a state and an event, and the state and
 * effects that must follow. No process, no socket, no timer: time and chance are in `at`.
 */
import { describe, expect, it } from 'vitest';
import {
  initialState,
  isSettled,
  keepTerminated,
  launchZone,
  runningPid,
  scaleInOrder,
  step,
  timerKey,
  type Effect,
  type GroupEvent,
  type GroupState,
  type Instance,
  type MachineConfig,
} from '../../../src/fleet/local/machine.js';

const config: MachineConfig = {
  replacement: 'terminate-first',
  startTimeoutMs: 1_000,
  stopTimeoutMs: 500,
  shutdownDelayMs: 0,
  exitNoticeDelayMs: 0,
  healthCheckGracePeriodSeconds: 0,
  idPrefix: 'i-10ca1',
  zones: [],
};
const nowMs = 10_000;
/** random 0.5: a backoff of attempt 1 is 50 + 0.5 × 50 = 75 ms. */
const at = { nowMs, random: 0.5 };

const id = (n: number): string => `i-10ca1${String(n).padStart(12, '0')}`;
const base = (n: number) => ({ instanceId: id(n), launchedAtMs: 1_000 + n, health: 'Healthy' as const });
const pending = (n: number, extra: Partial<Extract<Instance, { state: 'Pending' }>> = {}): Instance => ({ ...base(n), state: 'Pending', ...extra });
const spawnedPending = (n: number, extra: Partial<Extract<Instance, { state: 'Pending' }>> = {}): Instance =>
  pending(n, { port: 4_000 + n, pid: 100 + n, ...extra });
const inService = (n: number, extra: Partial<Extract<Instance, { state: 'InService' }>> = {}): Instance => ({
  ...base(n),
  state: 'InService',
  port: 4_000 + n,
  pid: 100 + n,
  inServiceAtMs: 2_000,
  ...extra,
});
const terminating = (n: number, extra: Partial<Extract<Instance, { state: 'Terminating' }>> = {}): Instance => ({
  ...base(n),
  state: 'Terminating',
  stage: 'stopping',
  port: 4_000 + n,
  pid: 100 + n,
  inServiceAtMs: 2_000,
  reason: 'marked Unhealthy',
  ...extra,
});
const terminated = (n: number, extra: Partial<Extract<Instance, { state: 'Terminated' }>> = {}): Instance => ({
  ...base(n),
  state: 'Terminated',
  reason: 'marked Unhealthy',
  terminatedAtMs: 5_000,
  ...extra,
});

/** A group of these instances, desired = the live ones unless given, next id after the last. */
function group(instances: Instance[], extra: Partial<Omit<GroupState, 'config'>> & { config?: Partial<MachineConfig> } = {}): GroupState {
  const { config: overrides, ...rest } = extra;
  return {
    ...initialState({ ...config, ...overrides }, instances.filter((i) => i.state !== 'Terminated').length),
    nextId: instances.length + 1,
    instances,
    ...rest,
  };
}

const emit = (name: string, payload: Record<string, unknown>): Effect => ({ type: 'emit', name, payload: { ...payload, atMs: nowMs } }) as Effect;
const terminatingNotice = (n: number, reason: string): Effect => emit('group:instance:terminating', { instanceId: id(n), reason });
const terminatedNotice = (n: number, code: number | null = null, signal: string | null = null): Effect =>
  emit('group:instance:terminated', { instanceId: id(n), code, signal });
const allocate = (n: number): Effect => ({ type: 'allocate', instanceId: id(n) });
const stopping = (n: number): Effect[] => [
  { type: 'terminateProcess', instanceId: id(n), pid: 100 + n },
  { type: 'schedule', timer: { kind: 'kill', instanceId: id(n) }, afterMs: 500 },
];

interface Row {
  name: string;
  state: GroupState;
  event: GroupEvent;
  /** The instances after the step (all of them, in order). */
  instances?: Instance[];
  /** Other fields of the state after the step. */
  fields?: Partial<Omit<GroupState, 'instances' | 'config'>>;
  effects: Effect[];
}

const rows: Row[] = [
  // ── reconcile: launching ────────────────────────────────────────────────────
  {
    name: 'start: launches the desired instances, each asking for a port',
    state: { ...initialState(config, 2) },
    event: { type: 'reconcile' },
    instances: [pending(1, { launchedAtMs: nowMs }), pending(2, { launchedAtMs: nowMs })],
    fields: { nextId: 3 },
    effects: [allocate(1), allocate(2)],
  },
  {
    name: 'start with zones: one launch per zone, in the order listed',
    state: { ...initialState({ ...config, zones: ['a', 'b', 'c'] }, 4) },
    event: { type: 'reconcile' },
    instances: [
      pending(1, { launchedAtMs: nowMs, zone: 'a' }),
      pending(2, { launchedAtMs: nowMs, zone: 'b' }),
      pending(3, { launchedAtMs: nowMs, zone: 'c' }),
      pending(4, { launchedAtMs: nowMs, zone: 'a' }),
    ],
    effects: [allocate(1), allocate(2), allocate(3), allocate(4)],
  },
  {
    name: 'a launch goes to the zone with the fewest instances that serve (an Unhealthy one does not)',
    state: group([inService(1, { zone: 'a' }), inService(2, { zone: 'b', health: 'Unhealthy' }), inService(3, { zone: 'c' })], {
      config: { zones: ['a', 'b', 'c'], replacement: 'launch-first' },
    }),
    event: { type: 'reconcile' },
    instances: [
      inService(1, { zone: 'a' }),
      inService(2, { zone: 'b', health: 'Unhealthy' }),
      inService(3, { zone: 'c' }),
      pending(4, { launchedAtMs: nowMs, zone: 'b', replaces: id(2) }),
    ],
    effects: [allocate(4)],
  },
  {
    name: 'after a launch failure, no launch before the backoff ends: one retry timer',
    state: group([], { desired: 1, launchFailures: 1, launchBlockedUntilMs: nowMs + 75 }),
    event: { type: 'reconcile' },
    instances: [],
    fields: { retryArmed: true },
    effects: [{ type: 'schedule', timer: { kind: 'launchRetry' }, afterMs: 75 }],
  },
  {
    name: 'a retry timer already armed is not armed twice',
    state: group([], { desired: 1, launchBlockedUntilMs: nowMs + 75, retryArmed: true }),
    event: { type: 'reconcile' },
    instances: [],
    effects: [],
  },
  {
    name: 'the retry timer: the launch happens',
    state: group([], { desired: 1, launchFailures: 1, launchBlockedUntilMs: nowMs - 1, retryArmed: true }),
    event: { type: 'timer', timer: { kind: 'launchRetry' } },
    instances: [pending(1, { launchedAtMs: nowMs })],
    fields: { retryArmed: false, launchFailures: 1 },
    effects: [allocate(1)],
  },
  {
    name: 'a launch replaces an Unhealthy instance already terminated that nothing replaces yet',
    state: group([terminated(1, { health: 'Unhealthy' })], { desired: 1 }),
    event: { type: 'reconcile' },
    instances: [terminated(1, { health: 'Unhealthy' }), pending(2, { launchedAtMs: nowMs, replaces: id(1) })],
    effects: [allocate(2)],
  },
  {
    name: 'setDesired: grows the group',
    state: group([inService(1)]),
    event: { type: 'setDesired', desired: 2 },
    instances: [inService(1), pending(2, { launchedAtMs: nowMs })],
    fields: { desired: 2 },
    effects: [allocate(2)],
  },
  // ── reconcile: replacing and scaling in ─────────────────────────────────────
  {
    name: 'terminate-first: an Unhealthy instance is terminated, and its slot held until it is gone',
    state: group([inService(1, { health: 'Unhealthy' }), inService(2)]),
    event: { type: 'reconcile' },
    instances: [terminating(1, { health: 'Unhealthy' }), inService(2)],
    effects: [terminatingNotice(1, 'marked Unhealthy'), ...stopping(1)],
  },
  {
    name: 'terminate-first with a shutdown delay: Terminating, still running, shutting down',
    state: group([inService(1, { health: 'Unhealthy' })], { config: { shutdownDelayMs: 300 } }),
    event: { type: 'reconcile' },
    instances: [terminating(1, { health: 'Unhealthy', stage: 'shuttingDown' })],
    effects: [terminatingNotice(1, 'marked Unhealthy'), { type: 'schedule', timer: { kind: 'shutdown', instanceId: id(1) }, afterMs: 300 }],
  },
  {
    name: 'launch-first: the replacement InService, the Unhealthy instance goes',
    state: group([inService(1, { health: 'Unhealthy' }), inService(2, { replaces: id(1) })], { desired: 1, config: { replacement: 'launch-first' } }),
    event: { type: 'reconcile' },
    instances: [terminating(1, { health: 'Unhealthy', reason: 'marked Unhealthy, replacement InService' }), inService(2, { replaces: id(1) })],
    effects: [terminatingNotice(1, 'marked Unhealthy, replacement InService'), ...stopping(1)],
  },
  {
    name: 'launch-first: no replacement, but the group already serves its desired capacity: the Unhealthy one goes',
    state: group([inService(1, { health: 'Unhealthy' }), inService(2)], { desired: 1, config: { replacement: 'launch-first' } }),
    event: { type: 'reconcile' },
    instances: [terminating(1, { health: 'Unhealthy', reason: 'marked Unhealthy, replacement InService' }), inService(2)],
    effects: [terminatingNotice(1, 'marked Unhealthy, replacement InService'), ...stopping(1)],
  },
  {
    name: 'scale in: the newest first',
    state: group([inService(1), inService(2), inService(3)], { desired: 1 }),
    event: { type: 'reconcile' },
    instances: [inService(1), terminating(2, { reason: 'scaled in' }), terminating(3, { reason: 'scaled in' })],
    effects: [terminatingNotice(3, 'scaled in'), ...stopping(3), terminatingNotice(2, 'scaled in'), ...stopping(2)],
  },
  {
    name: 'scale in with zones: from the zone with the most, its newest',
    state: group([inService(1, { zone: 'a' }), inService(2, { zone: 'b' }), inService(3, { zone: 'a' }), inService(4, { zone: 'b' }), inService(5, { zone: 'b' })], {
      desired: 4,
      config: { zones: ['a', 'b'] },
    }),
    event: { type: 'reconcile' },
    instances: [
      inService(1, { zone: 'a' }),
      inService(2, { zone: 'b' }),
      inService(3, { zone: 'a' }),
      inService(4, { zone: 'b' }),
      terminating(5, { zone: 'b', reason: 'scaled in' }),
    ],
    effects: [terminatingNotice(5, 'scaled in'), ...stopping(5)],
  },
  {
    name: 'a Pending instance not spawned yet is Terminated at once when scaled in',
    state: group([inService(1), pending(2)], { desired: 1 }),
    event: { type: 'reconcile' },
    instances: [inService(1), terminated(2, { reason: 'scaled in', terminatedAtMs: nowMs })],
    effects: [terminatingNotice(2, 'scaled in'), terminatedNotice(2)],
  },
  {
    name: 'a stopping group launches nothing',
    state: group([], { desired: 2, mode: 'stopping' }),
    event: { type: 'reconcile' },
    instances: [],
    effects: [],
  },
  // ── setHealth ───────────────────────────────────────────────────────────────
  {
    name: 'setHealth Unhealthy: marked, then terminated (terminate-first)',
    state: group([inService(1)]),
    event: { type: 'setHealth', instanceId: id(1), status: 'Unhealthy', respectGracePeriod: true },
    instances: [terminating(1, { health: 'Unhealthy' })],
    effects: [emit('group:instance:marked', { instanceId: id(1), status: 'Unhealthy', by: 'fleet' }), terminatingNotice(1, 'marked Unhealthy'), ...stopping(1)],
  },
  {
    name: 'setHealth in the grace period, respecting it: ignored, and said so',
    state: group([inService(1)], { config: { healthCheckGracePeriodSeconds: 60 } }),
    event: { type: 'setHealth', instanceId: id(1), status: 'Unhealthy', respectGracePeriod: true },
    instances: [inService(1)],
    effects: [emit('group:instance:mark-ignored', { instanceId: id(1), reason: 'in grace period' })],
  },
  {
    name: 'setHealth to the health it has: nothing',
    state: group([inService(1)]),
    event: { type: 'setHealth', instanceId: id(1), status: 'Healthy', respectGracePeriod: false },
    instances: [inService(1)],
    effects: [],
  },
  {
    name: 'setHealth of a Terminating instance: nothing',
    state: group([terminating(1)]),
    event: { type: 'setHealth', instanceId: id(1), status: 'Unhealthy', respectGracePeriod: false },
    instances: [terminating(1)],
    effects: [],
  },
  {
    name: 'setHealth of an instance the group does not know: nothing',
    state: group([]),
    event: { type: 'setHealth', instanceId: id(9), status: 'Unhealthy', respectGracePeriod: false },
    instances: [],
    effects: [],
  },
  // ── starting a process ──────────────────────────────────────────────────────
  {
    name: 'portAllocated: spawn on that port',
    state: group([pending(1)]),
    event: { type: 'portAllocated', instanceId: id(1), port: 4_001 },
    instances: [pending(1, { port: 4_001 })],
    effects: [{ type: 'spawn', instanceId: id(1), port: 4_001 }],
  },
  {
    name: 'portAllocated for an instance Terminated meanwhile: never spawned',
    state: group([terminated(1, { reason: 'group stopped' })], { mode: 'stopped' }),
    event: { type: 'portAllocated', instanceId: id(1), port: 4_001 },
    instances: [terminated(1, { reason: 'group stopped' })],
    effects: [],
  },
  {
    name: 'spawned: launched, the port watched, the start timeout armed',
    state: group([pending(1, { port: 4_001, zone: 'a', replaces: id(9) })]),
    event: { type: 'spawned', instanceId: id(1), pid: 101 },
    instances: [spawnedPending(1, { zone: 'a', replaces: id(9) })],
    effects: [
      emit('group:instance:launched', { instanceId: id(1), pid: 101, port: 4_001, replaces: id(9), availabilityZone: 'a' }),
      { type: 'watchPort', instanceId: id(1), port: 4_001 },
      { type: 'schedule', timer: { kind: 'startTimeout', instanceId: id(1) }, afterMs: 1_000 },
    ],
  },
  {
    name: 'spawned for an instance no longer waiting for it: its process ended at once',
    state: group([terminated(1)]),
    event: { type: 'spawned', instanceId: id(1), pid: 101 },
    instances: [terminated(1)],
    effects: [{ type: 'reap', pid: 101 }],
  },
  {
    name: 'portAnswered: InService, the backoff reset',
    state: group([spawnedPending(1)], { launchFailures: 3 }),
    event: { type: 'portAnswered', instanceId: id(1) },
    instances: [inService(1, { inServiceAtMs: nowMs })],
    fields: { launchFailures: 0 },
    effects: [
      { type: 'cancel', timer: { kind: 'startTimeout', instanceId: id(1) } },
      emit('group:instance:in-service', { instanceId: id(1), pid: 101, port: 4_001 }),
    ],
  },
  {
    name: 'portAnswered for an instance no longer Pending: nothing',
    state: group([terminating(1)]),
    event: { type: 'portAnswered', instanceId: id(1) },
    instances: [terminating(1)],
    effects: [],
  },
  // ── launch failures ─────────────────────────────────────────────────────────
  {
    name: 'launchFailed before a process ran: backoff, the replaced instance freed, Terminated at once',
    state: group([terminated(1, { health: 'Unhealthy' }), pending(2, { replaces: id(1) })], { desired: 1 }),
    event: { type: 'launchFailed', instanceId: id(2), error: 'spawn /bin/sh ENOENT' },
    instances: [terminated(1, { health: 'Unhealthy' }), terminated(2, { reason: 'launch failed', terminatedAtMs: nowMs })],
    fields: { launchFailures: 1, launchBlockedUntilMs: nowMs + 75, retryArmed: true },
    effects: [
      emit('group:launch:failed', { instanceId: id(2), error: 'spawn /bin/sh ENOENT' }),
      { type: 'warn', instanceId: id(2), error: 'spawn /bin/sh ENOENT' },
      terminatingNotice(2, 'launch failed'),
      terminatedNotice(2),
      { type: 'schedule', timer: { kind: 'launchRetry' }, afterMs: 75 },
    ],
  },
  {
    name: 'launchFailed of an instance already Terminated: nothing',
    state: group([terminated(1)]),
    event: { type: 'launchFailed', instanceId: id(1), error: 'late' },
    instances: [terminated(1)],
    effects: [],
  },
  {
    name: 'the start timeout: a launch failure, its process stopped',
    state: group([spawnedPending(1)], { launchFailures: 2 }),
    event: { type: 'timer', timer: { kind: 'startTimeout', instanceId: id(1) } },
    // toEqual reads an undefined field as absent: it never reached InService.
    instances: [terminating(1, { reason: 'launch failed', inServiceAtMs: undefined })],
    fields: { launchFailures: 3, launchBlockedUntilMs: nowMs + 300 },
    effects: [
      emit('group:launch:failed', { instanceId: id(1), error: 'did not listen on 127.0.0.1:4001 within 1000 ms' }),
      { type: 'warn', instanceId: id(1), error: 'did not listen on 127.0.0.1:4001 within 1000 ms' },
      terminatingNotice(1, 'launch failed'),
      { type: 'cancel', timer: { kind: 'startTimeout', instanceId: id(1) } },
      ...stopping(1),
    ],
  },
  {
    name: 'a start timeout of an instance already InService: nothing',
    state: group([inService(1)]),
    event: { type: 'timer', timer: { kind: 'startTimeout', instanceId: id(1) } },
    instances: [inService(1)],
    effects: [],
  },
  // ── exits ───────────────────────────────────────────────────────────────────
  {
    name: 'a Pending process exits: a launch failure naming its code and port',
    state: group([spawnedPending(1)]),
    event: { type: 'exited', instanceId: id(1), exit: { code: 3, signal: null } },
    instances: [terminated(1, { port: 4_001, pid: 101, reason: 'launch failed', terminatedAtMs: nowMs, exit: { code: 3, signal: null } })],
    fields: { launchFailures: 1, launchBlockedUntilMs: nowMs + 75, retryArmed: true },
    effects: [
      { type: 'reap', pid: 101 },
      emit('group:instance:exited', { instanceId: id(1), code: 3, signal: null }),
      emit('group:launch:failed', { instanceId: id(1), error: 'exited with code 3 before it listened on 127.0.0.1:4001' }),
      { type: 'warn', instanceId: id(1), error: 'exited with code 3 before it listened on 127.0.0.1:4001' },
      terminatingNotice(1, 'launch failed'),
      { type: 'cancel', timer: { kind: 'startTimeout', instanceId: id(1) } },
      terminatedNotice(1, 3),
      { type: 'schedule', timer: { kind: 'launchRetry' }, afterMs: 75 },
    ],
  },
  {
    name: 'a Pending process killed by a signal: the failure names the signal',
    state: group([spawnedPending(1)], { desired: 0 }),
    event: { type: 'exited', instanceId: id(1), exit: { code: null, signal: 'SIGKILL' } },
    instances: [terminated(1, { port: 4_001, pid: 101, reason: 'launch failed', terminatedAtMs: nowMs, exit: { code: null, signal: 'SIGKILL' } })],
    fields: { launchFailures: 1, launchBlockedUntilMs: nowMs + 75 },
    effects: [
      { type: 'reap', pid: 101 },
      emit('group:instance:exited', { instanceId: id(1), code: null, signal: 'SIGKILL' }),
      emit('group:launch:failed', { instanceId: id(1), error: 'was killed by SIGKILL before it listened on 127.0.0.1:4001' }),
      { type: 'warn', instanceId: id(1), error: 'was killed by SIGKILL before it listened on 127.0.0.1:4001' },
      terminatingNotice(1, 'launch failed'),
      { type: 'cancel', timer: { kind: 'startTimeout', instanceId: id(1) } },
      terminatedNotice(1, null, 'SIGKILL'),
    ],
  },
  {
    name: 'an InService process exits, noticed at once: marked by the group, Terminated, replaced',
    state: group([inService(1)]),
    event: { type: 'exited', instanceId: id(1), exit: { code: null, signal: 'SIGKILL' } },
    instances: [
      terminated(1, { health: 'Unhealthy', port: 4_001, pid: 101, inServiceAtMs: 2_000, terminatedAtMs: nowMs, exit: { code: null, signal: 'SIGKILL' } }),
      pending(2, { launchedAtMs: nowMs, replaces: id(1) }),
    ],
    effects: [
      { type: 'reap', pid: 101 },
      emit('group:instance:exited', { instanceId: id(1), code: null, signal: 'SIGKILL' }),
      emit('group:instance:marked', { instanceId: id(1), status: 'Unhealthy', by: 'exit' }),
      terminatingNotice(1, 'marked Unhealthy'),
      terminatedNotice(1, null, 'SIGKILL'),
      allocate(2),
    ],
  },
  {
    name: 'an InService process exits, noticed later: the notice timer armed',
    state: group([inService(1)], { config: { exitNoticeDelayMs: 15_000 } }),
    event: { type: 'exited', instanceId: id(1), exit: { code: 0, signal: null } },
    instances: [inService(1, { exit: { code: 0, signal: null } })],
    effects: [
      { type: 'reap', pid: 101 },
      emit('group:instance:exited', { instanceId: id(1), code: 0, signal: null }),
      { type: 'schedule', timer: { kind: 'exitNotice', instanceId: id(1) }, afterMs: 15_000 },
    ],
  },
  {
    name: 'the exit notice: marked by the group, Terminated (its process is gone), replaced',
    state: group([inService(1, { exit: { code: 0, signal: null } })], { config: { exitNoticeDelayMs: 15_000 } }),
    event: { type: 'timer', timer: { kind: 'exitNotice', instanceId: id(1) } },
    instances: [
      terminated(1, { health: 'Unhealthy', port: 4_001, pid: 101, inServiceAtMs: 2_000, terminatedAtMs: nowMs, exit: { code: 0, signal: null } }),
      pending(2, { launchedAtMs: nowMs, replaces: id(1) }),
    ],
    effects: [
      emit('group:instance:marked', { instanceId: id(1), status: 'Unhealthy', by: 'exit' }),
      terminatingNotice(1, 'marked Unhealthy'),
      // The timer fired already: cancelling it is a no-op for the shell.
      { type: 'cancel', timer: { kind: 'exitNotice', instanceId: id(1) } },
      terminatedNotice(1, 0),
      allocate(2),
    ],
  },
  {
    name: 'an exit notice after the group stopped: nothing',
    state: group([inService(1, { exit: { code: 0, signal: null } })], { mode: 'stopping' }),
    event: { type: 'timer', timer: { kind: 'exitNotice', instanceId: id(1) } },
    instances: [inService(1, { exit: { code: 0, signal: null } })],
    effects: [],
  },
  {
    name: 'a second exit of the same process: nothing',
    state: group([inService(1, { exit: { code: 0, signal: null } })]),
    event: { type: 'exited', instanceId: id(1), exit: { code: 0, signal: null } },
    instances: [inService(1, { exit: { code: 0, signal: null } })],
    effects: [],
  },
  {
    name: 'a Terminating process exits: Terminated with its exit and reason, then replaced',
    state: group([terminating(1, { health: 'Unhealthy', zone: 'b' })], { config: { zones: ['a', 'b'] } }),
    event: { type: 'exited', instanceId: id(1), exit: { code: 0, signal: null } },
    instances: [
      terminated(1, { health: 'Unhealthy', zone: 'b', port: 4_001, pid: 101, inServiceAtMs: 2_000, terminatedAtMs: nowMs, exit: { code: 0, signal: null } }),
      pending(2, { launchedAtMs: nowMs, zone: 'a', replaces: id(1) }),
    ],
    effects: [
      { type: 'reap', pid: 101 },
      { type: 'cancel', timer: { kind: 'kill', instanceId: id(1) } },
      terminatedNotice(1, 0),
      allocate(2),
    ],
  },
  {
    name: 'an exit during a kill (no stop asked): Terminated as the group stopped, and the group stopped',
    state: group([inService(1)], { mode: 'stopping' }),
    event: { type: 'exited', instanceId: id(1), exit: { code: null, signal: 'SIGKILL' } },
    instances: [terminated(1, { reason: 'group stopped', port: 4_001, pid: 101, inServiceAtMs: 2_000, terminatedAtMs: nowMs, exit: { code: null, signal: 'SIGKILL' } })],
    fields: { mode: 'stopped' },
    effects: [{ type: 'reap', pid: 101 }, terminatedNotice(1, null, 'SIGKILL'), { type: 'stopped' }],
  },
  {
    name: 'an exit of an instance the group forgot: nothing',
    state: group([]),
    event: { type: 'exited', instanceId: id(1), exit: { code: 0, signal: null } },
    instances: [],
    effects: [],
  },
  // ── termination timers ──────────────────────────────────────────────────────
  {
    name: 'the shutdown delay ends: SIGTERM, and SIGKILL armed',
    state: group([terminating(1, { stage: 'shuttingDown' })]),
    event: { type: 'timer', timer: { kind: 'shutdown', instanceId: id(1) } },
    instances: [terminating(1)],
    effects: stopping(1),
  },
  {
    name: 'the stop timeout ends: SIGKILL',
    state: group([terminating(1)]),
    event: { type: 'timer', timer: { kind: 'kill', instanceId: id(1) } },
    instances: [terminating(1)],
    effects: [{ type: 'kill', pid: 101 }],
  },
  {
    name: 'a kill timer of an instance already gone: nothing',
    state: group([terminated(1)]),
    event: { type: 'timer', timer: { kind: 'kill', instanceId: id(1) } },
    instances: [terminated(1)],
    effects: [],
  },
  // ── stopping ────────────────────────────────────────────────────────────────
  {
    name: 'stop: every instance ends now, shutting-down ones included, no retry, no shutdown delay',
    state: group([pending(1), spawnedPending(2), inService(3), terminating(4, { stage: 'shuttingDown' })], {
      retryArmed: true,
      config: { shutdownDelayMs: 300 },
    }),
    event: { type: 'stop' },
    instances: [
      terminated(1, { reason: 'group stopped', terminatedAtMs: nowMs }),
      terminating(2, { reason: 'group stopped', inServiceAtMs: undefined }),
      terminating(3, { reason: 'group stopped' }),
      terminating(4),
    ],
    fields: { mode: 'stopping', retryArmed: false },
    effects: [
      { type: 'cancel', timer: { kind: 'launchRetry' } },
      terminatingNotice(1, 'group stopped'),
      terminatedNotice(1),
      terminatingNotice(2, 'group stopped'),
      { type: 'cancel', timer: { kind: 'startTimeout', instanceId: id(2) } },
      ...stopping(2),
      terminatingNotice(3, 'group stopped'),
      ...stopping(3),
      { type: 'cancel', timer: { kind: 'shutdown', instanceId: id(4) } },
      ...stopping(4),
    ],
  },
  {
    name: 'stop of a group with nothing live: stopped',
    state: group([terminated(1)]),
    event: { type: 'stop' },
    instances: [terminated(1)],
    fields: { mode: 'stopped' },
    effects: [{ type: 'stopped' }],
  },
  {
    name: 'stop of a stopped group: nothing more',
    state: group([], { mode: 'stopped' }),
    event: { type: 'stop' },
    instances: [],
    fields: { mode: 'stopped' },
    effects: [],
  },
  {
    name: 'killAll: SIGKILL to every running process, no more launches',
    state: group([pending(1), spawnedPending(2), inService(3), inService(4, { exit: { code: 0, signal: null } }), terminating(5)], { retryArmed: true }),
    event: { type: 'killAll' },
    instances: [pending(1), spawnedPending(2), inService(3), inService(4, { exit: { code: 0, signal: null } }), terminating(5)],
    fields: { mode: 'stopping', retryArmed: false },
    effects: [{ type: 'cancel', timer: { kind: 'launchRetry' } }, { type: 'kill', pid: 102 }, { type: 'kill', pid: 103 }, { type: 'kill', pid: 105 }],
  },
  {
    name: 'killAll of a group with nothing live: stopped',
    state: group([]),
    event: { type: 'killAll' },
    instances: [],
    fields: { mode: 'stopped' },
    effects: [{ type: 'stopped' }],
  },
];

describe('local group machine', () => {
  it.each(rows)('$name', (row) => {
    // Act
    const { state, effects } = step(row.state, row.event, at);

    // Assess
    expect(effects).toEqual(row.effects);
    if (row.instances) expect(state.instances).toEqual(row.instances);
    if (row.fields) expect(state).toMatchObject(row.fields);
  });

  it('never changes the state it is given', () => {
    // Prepare
    const before = group([inService(1, { health: 'Unhealthy' })]);
    const copy = JSON.parse(JSON.stringify(before)) as GroupState;

    // Act
    step(before, { type: 'reconcile' }, at);

    // Assess
    expect(before).toEqual(copy);
  });

  it(`forgets the oldest Terminated beyond ${keepTerminated}, except one a live replacement points at`, () => {
    // Prepare: 51 Terminated; the first is what the live instance 53 replaces.
    const gone = Array.from({ length: keepTerminated + 1 }, (_, k) => terminated(k + 1));
    const state = group([...gone, terminating(52), inService(53, { replaces: id(1) })], { desired: 1 });

    // Act: 52 exits, making 52 Terminated.
    const { state: next, effects } = step(state, { type: 'exited', instanceId: id(52), exit: { code: 0, signal: null } }, at);

    // Assess
    expect(effects.filter((e) => e.type === 'forget')).toEqual([{ type: 'forget', instanceId: id(2) }]);
    expect(next.instances.map((i) => i.instanceId)).toContain(id(1));
    expect(next.instances.filter((i) => i.state === 'Terminated')).toHaveLength(keepTerminated + 1);
  });

  it('walks one instance through its whole life: launch, InService, marked, Terminated, replaced', () => {
    // Prepare
    let state = initialState(config, 1);
    const seen: string[] = [];
    const feed = (event: GroupEvent): void => {
      const out = step(state, event, at);
      state = out.state;
      for (const e of out.effects) seen.push(e.type === 'emit' ? e.name : e.type);
    };

    // Act
    feed({ type: 'reconcile' });
    feed({ type: 'portAllocated', instanceId: id(1), port: 4_001 });
    feed({ type: 'spawned', instanceId: id(1), pid: 101 });
    feed({ type: 'portAnswered', instanceId: id(1) });
    const settled = isSettled(state);
    feed({ type: 'setHealth', instanceId: id(1), status: 'Unhealthy', respectGracePeriod: true });
    feed({ type: 'exited', instanceId: id(1), exit: { code: 0, signal: null } });

    // Assess
    expect(settled).toBe(true);
    expect(isSettled(state)).toBe(false);
    expect(seen).toEqual([
      'allocate',
      'spawn',
      'group:instance:launched',
      'watchPort',
      'schedule',
      'cancel',
      'group:instance:in-service',
      'group:instance:marked',
      'group:instance:terminating',
      'terminateProcess',
      'schedule',
      'reap',
      'cancel',
      'group:instance:terminated',
      'allocate',
    ]);
    expect(state.instances.map((i) => [i.instanceId, i.state])).toEqual([
      [id(1), 'Terminated'],
      [id(2), 'Pending'],
    ]);
  });
});

describe('local group machine: helpers', () => {
  it.each([
    ['Pending, not spawned', pending(1), undefined],
    ['Pending, spawned', spawnedPending(1), 101],
    ['InService', inService(1), 101],
    ['InService, exited', inService(1, { exit: { code: 0, signal: null } }), undefined],
    ['Terminating', terminating(1), 101],
    ['Terminated', terminated(1, { pid: 101 }), undefined],
  ] as const)('runningPid: %s', (_name, instance, pid) => {
    expect(runningPid(instance)).toBe(pid);
  });

  it('timerKey: one key per timer', () => {
    expect(timerKey({ kind: 'launchRetry' })).toBe('launchRetry');
    expect(timerKey({ kind: 'kill', instanceId: id(1) })).toBe(`kill:${id(1)}`);
  });

  it('launchZone: none without zones; the first of the emptiest otherwise', () => {
    expect(launchZone([inService(1)], [])).toBeUndefined();
    expect(launchZone([inService(1, { zone: 'a' }), terminated(2, { zone: 'b' }), terminating(3, { zone: 'c' })], ['a', 'b', 'c'])).toBe('b');
  });

  it('scaleInOrder: never more than there are', () => {
    expect(scaleInOrder([inService(1, { zone: 'a' })], 3, ['a', 'b']).map((i) => i.instanceId)).toEqual([id(1)]);
    expect(scaleInOrder([inService(1), inService(2)], 3, []).map((i) => i.instanceId)).toEqual([id(2), id(1)]);
  });
});
