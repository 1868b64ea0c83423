/**
 * A local group: the embedded default fleet. It keeps `desiredCapacity` instances running, each
 * a child process serving HTTP on a loopback port: the built-in instance server (`autoheal
 * instance`) or the user's `command`, given its port in `$PORT`. It implements {@link FleetPort},
 * so the healer marks it exactly as it marks an Auto Scaling group.
 *
 * How it behaves, as a small state machine per instance:
 *
 *   Pending ──port answers──▶ InService ──marked Unhealthy / scaled in──▶ Terminating ──exit──▶ Terminated
 *      └──exits or never answers within startTimeoutMs──────────────────────────────────────────▶ Terminated
 *
 * - Health is Healthy or Unhealthy. `setInstanceHealth(id, 'Unhealthy')` marks it (ignored during
 *   the health-check grace period when the caller asks to respect it, as AWS does).
 * - Replacement of Unhealthy instances: `terminate-first` (the default, like Auto Scaling's
 *   default maintenance policy) terminates, then launches once the old process is gone;
 *   `launch-first` launches the replacement and terminates the old one when the new one is InService.
 * - A process that exits on its own is noticed after `exitNoticeDelayMs` (the group's own EC2
 *   check, which on AWS takes minutes), marked Unhealthy and replaced like any other.
 * - Launch failures back off exponentially with jitter, so a broken `command` cannot spin.
 * - `shutdownDelayMs` keeps a Terminating instance running a while, as EC2's shutdown does, so
 *   a mass failure heals in waves here as it does on AWS.
 * - `stop()` ends every child: SIGCONT (a frozen child cannot act on SIGTERM), SIGTERM, then
 *   SIGKILL after `stopTimeoutMs`. Each child runs in its own process group, so a `command`'s
 *   own children go too.
 * - Nothing outlives the process that runs the group, even when it is SIGKILLed: a reaper
 *   process (reaper.ts) lists every instance's process group and SIGKILLs them all once this
 *   process is gone, frozen instances and user commands included. Built-in instances also exit
 *   when their stdin pipe closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeError, RemoteError } from '../../errors.js';
import { TypedEvents } from '../../events.js';
import { silentLogger, type Logger } from '../../log.js';
import type { FleetPort, GroupView, HealthStatus, InstanceView, SetHealthOptions } from '../port.js';
import { Reaper } from './reaper.js';

/** The most instances one local group runs: each is a process on this machine. */
export const maxLocalInstances = 200;

/** Local instance ids are `i-10ca1` and a 12-digit number: EC2-shaped, as every parser requires. */
export const localIdPrefix = 'i-10ca1';

