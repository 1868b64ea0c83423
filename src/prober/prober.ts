/**
 * The prober: active HTTP/TCP checks of many targets, ELB-speed detection without an ELB.
 *
 * Schedule. Every target has a fixed phase in the interval (random in [0, jitterMs)); its checks
 * are due at `start + phase + k × intervalMs`, computed from the fixed start, never from the end
 * of the previous check, so a slow check or a busy event loop cannot make the schedule drift.
 * One timer wakes at the earliest due time (a binary heap orders them). Due checks wait for one
 * of `concurrency` slots; the wait is their lateness, which {@link Prober.stats} reports. A check
 * still running (or waiting) when its next one is due skips that one (counted as `skipped`).
 *
 * Verdicts. A target turns unhealthy after `unhealthyThreshold` consecutive failures and healthy
 * again after `healthyThreshold` consecutive successes. The sink gets a HealthSignal (probeSignal)
 * whenever the state differs from the last one it accepted: on each transition, again after a
 * sink failure (at the next check), and, while unhealthy, every `repeatUnhealthyAfterMs`. Targets
 * start healthy and nothing is sent for a target that never failed.
 *
 * Targets are dynamic: {@link Prober.setTargets}, or a `discover` callback polled every
 * `discoverEveryMs`. The sink is pluggable: the healer in-process ({@link healerSink}) or an SNS
 * topic, published like a CloudWatch alarm ({@link snsSink}).
 */
import { Agent } from 'node:http';
import { describeError } from '../errors.js';
import { TypedEvents } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { probeSignal } from '../signals/probe.js';
import type { HealthSignal } from '../signals/types.js';
import { httpCheck, tcpCheck } from './checks.js';
import { proberOptionsSchema, type ProberOptions, type ProberOptionsInput, type ProbeTarget } from './options.js';

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
  atMs: number;
}

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
  'prober:discovery:failed': { error: string; atMs: number };
  'prober:targets:changed': { count: number; added: number; removed: number; atMs: number };
}

/** Counters since the start (or the last {@link Prober.resetStats}). */
export interface ProberStats {
  targets: number;
  checks: number;
  failures: number;
  /** Checks not run because the previous check of the same target was still running or waiting. */
  skipped: number;
  maxLatenessMs: number;
  meanLatenessMs: number;
  /** Checks that started more than 100 ms after their due time. */
  lateOver100Ms: number;
  signalsSent: number;
  signalsFailed: number;
}

/** What {@link startProber} needs besides the options. */
export interface ProberDeps {
  sink: ProbeSink;
  targets?: readonly ProbeTarget[];
  /** Called at start and every `discoverEveryMs`; its result replaces the targets. */
  discover?: (signal: AbortSignal) => Promise<ProbeTarget[]>;
  discoverEveryMs?: number;
  /** The region written into signals (and so into SNS alarm messages). */
  region?: string;
  logger?: Logger;
}

/** A running prober. */
export interface Prober {
  readonly options: ProberOptions;
  readonly events: TypedEvents<ProberEvents>;
  /** Replaces the targets; targets kept (same id, host and port) keep their state and schedule. */
  setTargets(targets: readonly ProbeTarget[]): void;
  targets(): ProbeTarget[];
  /** The last check of an instance, if any. */
  lastCheck(instanceId: string): LastCheck | undefined;
  /** The state the prober holds for an instance. */
  state(instanceId: string): 'healthy' | 'unhealthy' | undefined;
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
  /** The HTTP check's request, resolved once from the target and the options; undefined for a TCP check. */
  http: { host: string; port: number; path: string; expectedStatus: number } | undefined;
  phaseMs: number;
  dueMs: number;
  removed: boolean;
  busy: boolean;
  failures: number;
  successes: number;
  lastError: string;
  state: 'healthy' | 'unhealthy';
  reported: 'healthy' | 'unhealthy';
  reportedAtMs: number;
  sending: boolean;
  sequence: number;
  last?: LastCheck;
}

