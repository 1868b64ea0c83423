/**
 * A local group: the embedded default fleet. It keeps `desiredCapacity` instances running, each
 * a child process serving HTTP on a loopback port: the built-in instance server (`autoheal
 * instance`) or the user's `command`, given its port in `$PORT`. It implements {@link FleetPort},
 * so the healer marks it exactly as it marks an Auto Scaling group.
 *
 * This class is the shell around the group's machine (machine.ts, which draws the states and
 * says every rule: replacement order, launch backoff, exit notice, shutdown delay, zones, stop).
 * The shell owns the I/O: it turns what processes, ports and timers do into events, feeds them to
 * the machine, and carries out the effects that come back, through three seams: the clock
 * (clock.ts: the time and every timer), the process driver (processes.ts: spawn, connect,
 * signal) and the chance draw of the backoff. Its runner (runner.ts) does what processes need,
 * and keeps each instance's last output lines (output.ts), the evidence a replaced instance
 * leaves behind.
 *
 * - `stop()` ends every child: SIGCONT (a frozen child cannot act on SIGTERM), SIGTERM, then
 *   SIGKILL after `stopTimeoutMs`. Each child runs in its own process group, so a `command`'s
 *   own children go too.
 * - Nothing outlives the process that runs the group, even when it is SIGKILLed: a reaper
 *   process (reaper.ts) lists every instance's process group and SIGKILLs them all once this
 *   process is gone, frozen instances and user commands included. Built-in instances also exit
 *   when their stdin pipe closes.
 */
import { describeError, RemoteError } from '../../errors.js';
import { TypedEvents } from '../../events.js';
import { silentLogger, type Logger } from '../../log.js';
import type { FleetPort, GroupView, HealthStatus, InstanceView, SetHealthOptions } from '../port.js';
import { systemClock, TimerTable, type Clock } from './clock.js';
import type { LocalGroupEvents, LocalInstance } from './group-events.js';
import { initialState, isLive, isSettled, runningPid, step, timerKey, type Effect, type GroupEvent, type GroupState, type Instance } from './machine.js';
import { localGroupOptionsSchema, maxLocalInstances, type LocalGroupOptions, type LocalGroupOptionsInput } from './options.js';
import { systemProcesses, type ProcessDriver } from './processes.js';
import { InstanceRunner } from './runner.js';
import { instanceView, localInstance, summary } from './views.js';

export { localGroupOptionsSchema, localIdPrefix, maxLocalInstances, maxLocalZones, type LocalGroupOptions, type LocalGroupOptionsInput } from './options.js';
export type { LocalGroupEvents, LocalInstance, ProcessExit } from './group-events.js';

/** What the group is built with beside its options; every seam defaults to the real thing. */
export interface LocalGroupDeps {
  logger?: Logger;
  /** The time and every timer of the group. */
  clock?: Clock;
  /** Draws in [0, 1) for the launch backoff's jitter. */
  random?: () => number;
  /** How instance processes are started, watched and signalled. */
  processes?: ProcessDriver;
}

/** A group of instance processes on this machine. Call {@link LocalGroup.start}, and always {@link LocalGroup.stop}. */
export class LocalGroup implements FleetPort {
  readonly options: LocalGroupOptions;
  readonly events: TypedEvents<LocalGroupEvents>;
  private state: GroupState;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly runner: InstanceRunner;
  private readonly timers: TimerTable;
  private stopped: Promise<void> | undefined;
  private markStopped: (() => void) | undefined;

  constructor(options: LocalGroupOptionsInput = {}, deps: LocalGroupDeps = {}) {
    this.options = localGroupOptionsSchema.parse(options);
    this.state = initialState(this.options, this.options.desiredCapacity);
    this.logger = deps.logger ?? silentLogger;
    this.clock = deps.clock ?? systemClock;
    this.timers = new TimerTable(this.clock);
    this.random = deps.random ?? Math.random;
    this.events = new TypedEvents<LocalGroupEvents>((error, event) =>
      this.logger.warn({ event, error: describeError(error) }, 'local group event listener failed'),
    );
    this.runner = new InstanceRunner(deps.processes ?? systemProcesses(this.clock), this.clock, this.options, (event) => this.dispatch(event), this.logger, (pid) =>
      this.events.emit('group:reaper:started', { pid, atMs: this.clock.now() }),
    );
  }