/** Options of a local group. */
export const localGroupOptionsSchema = z
  .object({
    /** The group's name, as the healer sees it. */
    name: z.string().min(1).default('local'),
    /** How many instances it keeps running. */
    desiredCapacity: z
      .number()
      .int()
      .min(0)
      .max(maxLocalInstances, `desiredCapacity: at most ${maxLocalInstances} instances in a local group`)
      .default(3),
    /** After a launch, the healer (and `setInstanceHealth` respecting it) leaves the instance alone this long. */
    healthCheckGracePeriodSeconds: z.number().int().min(0).default(0),
    /** A shell command to run instead of the built-in server; it must listen on 127.0.0.1:$PORT. */
    command: z.string().min(1).optional(),
    /** The built-in server's health path. */
    healthPath: z.string().startsWith('/').default('/health'),
    /** How an Unhealthy instance is replaced. */
    replacement: z.enum(['terminate-first', 'launch-first']).default('terminate-first'),
    /** A launched instance whose port does not answer within this is terminated and launched again. */
    startTimeoutMs: z.number().int().positive().default(15_000),
    /** SIGTERM, then SIGKILL after this. */
    stopTimeoutMs: z.number().int().positive().default(2_000),
    /**
     * How long an instance stays Terminating before its process is stopped: EC2's shutdown,
     * about 20 s on AWS, during which the instance still counts against the unhealthy budget.
     * Not applied when the whole group stops.
     */
    shutdownDelayMs: z.number().int().min(0).max(60_000).default(0),
    /** How long the group takes to notice that a process exited on its own (its own "EC2 check"). */
    exitNoticeDelayMs: z.number().int().min(0).default(0),
    /** The group's tags; the default opts it in to autoheal. */
    tags: z.record(z.string(), z.string()).default({ 'autoheal:enabled': 'true' }),
    /** Instance ids are `${idPrefix}000000000001`, `${idPrefix}000000000002`, … */
    idPrefix: z.string().min(1).default(localIdPrefix),
    /** Extra environment for every instance. */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type LocalGroupOptions = z.output<typeof localGroupOptionsSchema>;
export type LocalGroupOptionsInput = z.input<typeof localGroupOptionsSchema>;

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
}

/** Typed events of the local group. `atMs` is milliseconds since the epoch. */
export interface LocalGroupEvents {
  'group:instance:launched': { instanceId: string; pid: number; port: number; replaces?: string; atMs: number };
  'group:instance:in-service': { instanceId: string; pid: number; port: number; replaces?: string; atMs: number };
  /** Health set, through the fleet port (`by: 'fleet'`) or by the group's own exit check (`by: 'exit'`). */
  'group:instance:marked': { instanceId: string; status: HealthStatus; by: 'fleet' | 'exit'; atMs: number };
  /** `setInstanceHealth` was ignored because the instance is in its grace period. */
  'group:instance:mark-ignored': { instanceId: string; reason: string; atMs: number };
  /** The process exited while nobody was terminating it. */
  'group:instance:exited': { instanceId: string; code: number | null; signal: string | null; atMs: number };
  'group:instance:terminating': { instanceId: string; reason: string; atMs: number };
  'group:instance:terminated': { instanceId: string; code: number | null; signal: string | null; atMs: number };
  'group:launch:failed': { instanceId: string; error: string; atMs: number };
  /** The reaper process started (it kills every instance if this process dies). */
  'group:reaper:started': { pid: number; atMs: number };
}

interface Member extends LocalInstance {
  child?: ChildProcess;
  exited: boolean;
  exitCode: number | null;
  exitSignal: string | null;
  /** Resolves when the process (if any) is gone. */
  gone: Promise<void>;
  markGone: () => void;
  killTimer?: NodeJS.Timeout;
  shutdownTimer?: NodeJS.Timeout;
}

const keepTerminated = 50;

/** The command line of the built-in instance server, run from source (tsx) or from dist. */
function builtInCommand(): { file: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { file: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('./instance-main.ts', here))] };
  }
  return { file: process.execPath, args: [fileURLToPath(new URL('./instance-main.js', here))] };
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Sends `signal` to the child's whole process group; a group that is gone already is fine. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to signal.
  }
}

const host = '127.0.0.1';

/** A group of instance processes on this machine. Call {@link LocalGroup.start}, and always {@link LocalGroup.stop}. */
export class LocalGroup implements FleetPort {
  readonly options: LocalGroupOptions;
  readonly events: TypedEvents<LocalGroupEvents>;
  private readonly members = new Map<string, Member>();
  private readonly logger: Logger;
  private desired: number;
  private nextId = 1;
  private stopping = false;
  private launchFailures = 0;
  private launchBlockedUntilMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped: Promise<void> | undefined;
  private readonly reaper: Reaper;
  private spawnQueue: Promise<void> = Promise.resolve();

  constructor(options: LocalGroupOptionsInput = {}, deps: { logger?: Logger } = {}) {
    this.options = localGroupOptionsSchema.parse(options);
    this.desired = this.options.desiredCapacity;
    this.logger = deps.logger ?? silentLogger;
    this.events = new TypedEvents<LocalGroupEvents>((error, event) =>
      this.logger.warn({ event, error: describeError(error) }, 'local group event listener failed'),
    );
    this.reaper = new Reaper({
      started: (pid) => this.events.emit('group:reaper:started', { pid, atMs: Date.now() }),
      exited: (code, signal) =>
        this.logger.warn({ code, signal }, 'local group: the reaper exited; starting another so that no instance can outlive this process'),
      failed: (error) =>
        this.logger.warn({ error: describeError(error) }, 'local group: the reaper could not start; instances may outlive this process if it is killed'),
    });
  }

