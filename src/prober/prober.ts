/**
 * The prober: one observer's active HTTP/TCP checks of many targets, ELB-speed detection
 * without an ELB. A small state machine:
 *
 *   running ──stop()──▶ stopping ──(checks and sends in flight settled)──▶ stopped
 *
 * While running, three pure parts drive it, each tested on its own with a clock seam:
 *
 * - the schedule (schedule.ts): every target has a fixed phase in the interval; its checks are
 *   due at `start + phase + k × intervalMs`, so a slow check or a busy loop cannot make it drift.
 *   One timer wakes at the earliest due time (a heap orders them). Due checks wait for one of
 *   `concurrency` slots; a check still running when its next one is due skips that one.
 * - the threshold (threshold.ts): consecutive failures / successes turn a target's verdict; a
 *   check the observer cannot vouch for (it was late itself) is inconclusive and counts neither way.
 * - the self-check (self-check.ts): before it speaks, the observer checks itself — its loop's
 *   lateness, whether every target fails at once (cut off), a reference check — and withholds
 *   unhealthy verdicts while degraded, saying so (`prober:observer:degraded`, a warning).
 *
 * The sink gets a HealthSignal carrying the observer's name whenever the verdict differs from the
 * last one it accepted, again after a sink failure, and, while unhealthy, every
 * `repeatUnhealthyAfterMs` (so a quorum can form after a restart and held work is retried).
 * Every round the observer also beats (`heartbeat`, at most every `heartbeatEveryMs`).
 *
 * Targets are dynamic: {@link Prober.setTargets}, or a `discover` callback polled every
 * `discoverEveryMs`. The sink is pluggable: the healer in-process ({@link healerSink}) or an SNS
 * topic, published like a CloudWatch alarm ({@link snsSink}).
 */
import { Agent } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describeError } from '../errors.js';
import { TypedEvents } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { probeSignal } from '../signals/probe.js';
import type { HealthSignal } from '../signals/types.js';
import { httpCheck, tcpCheck } from './checks.js';
import { proberOptionsSchema, type ProberOptions, type ProberOptionsInput, type ProbeTarget } from './options.js';
import { DueHeap, nextDue, phaseOf } from './schedule.js';
import { initialSelfCheck, selfCheckDefaults, stepSelfCheck, type SelfCheckOptions, type SelfCheckState } from './self-check.js';
import { initialThreshold, shouldSend, stepThreshold, thresholdDetail, type CheckOutcome, type ThresholdState } from './threshold.js';
import type { CheckEvent, CheckResult, CheckTarget, Heartbeat, LastCheck, ProberEvents, ProberMode, ProberStats, ProbeSink } from './types.js';

export type { CheckEvent, CheckResult, CheckTarget, Heartbeat, LastCheck, ProberEvents, ProberMode, ProberStats, ProbeSink } from './types.js';

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
  logger?: Logger;
}

/** Runs a check with checks.ts. */
export function runDefaultCheck(target: CheckTarget, timeoutMs: number, agent: Agent): Promise<CheckResult> {
  return target.kind === 'http' ? httpCheck(target, timeoutMs, agent) : tcpCheck(target, timeoutMs);
}

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
  stats(): ProberStats;
  resetStats(): void;
  /** Stops scheduling, aborts sends, waits for checks in flight (at most `timeoutMs`). */
  stop(): Promise<void>;
  /** Settles when the prober has stopped. */
  readonly promise: Promise<void>;
}

interface TargetState {
  target: ProbeTarget;
  key: string;
  url: string;
  check: CheckTarget;
  phaseMs: number;
  dueMs: number;
  removed: boolean;
  busy: boolean;
  threshold: ThresholdState;
  /** The latest check went unanswered (for the self-check's "cut off"). */
  failingNow: boolean;
  reported: 'healthy' | 'unhealthy';
  reportedAtMs: number;
  sending: boolean;
  sequence: number;
  last?: LastCheck;
}

const keyOf = (t: ProbeTarget): string => `${t.instanceId}@${t.host}:${t.port}`;

function emptyStats(): ProberStats {
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
    recoverAfterMs: o.recoverAfterMs ?? d.recoverAfterMs,
  };
}