  get name(): string {
    return this.options.name;
  }

  get desiredCapacity(): number {
    return this.state.desired;
  }

  /** Launches the instances; resolve {@link whenSettled} to wait until they are InService. */
  start(): this {
    this.dispatch({ type: 'reconcile' });
    return this;
  }

  /** Changes the desired capacity (scaling in terminates the newest instances first, from the fullest zone). */
  setDesiredCapacity(desired: number): void {
    if (!Number.isInteger(desired) || desired < 0 || desired > maxLocalInstances) {
      throw new RangeError(`desiredCapacity must be an integer from 0 to ${maxLocalInstances}, got ${desired}`);
    }
    this.dispatch({ type: 'setDesired', desired });
  }

  /** Every instance not yet Terminated, and the most recent Terminated ones, oldest first. */
  instances(): LocalInstance[] {
    return this.state.instances.map((i) => this.publicView(i));
  }

  /** The instance, if the group knows it (Terminated ones only for a while). */
  instance(instanceId: string): LocalInstance | undefined {
    const i = this.find(instanceId);
    return i ? this.publicView(i) : undefined;
  }

  /** The instance's last output lines (stdout and stderr), oldest first, while the group knows it. */
  outputOf(instanceId: string): string[] {
    return this.runner.outputOf(instanceId);
  }

  /** The pid of the instance's process while it runs. */
  pidOf(instanceId: string): number | undefined {
    const i = this.find(instanceId);
    return i ? runningPid(i) : undefined;
  }

  /** Every pid this group ever spawned that may still run (for leak checks and emergency kills). */
  livePids(): number[] {
    return this.state.instances.flatMap((i) => runningPid(i) ?? []);
  }

  /** Whether the group runs `desiredCapacity` instances, all InService and Healthy, and nothing else. */
  settled(): boolean {
    return isSettled(this.state);
  }

