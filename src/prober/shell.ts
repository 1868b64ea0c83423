/**
 * The prober's thin shell: it owns the I/O the machine (machine.ts) only names — the checks and
 * their sockets, the sink, the heartbeat, discovery, the typed events, the log — and one seam for
 * time and chance (clock.ts). It turns what happens into events, feeds them to the machine one at
 * a time, and carries out the effects the machine returns. It decides nothing itself.
 */
import { Agent } from 'node:http';
import { describeError } from '../errors.js';
import { TypedEvents } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { httpCheck, tcpCheck } from './checks.js';
import { NamedTimers, realClock, type LoopWatch, type ProberClock } from './clock.js';
import { start, step } from './machine.js';
import type { ProberOptions, ProbeTarget } from './options.js';
import { machineSettings, type Effect, type ProberEvent, type ProberState, type Reading, type Step, type TimerName } from './state.js';
import type { CheckResult, CheckTarget, Heartbeat, ProberEvents, ProbeSink } from './types.js';

/** What {@link startProber} needs besides the options. */
export interface ProberDeps {
  sink: ProbeSink;
  targets?: readonly ProbeTarget[];
  /** Called at start and every `discoverEveryMs`; its result replaces the targets. */
  discover?: (signal: AbortSignal) => Promise<ProbeTarget[]>;
  discoverEveryMs?: number;
  /** The region written into signals (and so into SNS alarm messages). */
  region?: string;
  /** Called with each heartbeat; a throw is logged, never stops the prober. */
  heartbeat?: (beat: Heartbeat) => void | Promise<void>;
  /**
   * Runs one check (default: the HTTP or TCP check of checks.ts). The demo's injected black hole
   * wraps it; everything else uses the default.
   */
  check?: (target: CheckTarget, timeoutMs: number, agent: Agent) => Promise<CheckResult>;
  /** Time and chance (default: the real clock). */
  clock?: ProberClock;
  logger?: Logger;
}

/** Runs a check with checks.ts. */
export function runDefaultCheck(target: CheckTarget, timeoutMs: number, agent: Agent): Promise<CheckResult> {
  return target.kind === 'http' ? httpCheck(target, timeoutMs, agent) : tcpCheck(target, timeoutMs);
}