/** Starts probing. Options are validated here (zod's message names the option). */
export function startProber(input: ProberOptionsInput, deps: ProberDeps): Prober {
  const options = proberOptionsSchema.parse(input);
  const selfOptions = selfCheckOptionsOf(options);
  const logger = deps.logger ?? silentLogger;
  const observer = options.observer;
  const check = deps.check ?? runDefaultCheck;
  const events = new TypedEvents<ProberEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'prober event listener failed'),
  );
  const abort = new AbortController();
  // No keep-alive: every check opens a fresh connection, as a health check must (a pooled socket
  // could answer for a process that no longer accepts connections); sockets bounded by concurrency.
  const agent = new Agent({ keepAlive: false, maxSockets: options.concurrency, maxTotalSockets: options.concurrency });
  // The loop's own delay, sampled every 20 ms: the self-check's first witness of a busy machine.
  const loopResolutionMs = 20;
  const loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  loopDelay.enable();
  const startMs = performance.now();
  const byKey = new Map<string, TargetState>();
  const byInstance = new Map<string, TargetState>();
  const heap = new DueHeap<TargetState>();
  const waiting: Array<{ state: TargetState; dueMs: number }> = [];
  const inFlight = new Set<Promise<void>>();
  let mode: ProberMode = 'running';
  let running = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAtMs = Infinity;
  let stats = emptyStats();
  let latenessSum = 0;
  let self: SelfCheckState = initialSelfCheck;
  /** The worst lateness seen since the last self-check input (loop delay, late starts, late timers). */
  let worstLatenessMs = 0;
  let referenceOk: boolean | undefined;
  let lastBeatMs = -Infinity;

  function setTargets(targets: readonly ProbeTarget[]): void {
    if (mode !== 'running') return;
    const nowMs = performance.now();
    const wanted = new Map(targets.map((t) => [keyOf(t), t]));
    let added = 0;
    let removed = 0;
    for (const [key, s] of byKey) {
      if (wanted.has(key)) continue;
      s.removed = true;
      byKey.delete(key);
      if (byInstance.get(s.target.instanceId) === s) byInstance.delete(s.target.instanceId);
      removed++;
    }
    for (const [key, target] of wanted) {
      if (byKey.has(key)) continue;
      const phaseMs = phaseOf(options.jitterMs, Math.random());
      const checkTarget: CheckTarget =
        (target.check ?? options.check) === 'http'
          ? { kind: 'http', host: target.host, port: target.port, path: target.path ?? options.path, expectedStatus: target.expectedStatus ?? options.expectedStatus }
          : { kind: 'tcp', host: target.host, port: target.port };
      const s: TargetState = {
        target,
        key,
        url: checkTarget.kind === 'http' ? `http://${target.host}:${target.port}${checkTarget.path}` : `tcp://${target.host}:${target.port}`,
        check: checkTarget,
        phaseMs,
        dueMs: nextDue({ startMs, phaseMs, intervalMs: options.intervalMs, nowMs }).dueMs,
        removed: false,
        busy: false,
        threshold: initialThreshold,
        failingNow: false,
        reported: 'healthy',
        reportedAtMs: 0,
        sending: false,
        sequence: 0,
      };
      byKey.set(key, s);
      byInstance.set(target.instanceId, s);
      heap.push(s);
      added++;
    }
    stats.targets = byKey.size;
    if (added > 0 || removed > 0) events.emit('prober:targets:changed', { count: byKey.size, added, removed, atMs: Date.now() });
    arm();
  }

  function arm(): void {
    if (mode !== 'running') return;
    // Drop removed targets from the top so the timer is not armed for them.
    while (heap.peek()?.removed) heap.pop();
    const top = heap.peek();
    if (!top) return;
    if (timer && timerAtMs <= top.dueMs) return;
    clearTimeout(timer);
    timerAtMs = top.dueMs;
    timer = setTimeout(tick, Math.max(0, top.dueMs - performance.now()));
  }

  function tick(): void {
    timer = undefined;
    timerAtMs = Infinity;
    if (mode !== 'running') return;
    const nowMs = performance.now();
    for (let s = heap.peek(); s && s.dueMs <= nowMs; s = heap.peek()) {
      heap.pop();
      if (s.removed) continue;
      const dueMs = s.dueMs;
      const next = nextDue({ startMs, phaseMs: s.phaseMs, intervalMs: options.intervalMs, nowMs, dueMs });
      stats.skipped += next.missed;
      s.dueMs = next.dueMs;
      heap.push(s);
      if (s.busy) {
        stats.skipped++;
        continue;
      }
      s.busy = true;
      waiting.push({ state: s, dueMs });
    }
    drain();
    arm();
  }

  function drain(): void {
    while (running < options.concurrency && waiting.length > 0 && mode === 'running') {
      const next = waiting.shift();
      if (!next) break;
      if (next.state.removed) {
        next.state.busy = false;
        continue;
      }
      running++;
      const p = runCheck(next.state, next.dueMs).finally(() => {
        running--;
        inFlight.delete(p);
        drain();
      });
      inFlight.add(p);
    }
  }

  /**
   * How late a timed-out check's own timer fired. Beyond half the timeout (at least 20 ms) the
   * observer cannot vouch for it: the answer may have sat unread in the socket while the loop was
   * busy, so the check is inconclusive and counts neither way.
   */
  const maxOverrunMs = Math.max(20, options.timeoutMs / 2);
  function overrunOf(result: CheckResult, ms: number): number {
    return result.error?.startsWith('timeout') ? Math.max(0, ms - options.timeoutMs) : 0;
  }

  async function runCheck(s: TargetState, dueMs: number): Promise<void> {
    const startedMs = performance.now();
    const latenessMs = Math.max(0, startedMs - dueMs);
    const t = s.target;
    const result = await check(s.check, options.timeoutMs, agent);
    s.busy = false;
    const ms = performance.now() - startedMs;
    stats.checks++;
    latenessSum += latenessMs;
    stats.meanLatenessMs = latenessSum / stats.checks;
    if (latenessMs > stats.maxLatenessMs) stats.maxLatenessMs = latenessMs;
    if (latenessMs > 100) stats.lateOver100Ms++;
    if (s.removed || mode !== 'running') return;
    const atMs = Date.now();
    const overrunMs = result.ok ? 0 : overrunOf(result, ms);
    worstLatenessMs = Math.max(worstLatenessMs, latenessMs, overrunMs);
    s.last = { ok: result.ok, atMs, ms, ...(result.error ? { error: result.error } : {}) };
    // Only a check nothing answered counts toward "cut off": a 503 or a refused connection came back
    // from the target, so the observer's network reached it — that target is down, not the observer.
    s.failingNow = !result.ok && result.status === undefined && !/ECONNREFUSED|ECONNRESET/.test(result.error ?? '');
    const outcome: CheckOutcome = result.ok
      ? { kind: 'ok' }
      : overrunMs > maxOverrunMs
        ? { kind: 'inconclusive', why: `the check's timer fired ${Math.round(overrunMs)} ms late` }
        : { kind: 'failed', error: result.error ?? 'failed' };
    if (!result.ok) stats.failures++;
    if (outcome.kind === 'inconclusive') stats.inconclusive++;
    const step = stepThreshold(s.threshold, outcome, options);
    s.threshold = step.state;
    const payload: CheckEvent = {
      instanceId: t.instanceId,
      target: s.url,
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      ms,
      latenessMs,
      consecutiveFailures: s.threshold.failures,
      ...(outcome.kind === 'inconclusive' ? { inconclusive: true } : {}),
      atMs,
    };
    events.emit(result.ok ? 'prober:check:succeeded' : 'prober:check:failed', payload);
    if (step.crossed) {
      events.emit(step.crossed === 'unhealthy' ? 'prober:target:unhealthy' : 'prober:target:healthy', {
        instanceId: t.instanceId,
        target: s.url,
        detail: thresholdDetail(s.threshold),
        atMs,
      });
    }
    assessSelf();
    report(s);
  }

  /** Feeds the self-check what the observer saw of itself since the last time. */
  function assessSelf(): void {
    // The histogram records each sample's whole period, so an idle loop reads the resolution.
    const loopLateMs = loopDelay.max / 1e6 - loopResolutionMs;
    loopDelay.reset();
    let failing = 0;
    for (const s of byKey.values()) if (s.failingNow) failing++;
    const step = stepSelfCheck(
      self,
      {
        nowMs: performance.now(),
        latenessMs: Math.max(worstLatenessMs, Number.isFinite(loopLateMs) ? loopLateMs : 0),
        targets: byKey.size,
        failing,
        ...(referenceOk !== undefined ? { referenceOk } : {}),
      },
      selfOptions,
    );
    worstLatenessMs = 0;
    const before = self;
    self = step.state;
    const atMs = Date.now();
    if (step.changed === 'degraded') {
      logger.warn({ observer, reasons: self.reasons }, 'prober: observer degraded; withholding unhealthy verdicts');
      events.emit('prober:observer:degraded', { observer, reasons: self.reasons, atMs });
    } else if (step.changed === 'recovered') {
      const degradedForMs = Math.round(performance.now() - (before.sinceMs ?? performance.now()));
      logger.warn({ observer, degradedForMs }, 'prober: observer recovered; verdicts flow again');
      events.emit('prober:observer:recovered', { observer, degradedForMs, atMs });
    }
  }

  function report(s: TargetState): void {
    if (s.sending || mode !== 'running') return;
    const nowMs = Date.now();
    const state = s.threshold.verdict;
    const decision = shouldSend({
      verdict: state,
      reported: s.reported,
      reportedAtMs: s.reportedAtMs,
      nowMs,
      repeatUnhealthyAfterMs: options.repeatUnhealthyAfterMs,
      degraded: self.degraded,
    });
    if (decision === 'none') return;
    if (decision === 'withhold') {
      stats.signalsWithheld++;
      logger.info({ observer, instanceId: s.target.instanceId, reasons: self.reasons }, 'prober: unhealthy verdict withheld (observer degraded)');
      events.emit('prober:signal:withheld', { observer, instanceId: s.target.instanceId, reasons: self.reasons, atMs: nowMs });
      return;
    }
    s.sending = true;
    s.sequence++;
    const signal: HealthSignal = {
      ...probeSignal({
        instanceId: s.target.instanceId,
        healthy: state === 'healthy',
        target: s.url,
        observedAt: new Date(nowMs).toISOString(),
        detail: thresholdDetail(s.threshold),
        sequence: s.sequence,
        observer,
      }),
      ...(deps.region ? { region: deps.region } : {}),
    };
    const startedMs = performance.now();
    const p = deps
      .sink(signal, { signal: abort.signal })
      .then(
        () => {
          s.reported = state;
          s.reportedAtMs = Date.now();
          stats.signalsSent++;
          events.emit('prober:signal:sent', { signal, ms: performance.now() - startedMs, atMs: Date.now() });
        },
        (error: unknown) => {
          stats.signalsFailed++;
          const text = describeError(error);
          logger.warn({ instanceId: signal.instanceId, state, error: text }, 'prober: sink failed; will send again at the next check');
          events.emit('prober:signal:failed', { signal, error: text, atMs: Date.now() });
        },
      )
      .finally(() => {
        s.sending = false;
        inFlight.delete(p);
      });
    inFlight.add(p);
  }

  // The round: once an interval, the reference check, the self-check (a stalled loop is seen
  // even with no target due) and, at most every heartbeatEveryMs, a heartbeat.
  const reference: CheckTarget | undefined = options.reference
    ? options.reference.check === 'http'
      ? { kind: 'http', host: options.reference.host, port: options.reference.port, path: options.reference.path, expectedStatus: 200 }
      : { kind: 'tcp', host: options.reference.host, port: options.reference.port }
    : undefined;
  let roundBusy = false;
  async function round(): Promise<void> {
    if (mode !== 'running' || roundBusy) return;
    roundBusy = true;
    try {
      if (reference) referenceOk = (await check(reference, options.timeoutMs, agent)).ok;
      if (mode !== 'running') return;
      assessSelf();
      const nowMs = performance.now();
      if (deps.heartbeat && nowMs - lastBeatMs >= options.heartbeatEveryMs) {
        lastBeatMs = nowMs;
        let unhealthy = 0;
        for (const s of byKey.values()) if (s.threshold.verdict === 'unhealthy') unhealthy++;
        const beat: Heartbeat = { observer, degraded: self.degraded, reasons: self.reasons, targets: byKey.size, unhealthy, atMs: Date.now() };
        events.emit('prober:heartbeat', beat);
        try {
          await deps.heartbeat(beat);
        } catch (error) {
          logger.warn({ observer, error: describeError(error) }, 'prober: heartbeat failed');
        }
      }
    } finally {
      roundBusy = false;
    }
  }
  const roundTimer = setInterval(() => void round(), options.intervalMs);
  void round();

  // Discovery: replaces the targets now and then; a failure keeps the previous targets.
  let discoveryTimer: NodeJS.Timeout | undefined;
  async function discoverOnce(): Promise<void> {
    if (!deps.discover || mode !== 'running') return;
    try {
      setTargets(await deps.discover(abort.signal));
    } catch (error) {
      if (mode !== 'running') return;
      const text = describeError(error);
      logger.warn({ error: text }, 'prober: discovery failed; keeping the previous targets');
      events.emit('prober:discovery:failed', { error: text, atMs: Date.now() });
    }
    if (mode === 'running') discoveryTimer = setTimeout(() => void discoverOnce(), deps.discoverEveryMs ?? 30_000);
  }

  let resolveStopped!: () => void;
  const promise = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopped: Promise<void> | undefined;

  setTargets(deps.targets ?? []);
  void discoverOnce();

  return {
    options,
    events,
    mode: () => mode,
    setTargets,
    targets: () => [...byKey.values()].map((s) => s.target),
    lastCheck: (instanceId) => byInstance.get(instanceId)?.last,
    state: (instanceId) => byInstance.get(instanceId)?.threshold.verdict,
    selfCheck: () => self,
    stats: () => ({ ...stats, targets: byKey.size }),
    resetStats() {
      stats = emptyStats();
      stats.targets = byKey.size;
      latenessSum = 0;
    },
    stop() {
      if (stopped) return stopped;
      mode = 'stopping';
      clearTimeout(timer);
      clearTimeout(discoveryTimer);
      clearInterval(roundTimer);
      loopDelay.disable();
      heap.clear();
      for (const w of waiting) w.state.busy = false;
      waiting.length = 0;
      abort.abort(new Error('prober stopped'));
      stopped = Promise.allSettled([...inFlight]).then(() => {
        agent.destroy();
        mode = 'stopped';
        resolveStopped();
      });
      return stopped;
    },
    promise,
  };
}