  /** Resolves once {@link settled}; rejects after `timeoutMs` or when `signal` aborts. */
  whenSettled(timeoutMs = 30_000, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const offs: Array<() => void> = [];
      const finish = (error?: Error): void => {
        for (const off of offs) off();
        cancel();
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (this.settled()) finish();
      };
      const onAbort = (): void => finish(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      const cancel = this.clock.after(timeoutMs, () =>
        finish(new Error(`local group ${this.name}: not settled within ${timeoutMs} ms (${summary(this.state)})`)),
      );
      for (const event of ['group:instance:in-service', 'group:instance:terminated'] as const) offs.push(this.events.on(event, check));
      // An 'abort' listener added to a signal that aborted already is never called.
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  // ── FleetPort ──────────────────────────────────────────────────────────────

  async describeInstances(instanceIds: readonly string[]): Promise<Map<string, InstanceView>> {
    const out = new Map<string, InstanceView>();
    for (const id of instanceIds) {
      const i = this.find(id);
      if (i && isLive(i)) out.set(id, this.instanceView(i));
    }
    return out;
  }

  async describeGroups(groupNames: readonly string[]): Promise<GroupView[]> {
    if (!groupNames.includes(this.name)) return [];
    return [
      {
        name: this.name,
        desiredCapacity: this.state.desired,
        healthCheckGracePeriodSeconds: this.options.healthCheckGracePeriodSeconds,
        suspendedProcesses: [],
        tags: { ...this.options.tags },
        instances: this.state.instances.filter(isLive).map((i) => this.instanceView(i)),
      },
    ];
  }

  async setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void> {
    const i = this.find(instanceId);
    if (!i || !isLive(i)) {
      throw new RemoteError('autoscaling:SetInstanceHealth', `instance ${instanceId} is not in local group ${this.name}`, {
        retryable: false,
      });
    }
    this.dispatch({ type: 'setHealth', instanceId, status, respectGracePeriod: options.respectGracePeriod });
  }

  // ── stopping ───────────────────────────────────────────────────────────────

  /** Ends every instance (SIGCONT, SIGTERM, SIGKILL after `stopTimeoutMs`); resolves when all are gone. */
  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopped = new Promise<void>((resolve) => (this.markStopped = resolve));
    if (this.state.mode === 'stopped') this.onStopped();
    else this.dispatch({ type: 'stop' });
    return this.stopped;
  }

  /** Kills every process at once with SIGKILL, synchronously: for a forced exit. */
  killNow(): void {
    this.dispatch({ type: 'killAll' });
    this.runner.close();
  }

  /** The reaper's pid while it runs (it starts with the first instance). */
  get reaperPid(): number | undefined {
    return this.runner.reaperPid;
  }

  // ── the shell ──────────────────────────────────────────────────────────────

  /**
   * Feeds one event to the machine and carries out its effects. The state is the machine's new
   * one before any effect runs, so a listener that calls back into the group (a nested dispatch)
   * sees it; every effect the machine asks for is checked against the state again when its
   * outcome comes back, so one made stale by a nested dispatch is harmless.
   */
  private dispatch(event: GroupEvent): void {
    const { state, effects } = step(this.state, event, { nowMs: this.clock.now(), random: this.random() });
    this.state = state;
    for (const effect of effects) this.perform(effect);
  }

  private perform(effect: Effect): void {
    const run = this.runner;
    switch (effect.type) {
      case 'emit':
        // The runner ended the ring when the process exited, so the event carries its last line too.
        if (effect.name === 'group:instance:terminated') this.events.emit(effect.name, { ...effect.payload, lastOutput: run.outputOf(effect.payload.instanceId) });
        else this.events.emit(effect.name, effect.payload as never);
        return;
      case 'allocate':
        return void run.allocate(effect.instanceId, this.usedPorts());
      case 'spawn':
        return run.spawn(effect.instanceId, effect.port, this.find(effect.instanceId)?.zone);
      case 'watchPort':
        return void run.watch(effect.instanceId, effect.port, () => this.waitsForPort(effect.instanceId));
      case 'terminateProcess':
        return run.terminate(effect.instanceId, effect.pid);
      case 'kill':
        return run.kill(effect.pid);
      case 'reap':
        return run.reap(effect.pid);
      case 'schedule':
        return this.timers.arm(timerKey(effect.timer), effect.afterMs, () => this.dispatch({ type: 'timer', timer: effect.timer }));
      case 'cancel':
        return this.timers.cancel(timerKey(effect.timer));
      case 'warn':
        return this.logger.warn({ instanceId: effect.instanceId, error: effect.error }, 'local group: launch failed');
      case 'forget':
        return run.forget(effect.instanceId);
      case 'stopped':
        return this.onStopped();
    }
  }

  private onStopped(): void {
    this.runner.close();
    this.markStopped?.();
  }

  /** The ports of the processes that run, which a new one must not take. */
  private usedPorts(): Set<number> {
    return new Set(this.state.instances.flatMap((i) => (runningPid(i) !== undefined && i.port !== undefined ? [i.port] : [])));
  }

  private waitsForPort(instanceId: string): boolean {
    const i = this.find(instanceId);
    return this.state.mode === 'running' && i?.state === 'Pending' && i.pid !== undefined;
  }

  private find(instanceId: string): Instance | undefined {
    return this.state.instances.find((i) => i.instanceId === instanceId);
  }

  private instanceView(i: Instance): InstanceView {
    return instanceView(i, this.name);
  }

  private publicView(i: Instance): LocalInstance {
    return localInstance(i, this.name);
  }
}