/** Calls `fn`; a synchronous throw rejects the promise like an asynchronous one. */
function attempt<T>(fn: () => T | Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

/** The discovery's default period. */
const discoverEveryMsDefault = 30_000;

/** One prober's shell: the machine's state, and everything it does not do itself. */
export class ProberShell {
  readonly events: TypedEvents<ProberEvents>;
  /** Settles once the machine has stopped. */
  readonly stopped: Promise<void>;
  private machine: ProberState;
  private readonly clock: ProberClock;
  private readonly logger: Logger;
  private readonly check: NonNullable<ProberDeps['check']>;
  private readonly abort = new AbortController();
  private readonly agent: Agent;
  private readonly loop: LoopWatch;
  private readonly timers: NamedTimers<TimerName>;
  /** Events that arrived while the effects of another were carried out (a listener that calls stop()). */
  private readonly mailbox: ProberEvent[] = [];
  private busy = false;
  private settle: () => void = () => {};

  constructor(
    private readonly options: ProberOptions,
    private readonly deps: ProberDeps,
  ) {
    this.clock = deps.clock ?? realClock;
    this.logger = deps.logger ?? silentLogger;
    this.check = deps.check ?? runDefaultCheck;
    this.events = new TypedEvents<ProberEvents>((error, event) => this.logger.warn({ event, error: describeError(error) }, 'prober event listener failed'));
    this.stopped = new Promise<void>((resolve) => (this.settle = resolve));
    // No keep-alive: every check opens a fresh connection, as a health check must (a pooled socket
    // could answer for a process that no longer accepts connections); sockets bounded by concurrency.
    this.agent = new Agent({ keepAlive: false, maxSockets: options.concurrency, maxTotalSockets: options.concurrency });
    this.loop = this.clock.watchLoop();
    this.timers = new NamedTimers(this.clock);
    const settings = machineSettings(options, {
      ...(deps.region ? { region: deps.region } : {}),
      heartbeat: deps.heartbeat !== undefined,
      ...(deps.discover ? { discoverEveryMs: deps.discoverEveryMs ?? discoverEveryMsDefault } : {}),
    });
    const targets = deps.targets ?? [];
    const first = start(settings, { ...this.reading(), targets, chance: targets.map(() => this.clock.random()) });
    this.machine = first.state;
    this.drive(first);
  }

  /** The machine's state, to read (never to change: only the machine does). */
  get state(): ProberState {
    return this.machine;
  }

  setTargets(targets: readonly ProbeTarget[]): void {
    this.feed({ type: 'targets:set', targets, chance: targets.map(() => this.clock.random()), ...this.reading() });
  }

  resetStats(): void {
    this.feed({ type: 'stats:reset', ...this.reading() });
  }

  stop(): Promise<void> {
    this.feed({ type: 'stop', ...this.reading() });
    return this.stopped;
  }

  private reading(): Reading {
    return { nowMs: this.clock.now(), atMs: this.clock.epochMs() };
  }

  /** Feeds the machine one event at a time: one that arrives while effects are carried out waits its turn. */
  private feed(event: ProberEvent): void {
    this.mailbox.push(event);
    if (!this.busy) this.drive();
  }

  private drive(first?: Step): void {
    this.busy = true;
    try {
      if (first) this.carryOut(first);
      for (let e = this.mailbox.shift(); e !== undefined; e = this.mailbox.shift()) this.carryOut(step(this.machine, e));
    } finally {
      this.busy = false;
    }
  }

  private carryOut(next: Step): void {
    this.machine = next.state;
    for (const effect of next.effects) this.perform(effect);
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'timer:set':
        return this.timers.set(effect.timer, effect.atMs, () => this.feed(this.timerEvent(effect.timer)));
      case 'timer:clear':
        return this.timers.clear(effect.timer);
      case 'check':
        return this.runCheck(effect.id, effect.check);
      case 'reference':
        return this.runReference(effect.check);
      case 'send':
        return this.send(effect.id, effect.signal);
      case 'heartbeat':
        return this.beat(effect.beat);
      case 'discover':
        return this.discover();
      case 'emit':
        return this.events.emit(effect.event, effect.payload);
      case 'log':
        return this.logger[effect.level](effect.fields, effect.message);
      case 'halt':
        this.abort.abort(new Error('prober stopped'));
        return this.loop.stop();
      case 'finish':
        this.timers.clearAll();
        this.agent.destroy();
        return this.settle();
    }
  }

  private timerEvent(name: TimerName): ProberEvent {
    const r = this.reading();
    if (name === 'schedule') return { type: 'schedule:due', ...r };
    if (name === 'round') return { type: 'round:due', loopLateMs: this.loop.lateMs(), ...r };
    if (name === 'discovery') return { type: 'discovery:due', ...r };
    return { type: 'stop:due', ...r };
  }

  /** A check that throws (a broken injected one) fails like an unanswered one, and frees its slot. */
  private runCheck(id: number, target: CheckTarget): void {
    const startedMs = this.clock.now();
    const done = (result: CheckResult): void =>
      this.feed({ type: 'check:done', id, result, ms: this.clock.now() - startedMs, loopLateMs: this.loop.lateMs(), ...this.reading() });
    attempt(() => this.check(target, this.options.timeoutMs, this.agent)).then(done, (error: unknown) => done({ ok: false, error: `check threw: ${describeError(error)}` }));
  }

  private runReference(target: CheckTarget): void {
    const done = (ok: boolean): void => this.feed({ type: 'reference:done', ok, loopLateMs: this.loop.lateMs(), ...this.reading() });
    attempt(() => this.check(target, this.options.timeoutMs, this.agent)).then(
      (result) => done(result.ok),
      () => done(false),
    );
  }

  private send(id: number, signal: Parameters<ProbeSink>[0]): void {
    const startedMs = this.clock.now();
    attempt(() => this.deps.sink(signal, { signal: this.abort.signal })).then(
      () => this.feed({ type: 'send:done', id, ms: this.clock.now() - startedMs, ...this.reading() }),
      (error: unknown) => this.feed({ type: 'send:failed', id, error: describeError(error), ...this.reading() }),
    );
  }

  private beat(beat: Heartbeat): void {
    attempt(() => this.deps.heartbeat?.(beat)).then(
      () => this.feed({ type: 'heartbeat:done', ...this.reading() }),
      (error: unknown) => this.feed({ type: 'heartbeat:done', error: describeError(error), ...this.reading() }),
    );
  }

  private discover(): void {
    const failed = (error: string): void => this.feed({ type: 'discovery:failed', error, ...this.reading() });
    attempt(() => this.deps.discover?.(this.abort.signal)).then(
      (targets) =>
        Array.isArray(targets)
          ? this.feed({ type: 'discovery:done', targets, chance: targets.map(() => this.clock.random()), ...this.reading() })
          : failed(`discover returned ${typeof targets}, not a list of targets`),
      (error: unknown) => failed(describeError(error)),
    );
  }
}