/** A binary min-heap of targets by due time. */
class DueHeap {
  private readonly items: TargetState[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): TargetState | undefined {
    return this.items[0];
  }
  push(item: TargetState): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as TargetState).dueMs <= item.dueMs) break;
      a[i] = a[parent] as TargetState;
      i = parent;
    }
    a[i] = item;
  }
  pop(): TargetState | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (a[r] as TargetState).dueMs < (a[l] as TargetState).dueMs ? r : l;
      if ((a[c] as TargetState).dueMs >= last.dueMs) break;
      a[i] = a[c] as TargetState;
      i = c;
    }
    a[i] = last;
    return top;
  }
  clear(): void {
    this.items.length = 0;
  }
}

const keyOf = (t: ProbeTarget): string => `${t.instanceId}@${t.host}:${t.port}`;

/** Starts probing. Options are validated here (ConfigError-free: zod's message names the option). */
export function startProber(input: ProberOptionsInput, deps: ProberDeps): Prober {
  const options = proberOptionsSchema.parse(input);
  const logger = deps.logger ?? silentLogger;
  const events = new TypedEvents<ProberEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'prober event listener failed'),
  );
  const abort = new AbortController();
  // No keep-alive: every check opens a fresh connection, as a health check must (a pooled socket
  // could answer for a process that no longer accepts connections); sockets bounded by concurrency.
  const agent = new Agent({ keepAlive: false, maxSockets: options.concurrency, maxTotalSockets: options.concurrency });
  const startMs = performance.now();
  const byKey = new Map<string, TargetState>();
  const byInstance = new Map<string, TargetState>();
  const heap = new DueHeap();
  const waiting: Array<{ state: TargetState; dueMs: number }> = [];
  const inFlight = new Set<Promise<void>>();
  let running = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAtMs = Infinity;
  let stopping = false;
  let stats = emptyStats();
  let latenessSum = 0;

  function emptyStats(): ProberStats {
    return { targets: 0, checks: 0, failures: 0, skipped: 0, maxLatenessMs: 0, meanLatenessMs: 0, lateOver100Ms: 0, signalsSent: 0, signalsFailed: 0 };
  }

  function nextDue(phaseMs: number, nowMs: number): number {
    const k = Math.max(0, Math.ceil((nowMs - startMs - phaseMs) / options.intervalMs));
    return startMs + phaseMs + k * options.intervalMs;
  }

  function setTargets(targets: readonly ProbeTarget[]): void {
    if (stopping) return;
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
      const phaseMs = options.jitterMs > 0 ? Math.random() * options.jitterMs : 0;
      const http =
        (target.check ?? options.check) === 'http'
          ? {
              host: target.host,
              port: target.port,
              path: target.path ?? options.path,
              expectedStatus: target.expectedStatus ?? options.expectedStatus,
            }
          : undefined;
      const s: TargetState = {
        target,
        key,
        url: http ? `http://${target.host}:${target.port}${http.path}` : `tcp://${target.host}:${target.port}`,
        http,
        phaseMs,
        dueMs: nextDue(phaseMs, nowMs),
        removed: false,
        busy: false,
        failures: 0,
        successes: 0,
        lastError: '',
        state: 'healthy',
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
    if (stopping) return;
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
    if (stopping) return;
    const nowMs = performance.now();
    for (let s = heap.peek(); s && s.dueMs <= nowMs; s = heap.peek()) {
      heap.pop();
      if (s.removed) continue;
      const dueMs = s.dueMs;
      s.dueMs += options.intervalMs;
      // Fell behind by more than an interval (a long pause): skip the missed ones, keep the phase.
      if (s.dueMs <= nowMs) {
        const missed = Math.ceil((nowMs - s.dueMs) / options.intervalMs);
        stats.skipped += missed;
        s.dueMs += missed * options.intervalMs;
      }
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
    while (running < options.concurrency && waiting.length > 0 && !stopping) {
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

  async function runCheck(s: TargetState, dueMs: number): Promise<void> {
    const startedMs = performance.now();
    const latenessMs = Math.max(0, startedMs - dueMs);
    const t = s.target;
    const result = s.http ? await httpCheck(s.http, options.timeoutMs, agent) : await tcpCheck(t, options.timeoutMs);
    s.busy = false;
    const ms = performance.now() - startedMs;
    stats.checks++;
    latenessSum += latenessMs;
    stats.meanLatenessMs = latenessSum / stats.checks;
    if (latenessMs > stats.maxLatenessMs) stats.maxLatenessMs = latenessMs;
    if (latenessMs > 100) stats.lateOver100Ms++;
    if (s.removed || stopping) return;
    const atMs = Date.now();
    s.last = { ok: result.ok, atMs, ms, ...(result.error ? { error: result.error } : {}) };
    if (result.ok) {
      s.successes++;
      s.failures = 0;
    } else {
      stats.failures++;
      s.failures++;
      s.successes = 0;
      s.lastError = result.error ?? 'failed';
    }
    const payload: CheckEvent = {
      instanceId: t.instanceId,
      target: s.url,
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      ms,
      latenessMs,
      consecutiveFailures: s.failures,
      atMs,
    };
    events.emit(result.ok ? 'prober:check:succeeded' : 'prober:check:failed', payload);

    if (s.state === 'healthy' && s.failures >= options.unhealthyThreshold) {
      s.state = 'unhealthy';
      events.emit('prober:target:unhealthy', { instanceId: t.instanceId, target: s.url, detail: detailOf(s), atMs });
    } else if (s.state === 'unhealthy' && s.successes >= options.healthyThreshold) {
      s.state = 'healthy';
      events.emit('prober:target:healthy', { instanceId: t.instanceId, target: s.url, detail: detailOf(s), atMs });
    }
    report(s);
  }

  function detailOf(s: TargetState): string {
    return s.state === 'unhealthy'
      ? `${s.failures} consecutive failures: ${s.lastError}`
      : `${s.successes} consecutive successes`;
  }

  function report(s: TargetState): void {
    if (s.sending || stopping) return;
    const nowMs = Date.now();
    const repeat =
      s.state === 'unhealthy' && options.repeatUnhealthyAfterMs > 0 && nowMs - s.reportedAtMs >= options.repeatUnhealthyAfterMs;
    if (s.state === s.reported && !repeat) return;
    s.sending = true;
    s.sequence++;
    const state = s.state;
    const signal: HealthSignal = {
      ...probeSignal({
        instanceId: s.target.instanceId,
        healthy: state === 'healthy',
        target: s.url,
        observedAt: new Date(nowMs).toISOString(),
        detail: detailOf(s),
        sequence: s.sequence,
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

  // Discovery: replaces the targets now and then; a failure keeps the previous targets.
  let discoveryTimer: NodeJS.Timeout | undefined;
  async function discoverOnce(): Promise<void> {
    if (!deps.discover || stopping) return;
    try {
      setTargets(await deps.discover(abort.signal));
    } catch (error) {
      if (stopping) return;
      const text = describeError(error);
      logger.warn({ error: text }, 'prober: discovery failed; keeping the previous targets');
      events.emit('prober:discovery:failed', { error: text, atMs: Date.now() });
    }
    if (!stopping) discoveryTimer = setTimeout(() => void discoverOnce(), deps.discoverEveryMs ?? 30_000);
  }

  let resolveStopped!: () => void;
  const promise = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopped: Promise<void> | undefined;

  setTargets(deps.targets ?? []);
  void discoverOnce();

  return {
    options,
    events,
    setTargets,
    targets: () => [...byKey.values()].map((s) => s.target),
    lastCheck: (instanceId) => byInstance.get(instanceId)?.last,
    state: (instanceId) => byInstance.get(instanceId)?.state,
    stats: () => ({ ...stats, targets: byKey.size }),
    resetStats() {
      stats = emptyStats();
      stats.targets = byKey.size;
      latenessSum = 0;
    },
    stop() {
      if (stopped) return stopped;
      stopping = true;
      clearTimeout(timer);
      clearTimeout(discoveryTimer);
      heap.clear();
      for (const w of waiting) w.state.busy = false;
      waiting.length = 0;
      abort.abort(new Error('prober stopped'));
      stopped = Promise.allSettled([...inFlight]).then(() => {
        agent.destroy();
        resolveStopped();
      });
      return stopped;
    },
    promise,
  };
}