  get name(): string {
    return this.options.name;
  }

  get desiredCapacity(): number {
    return this.desired;
  }

  /** Launches the instances; resolve {@link whenSettled} to wait until they are InService. */
  start(): this {
    this.reconcile();
    return this;
  }

  /** Changes the desired capacity (scaling in terminates the newest instances first). */
  setDesiredCapacity(desired: number): void {
    if (!Number.isInteger(desired) || desired < 0 || desired > maxLocalInstances) {
      throw new RangeError(`desiredCapacity must be an integer from 0 to ${maxLocalInstances}, got ${desired}`);
    }
    this.desired = desired;
    this.reconcile();
  }

  /** Every instance not yet Terminated, and the most recent Terminated ones, oldest first. */
  instances(): LocalInstance[] {
    return [...this.members.values()].map((m) => this.publicView(m));
  }

  /** The instance, if the group knows it (Terminated ones only for a while). */
  instance(instanceId: string): LocalInstance | undefined {
    const m = this.members.get(instanceId);
    return m ? this.publicView(m) : undefined;
  }

  /** The pid of the instance's process while it runs. */
  pidOf(instanceId: string): number | undefined {
    const m = this.members.get(instanceId);
    return m && !m.exited ? m.pid : undefined;
  }

  /** Every pid this group ever spawned that may still run (for leak checks and emergency kills). */
  livePids(): number[] {
    return [...this.members.values()].filter((m) => !m.exited && m.pid !== undefined).map((m) => m.pid as number);
  }

  /** Whether the group runs `desiredCapacity` instances, all InService and Healthy, and nothing else. */
  settled(): boolean {
    const live = [...this.members.values()].filter((m) => m.lifecycleState !== 'Terminated');
    return live.length === this.desired && live.every((m) => m.lifecycleState === 'InService' && m.healthStatus === 'Healthy');
  }

  /** Resolves once {@link settled}; rejects after `timeoutMs` or when `signal` aborts. */
  whenSettled(timeoutMs = 30_000, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const offs: Array<() => void> = [];
      const finish = (error?: Error): void => {
        for (const off of offs) off();
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (this.settled()) finish();
      };
      const onAbort = (): void => finish(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      const timer = setTimeout(
        () => finish(new Error(`local group ${this.name}: not settled within ${timeoutMs} ms (${this.summary()})`)),
        timeoutMs,
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
      const m = this.members.get(id);
      if (m && m.lifecycleState !== 'Terminated') out.set(id, this.instanceView(m));
    }
    return out;
  }

  async describeGroups(groupNames: readonly string[]): Promise<GroupView[]> {
    if (!groupNames.includes(this.name)) return [];
    return [
      {
        name: this.name,
        desiredCapacity: this.desired,
        healthCheckGracePeriodSeconds: this.options.healthCheckGracePeriodSeconds,
        suspendedProcesses: [],
        tags: { ...this.options.tags },
        instances: [...this.members.values()].filter((m) => m.lifecycleState !== 'Terminated').map((m) => this.instanceView(m)),
      },
    ];
  }

  async setInstanceHealth(instanceId: string, status: HealthStatus, options: SetHealthOptions): Promise<void> {
    const m = this.members.get(instanceId);
    if (!m || m.lifecycleState === 'Terminated') {
      throw new RemoteError('autoscaling:SetInstanceHealth', `instance ${instanceId} is not in local group ${this.name}`, {
        retryable: false,
      });
    }
    const nowMs = Date.now();
    const graceEndsMs = m.launchedAt.getTime() + this.options.healthCheckGracePeriodSeconds * 1000;
    if (options.respectGracePeriod && nowMs < graceEndsMs) {
      this.events.emit('group:instance:mark-ignored', { instanceId, reason: 'in grace period', atMs: nowMs });
      return;
    }
    if (m.healthStatus === status || m.lifecycleState === 'Terminating') return;
    m.healthStatus = status;
    this.events.emit('group:instance:marked', { instanceId, status, by: 'fleet', atMs: nowMs });
    this.reconcile();
  }

  // ── stopping ───────────────────────────────────────────────────────────────

  /** Ends every instance (SIGCONT, SIGTERM, SIGKILL after `stopTimeoutMs`); resolves when all are gone. */
  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    clearTimeout(this.retryTimer);
    const waits: Array<Promise<void>> = [];
    for (const m of [...this.members.values()]) {
      if (m.lifecycleState === 'Terminated') continue;
      if (m.lifecycleState !== 'Terminating') this.beginTermination(m, 'group stopped');
      else if (m.shutdownTimer) {
        clearTimeout(m.shutdownTimer);
        this.stopProcess(m);
      }
      waits.push(m.gone);
    }
    this.stopped = Promise.all(waits).then(() => this.reaper.close());
    return this.stopped;
  }

  /** Kills every process at once with SIGKILL, synchronously: for a forced exit. */
  killNow(): void {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    for (const m of this.members.values()) if (!m.exited) signalGroup(m.pid, 'SIGKILL');
    this.reaper.close();
  }

  /** The reaper's pid while it runs (it starts with the first instance). */
  get reaperPid(): number | undefined {
    return this.reaper.pid;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private summary(): string {
    const counts = new Map<string, number>();
    for (const m of this.members.values()) {
      const key = `${m.lifecycleState}/${m.healthStatus}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return `desired ${this.desired}; ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no instances'}`;
  }

  private instanceView(m: Member): InstanceView {
    return {
      instanceId: m.instanceId,
      groupName: this.name,
      lifecycleState: m.lifecycleState,
      healthStatus: m.healthStatus,
      launchedAt: m.launchedAt,
    };
  }

  private publicView(m: Member): LocalInstance {
    return {
      ...this.instanceView(m),
      launchedAt: m.launchedAt,
      port: m.port,
      ...(m.pid !== undefined ? { pid: m.pid } : {}),
      ...(m.inServiceAt ? { inServiceAt: m.inServiceAt } : {}),
      ...(m.terminatedAt ? { terminatedAt: m.terminatedAt } : {}),
      ...(m.replaces ? { replaces: m.replaces } : {}),
      ...(m.terminationReason ? { terminationReason: m.terminationReason } : {}),
    };
  }

  /** Brings the group towards its desired state; synchronous, idempotent, called after every change. */
  private reconcile(): void {
    if (this.stopping) return;
    const live = [...this.members.values()].filter((m) => m.lifecycleState !== 'Terminated');
    const unhealthy = live.filter((m) => m.healthStatus === 'Unhealthy' && m.lifecycleState !== 'Terminating');

    let occupied: number;
    if (this.options.replacement === 'terminate-first') {
      for (const m of unhealthy) this.beginTermination(m, 'marked Unhealthy');
      // Terminating instances still hold their slot: launch once they are gone.
      occupied = live.length;
    } else {
      occupied = live.filter((m) => m.healthStatus === 'Healthy' && m.lifecycleState !== 'Terminating').length;
      for (const m of unhealthy) {
        const replacement = [...this.members.values()].find((r) => r.replaces === m.instanceId && r.lifecycleState !== 'Terminated');
        if (replacement?.lifecycleState === 'InService' || (!replacement && occupied >= this.desired)) {
          this.beginTermination(m, 'marked Unhealthy, replacement InService');
        }
      }
    }

    if (occupied > this.desired) {
      const extra = live
        .filter((m) => m.lifecycleState !== 'Terminating' && m.healthStatus === 'Healthy')
        .sort((a, b) => b.launchedAt.getTime() - a.launchedAt.getTime())
        .slice(0, occupied - this.desired);
      for (const m of extra) this.beginTermination(m, 'scaled in');
      return;
    }

    const missing = this.desired - occupied;
    if (missing <= 0) return;
    const waitMs = this.launchBlockedUntilMs - Date.now();
    if (waitMs > 0) {
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.reconcile();
        }, waitMs);
      }
      return;
    }
    for (let i = 0; i < missing; i++) this.launch(this.nextToReplace());
  }

  /** The Unhealthy (or already terminated-for-health) instance a new launch replaces, if any. */
  private nextToReplace(): string | undefined {
    const taken = new Set([...this.members.values()].map((m) => m.replaces).filter((id): id is string => id !== undefined));
    for (const m of this.members.values()) {
      if (m.healthStatus === 'Unhealthy' && !taken.has(m.instanceId)) return m.instanceId;
    }
    return undefined;
  }

  private launch(replaces: string | undefined): void {
    // With the default prefix: `i-10ca1` and 12 digits, 17 hex digits in all — an EC2-shaped id, which
    // every parser of autoheal checks ("10ca1" reads "local").
    const instanceId = `${this.options.idPrefix}${String(this.nextId++).padStart(12, '0')}`;
    let markGone!: () => void;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const m: Member = {
      instanceId,
      groupName: this.name,
      lifecycleState: 'Pending',
      healthStatus: 'Healthy',
      launchedAt: new Date(),
      port: 0,
      ...(replaces ? { replaces } : {}),
      exited: false,
      exitCode: null,
      exitSignal: null,
      gone,
      markGone,
    };
    this.members.set(instanceId, m);
    void this.spawnMember(m).catch((error: unknown) => this.launchFailed(m, error));
  }

  private async spawnMember(m: Member): Promise<void> {
    const used = new Set([...this.members.values()].filter((o) => !o.exited).map((o) => o.port));
    let port = await freePort(host);
    for (let tries = 0; used.has(port) && tries < 5; tries++) port = await freePort(host);
    await this.spawnTurn();
    if (this.stopping || m.lifecycleState !== 'Pending') {
      this.finishTermination(m);
      return;
    }
    m.port = port;
    const env = {
      ...process.env,
      ...this.options.env,
      PORT: String(port),
      AUTOHEAL_INSTANCE_ID: m.instanceId,
      AUTOHEAL_HEALTH_PATH: this.options.healthPath,
    };
    const { file, args } = this.options.command
      ? { file: '/bin/sh', args: ['-c', this.options.command] }
      : builtInCommand();
    // Own process group (detached) so that signals reach a command's children too; stdin stays
    // a pipe the built-in server watches, so it exits with us even if we are SIGKILLed.
    const child = spawn(file, args, { env, detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
    m.child = child;
    m.pid = child.pid;
    // Listed before anything else can happen: from now on it dies with this process.
    if (m.pid !== undefined) this.reaper.add(m.pid);
    child.stdin?.on('error', () => {});
    child.once('error', (error) => {
      // A spawn that failed outright has no pid and will not emit 'exit'.
      if (child.pid === undefined) m.exited = true;
      this.launchFailed(m, error);
    });
    child.once('exit', (code, signal) => this.onExit(m, code, signal));
    if (m.pid === undefined) return;
    this.events.emit('group:instance:launched', {
      instanceId: m.instanceId,
      pid: m.pid,
      port,
      ...(m.replaces ? { replaces: m.replaces } : {}),
      atMs: Date.now(),
    });
    await this.awaitPort(m);
  }

  private async awaitPort(m: Member): Promise<void> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    while (!m.exited && m.lifecycleState === 'Pending' && !this.stopping) {
      if (await portAnswers(host, m.port, 500)) {
        if (m.exited || m.lifecycleState !== 'Pending') return;
        m.lifecycleState = 'InService';
        m.inServiceAt = new Date();
        this.launchFailures = 0;
        this.events.emit('group:instance:in-service', {
          instanceId: m.instanceId,
          pid: m.pid ?? 0,
          port: m.port,
          ...(m.replaces ? { replaces: m.replaces } : {}),
          atMs: m.inServiceAt.getTime(),
        });
        this.reconcile();
        return;
      }
      if (Date.now() > deadline) {
        this.launchFailed(m, new Error(`did not listen on ${host}:${m.port} within ${this.options.startTimeoutMs} ms`));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Resolves when this launch may spawn: one spawn per turn of the event loop. spawn() blocks
   * for 10–100 ms on a busy machine; thirty in one go would keep a Ctrl-C from being handled
   * (and the group from stopping the rest) for seconds.
   */
  private spawnTurn(): Promise<void> {
    const turn = this.spawnQueue.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.spawnQueue = turn;
    return turn;
  }

  private launchFailed(m: Member, error: unknown): void {
    if (m.lifecycleState === 'Terminating' || m.lifecycleState === 'Terminated') return;
    this.launchFailures++;
    // Free the instance it was to replace, so that the next launch replaces it instead.
    delete m.replaces;
    const backoffMs = Math.min(5_000, 100 * 2 ** (this.launchFailures - 1));
    this.launchBlockedUntilMs = Date.now() + backoffMs / 2 + Math.random() * (backoffMs / 2);
    this.events.emit('group:launch:failed', { instanceId: m.instanceId, error: describeError(error), atMs: Date.now() });
    this.logger.warn({ instanceId: m.instanceId, error: describeError(error) }, 'local group: launch failed');
    this.beginTermination(m, 'launch failed');
  }

  private onExit(m: Member, code: number | null, signal: NodeJS.Signals | null): void {
    m.exited = true;
    m.exitCode = code;
    m.exitSignal = signal;
    // The leader is gone; take whatever it left in its process group with it.
    signalGroup(m.pid, 'SIGKILL');
    if (m.pid !== undefined) this.reaper.remove(m.pid);
    clearTimeout(m.killTimer);
    clearTimeout(m.shutdownTimer);
    if (m.lifecycleState === 'Terminating' || this.stopping) {
      this.finishTermination(m);
      return;
    }
    const atMs = Date.now();
    this.events.emit('group:instance:exited', { instanceId: m.instanceId, code, signal, atMs });
    if (m.lifecycleState === 'Pending') {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.launchFailed(m, new Error(`${how} before it listened on ${host}:${m.port}`));
      return;
    }
    const notice = (): void => {
      if (this.stopping || m.lifecycleState !== 'InService') return;
      if (m.healthStatus !== 'Unhealthy') {
        m.healthStatus = 'Unhealthy';
        this.events.emit('group:instance:marked', { instanceId: m.instanceId, status: 'Unhealthy', by: 'exit', atMs: Date.now() });
      }
      this.reconcile();
    };
    if (this.options.exitNoticeDelayMs > 0) setTimeout(notice, this.options.exitNoticeDelayMs).unref();
    else notice();
  }

  private beginTermination(m: Member, reason: string): void {
    if (m.lifecycleState === 'Terminating' || m.lifecycleState === 'Terminated') return;
    m.lifecycleState = 'Terminating';
    m.terminationReason = reason;
    this.events.emit('group:instance:terminating', { instanceId: m.instanceId, reason, atMs: Date.now() });
    if (m.exited || !m.child || m.pid === undefined) {
      // Already gone, or never spawned: spawnMember sees the state and does not spawn.
      this.finishTermination(m);
      return;
    }
    if (this.options.shutdownDelayMs > 0 && !this.stopping) {
      m.shutdownTimer = setTimeout(() => this.stopProcess(m), this.options.shutdownDelayMs);
      return;
    }
    this.stopProcess(m);
  }

  private stopProcess(m: Member): void {
    m.shutdownTimer = undefined;
    if (m.exited) return;
    signalGroup(m.pid, 'SIGCONT');
    signalGroup(m.pid, 'SIGTERM');
    m.child?.stdin?.end();
    m.killTimer = setTimeout(() => signalGroup(m.pid, 'SIGKILL'), this.options.stopTimeoutMs);
  }

  private finishTermination(m: Member): void {
    if (m.lifecycleState === 'Terminated') return;
    m.lifecycleState = 'Terminated';
    m.terminatedAt = new Date();
    m.exited = true;
    m.markGone();
    this.events.emit('group:instance:terminated', {
      instanceId: m.instanceId,
      code: m.exitCode,
      signal: m.exitSignal,
      atMs: m.terminatedAt.getTime(),
    });
    this.prune();
    this.reconcile();
  }

  private prune(): void {
    const terminated = [...this.members.values()].filter((m) => m.lifecycleState === 'Terminated');
    for (const m of terminated.slice(0, Math.max(0, terminated.length - keepTerminated))) {
      // A replacement may still point at it: keep `replaces` meaningful by keeping referenced ones.
      if ([...this.members.values()].some((r) => r.replaces === m.instanceId && r.lifecycleState !== 'Terminated')) continue;
      this.members.delete(m.instanceId);
    }
  }
}
