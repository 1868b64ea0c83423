/**
 * The prober's loop as a pure machine: `step(state, event)` returns `{ state, effects }`. It does
 * no I/O, reads no clock and draws no chance: every event carries the clock's two readings
 * (`nowMs`, monotonic, for the schedule and the self-check; `atMs`, since the epoch, for what is
 * reported), new targets arrive with the random numbers that place them in the interval, and what
 * must happen outside — run a check, send a verdict, set a timer, emit an event — comes back as
 * effects, plain data that the shell (prober.ts) carries out, feeding what comes of them back in.
 *
 * The observer:
 *
 *              stop                     nothing left in flight, or the stop bound passed
 *   running ─────────▶ stopping ─────────────────────────────────────────────────────▶ stopped
 *                      (checks and sends in flight end and are counted; nothing new starts)
 *
 * Each target, while running (a target no longer wanted is `removed`: what it has in flight ends,
 * nothing new starts, and the machine forgets it):
 *
 *          schedule:due               a slot is free              check:done
 *   idle ───────────────▶ queued ─────────────────▶ checking ─────────────────▶ idle
 *      (due again while queued or checking: that check is skipped and counted)
 *
 *   its verdict's delivery:   quiet ──send──▶ sending ──send:done / send:failed──▶ quiet
 *
 * The round, once an interval from the start:
 *
 *   idle ──round:due──▶ referencing ──reference:done──▶ beating ──heartbeat:done──▶ idle
 *   (no reference check: straight to the self-check; no heartbeat due: straight back to idle)
 *
 * Discovery, when a `discover` callback is set (else `off`):
 *
 *   discovering ──discovery:done / discovery:failed──▶ waiting ──discovery:due──▶ discovering
 *
 * Three pure parts, each tested on its own, do the judging:
 *
 * - the schedule (schedule.ts): every target has a fixed phase in the interval; its checks are due
 *   at `start + phase + k × intervalMs`, so a slow check or a busy loop cannot make it drift. The
 *   machine asks for one timer at the earliest due time (a heap orders them). Due checks wait for
 *   one of `concurrency` slots; a check still running when its next one is due skips that one.
 * - the threshold (threshold.ts): consecutive failures / successes turn a target's verdict; a
 *   check the observer cannot vouch for (it was late itself) is inconclusive and counts neither way.
 * - the self-check (self-check.ts): before it speaks, the observer checks itself — its loop's
 *   lateness, whether every target fails at once (cut off), a reference check — and withholds
 *   unhealthy verdicts while degraded, saying so (`prober:observer:degraded`, a warning).
 *
 * A verdict is sent whenever it differs from the last one the sink accepted, again after a sink
 * failure, and, while unhealthy, every `repeatUnhealthyAfterMs` (so a quorum can form after a
 * restart and held work is retried). Each round also beats (at most every `heartbeatEveryMs`).
 *
 * Rooms: the vocabulary (settings, states, events, effects) is in state.ts; this file moves the
 * targets, the schedule, the slots, discovery and the stop; verdict.ts judges a check and reports;
 * round.ts runs the round.
 *
 * The machine owns the state it is handed. A step updates the state's collections in place and
 * returns the state to use next; the shell never keeps an old one. Copying thousands of targets
 * on each of a thousand events a second would cost more than the checks themselves; determinism
 * is what matters, and the same events from the same state always give the same states and effects.
 */
import type { ProberOptions, ProbeTarget } from './options.js';
import { initialPath, joinGroup, leaveGroup } from './reach.js';
import { beginRound, onHeartbeatDone, onReferenceDone, onRoundDue } from './round.js';
import { DueHeap, nextDue, phaseOf } from './schedule.js';
import { initialSelfCheck } from './self-check.js';
import { initialThreshold } from './threshold.js';
import type { CheckTarget } from './types.js';
import {
  emit,
  emptyStats,
  forgetIfDone,
  idle,
  quiet,
  roundIdle,
  type Effect,
  type EventOf,
  type MachineSettings,
  type ProberEvent,
  type ProberState,
  type Reading,
  type Step,
  type TargetRecord,
  type TargetsInput,
} from './state.js';
import { judge, onSendSettled } from './verdict.js';

const keyOf = (t: ProbeTarget): string => `${t.instanceId}@${t.host}:${t.port}`;

function checkOf(target: ProbeTarget, o: ProberOptions): CheckTarget {
  return (target.check ?? o.check) === 'http'
    ? { kind: 'http', host: target.host, port: target.port, path: target.path ?? o.path, expectedStatus: target.expectedStatus ?? o.expectedStatus }
    : { kind: 'tcp', host: target.host, port: target.port };
}

const urlOf = (c: CheckTarget): string => (c.kind === 'http' ? `http://${c.host}:${c.port}${c.path}` : `tcp://${c.host}:${c.port}`);

/**
 * The first step: the machine running from `nowMs`, its first targets placed, its first round done
 * (so the first heartbeat counts the targets it was given) and, with a discover callback, discovery
 * under way.
 */
export function start(settings: MachineSettings, event: Reading & TargetsInput): Step {
  const s: ProberState = {
    settings,
    mode: { name: 'running' },
    startMs: event.nowMs,
    records: new Map(),
    byKey: new Map(),
    byInstance: new Map(),
    due: new DueHeap(),
    queue: [],
    nextId: 1,
    checking: 0,
    sending: 0,
    scheduleAtMs: Infinity,
    failing: 0,
    refused: 0,
    recovering: 0,
    groups: new Map(),
    beats: 0,
    probed: 0,
    beatLatenessMs: 0,
    unhealthy: 0,
    self: initialSelfCheck,
    worstLatenessMs: 0,
    round: roundIdle,
    roundDueMs: event.nowMs + settings.options.intervalMs,
    lastBeatMs: -Infinity,
    discovery: settings.discoverEveryMs !== undefined ? { name: 'discovering' } : { name: 'off' },
    discoveryFailing: false,
    stats: emptyStats(),
    latenessSum: 0,
  };
  const out: Effect[] = [];
  setTargets(s, event, event, out);
  out.push({ type: 'timer:set', timer: 'round', atMs: s.roundDueMs });
  beginRound(s, event, out);
  if (s.discovery.name === 'discovering') out.push({ type: 'discover' });
  return { state: s, effects: out };
}

/** The next state and what the shell must do. */
export function step(s: ProberState, e: ProberEvent): Step {
  const out: Effect[] = [];
  if ('loopLateMs' in e && Number.isFinite(e.loopLateMs)) {
    s.worstLatenessMs = Math.max(s.worstLatenessMs, e.loopLateMs);
    s.beatLatenessMs = Math.max(s.beatLatenessMs, e.loopLateMs);
  }
  if (e.type === 'stats:reset') resetStats(s);
  else if (s.mode.name !== 'stopped') dispatch(s, e, out);
  return { state: s, effects: out };
}

function dispatch(s: ProberState, e: ProberEvent, out: Effect[]): void {
  switch (e.type) {
    case 'targets:set':
      return setTargets(s, e, e, out);
    case 'schedule:due':
      return onScheduleDue(s, e, out);
    case 'check:done':
      return onCheckDone(s, e, out);
    case 'send:done':
    case 'send:failed':
      onSendSettled(s, e, out);
      settleIfIdle(s, out);
      return;
    case 'round:due':
      return onRoundDue(s, e, out);
    case 'reference:done':
      return onReferenceDone(s, e, out);
    case 'heartbeat:done':
      return onHeartbeatDone(s, e, out);
    case 'discovery:due':
    case 'discovery:done':
    case 'discovery:failed':
      return onDiscovery(s, e, out);
    case 'stop':
      return stop(s, e, out);
    case 'stop:due':
      return onStopDue(s, out);
  }
}

function resetStats(s: ProberState): void {
  s.stats = emptyStats();
  s.stats.targets = s.byKey.size;
  s.latenessSum = 0;
}

// ── Targets ─────────────────────────────────────────────────────────────────────────────────────

/** Replaces the targets; targets kept (same id, host and port) keep their state and schedule. */
function setTargets(s: ProberState, input: TargetsInput, r: Reading, out: Effect[]): void {
  if (s.mode.name !== 'running') return;
  const wanted = new Map<string, { target: ProbeTarget; chance: number }>();
  input.targets.forEach((target, i) => wanted.set(keyOf(target), { target, chance: input.chance[i] ?? 0 }));
  let removed = 0;
  for (const [key, rec] of s.byKey) {
    if (wanted.has(key)) continue;
    remove(s, rec);
    removed++;
  }
  let added = 0;
  for (const [key, { target, chance }] of wanted) {
    if (s.byKey.has(key)) continue;
    const rec = recordOf(s, key, target, chance, r.nowMs);
    s.records.set(rec.id, rec);
    s.byKey.set(key, rec);
    s.byInstance.set(target.instanceId, rec);
    s.due.push(rec);
    joinGroup(s, rec);
    added++;
  }
  s.stats.targets = s.byKey.size;
  if (added > 0 || removed > 0) emit(out, 'prober:targets:changed', { count: s.byKey.size, added, removed, atMs: r.atMs });
  armSchedule(s, out);
}

function recordOf(s: ProberState, key: string, target: ProbeTarget, chance: number, nowMs: number): TargetRecord {
  const o = s.settings.options;
  const check = checkOf(target, o);
  const phaseMs = phaseOf(o.jitterMs, chance);
  return {
    id: s.nextId++,
    target,
    key,
    url: urlOf(check),
    check,
    phaseMs,
    dueMs: nextDue({ startMs: s.startMs, phaseMs, intervalMs: o.intervalMs, nowMs }).dueMs,
    membership: 'current',
    phase: idle,
    delivery: quiet,
    threshold: initialThreshold,
    path: initialPath(),
    beat: -1,
    reported: 'healthy',
    reportedAtMs: 0,
    sequence: 0,
  };
}

function remove(s: ProberState, rec: TargetRecord): void {
  rec.membership = 'removed';
  s.byKey.delete(rec.key);
  if (s.byInstance.get(rec.target.instanceId) === rec) s.byInstance.delete(rec.target.instanceId);
  leaveGroup(s, rec);
  if (rec.threshold.verdict === 'unhealthy') s.unhealthy--;
  // Still in the queue and the heap: both pass over removed records.
  if (rec.phase.name === 'queued') rec.phase = idle;
  forgetIfDone(s, rec);
}


// ── The schedule and the slots ──────────────────────────────────────────────────────────────────

/** Sets the schedule's timer for the earliest due check, unless it is already set as early. */
function armSchedule(s: ProberState, out: Effect[]): void {
  // Drop removed targets from the top so the timer is not set for them.
  while (s.due.peek()?.membership === 'removed') s.due.pop();
  const top = s.due.peek();
  if (!top || s.scheduleAtMs <= top.dueMs) return;
  s.scheduleAtMs = top.dueMs;
  out.push({ type: 'timer:set', timer: 'schedule', atMs: top.dueMs });
}

function onScheduleDue(s: ProberState, r: Reading, out: Effect[]): void {
  s.scheduleAtMs = Infinity;
  if (s.mode.name !== 'running') return;
  const intervalMs = s.settings.options.intervalMs;
  for (let rec = s.due.peek(); rec && rec.dueMs <= r.nowMs; rec = s.due.peek()) {
    s.due.pop();
    if (rec.membership === 'removed') continue;
    const dueMs = rec.dueMs;
    const next = nextDue({ startMs: s.startMs, phaseMs: rec.phaseMs, intervalMs, nowMs: r.nowMs, dueMs });
    s.stats.skipped += next.missed;
    rec.dueMs = next.dueMs;
    s.due.push(rec);
    if (rec.phase.name !== 'idle') {
      s.stats.skipped++;
      continue;
    }
    rec.phase = { name: 'queued', dueMs };
    s.queue.push(rec);
  }
  startChecks(s, r, out);
  armSchedule(s, out);
}

/** Starts queued checks while slots are free. */
function startChecks(s: ProberState, r: Reading, out: Effect[]): void {
  const concurrency = s.settings.options.concurrency;
  while (s.checking < concurrency && s.queue.length > 0) {
    const rec = s.queue.shift() as TargetRecord;
    // Removed, or the queue was cleared by a stop: passed over.
    if (rec.phase.name !== 'queued') continue;
    s.checking++;
    rec.phase = { name: 'checking', latenessMs: Math.max(0, r.nowMs - rec.phase.dueMs) };
    out.push({ type: 'check', id: rec.id, check: rec.check });
  }
}

// ── A check's result: the threshold, the self-check, the report ─────────────────────────────────

function onCheckDone(s: ProberState, e: EventOf<'check:done'>, out: Effect[]): void {
  const rec = s.records.get(e.id);
  if (rec?.phase.name !== 'checking') return;
  const latenessMs = rec.phase.latenessMs;
  rec.phase = idle;
  s.checking--;
  const stats = s.stats;
  stats.checks++;
  s.latenessSum += latenessMs;
  stats.meanLatenessMs = s.latenessSum / stats.checks;
  if (latenessMs > stats.maxLatenessMs) stats.maxLatenessMs = latenessMs;
  if (latenessMs > 100) stats.lateOver100Ms++;
  s.beatLatenessMs = Math.max(s.beatLatenessMs, latenessMs);
  if (rec.membership === 'current' && s.mode.name === 'running') judge(s, rec, e, latenessMs, out);
  forgetIfDone(s, rec);
  if (s.mode.name === 'running') startChecks(s, e, out);
  else settleIfIdle(s, out);
}






// ── Discovery: replaces the targets now and then; a failure keeps the previous targets ─────────

function onDiscovery(s: ProberState, e: EventOf<'discovery:due' | 'discovery:done' | 'discovery:failed'>, out: Effect[]): void {
  const everyMs = s.settings.discoverEveryMs;
  if (s.mode.name !== 'running' || everyMs === undefined) return;
  if (e.type === 'discovery:due') {
    if (s.discovery.name !== 'waiting') return;
    s.discovery = { name: 'discovering' };
    out.push({ type: 'discover' });
    return;
  }
  if (s.discovery.name !== 'discovering') return;
  s.discoveryFailing = e.type === 'discovery:failed';
  if (e.type === 'discovery:done') setTargets(s, e, e, out);
  else {
    out.push({ type: 'log', level: 'warn', fields: { error: e.error }, message: 'prober: discovery failed; keeping the previous targets' });
    emit(out, 'prober:discovery:failed', { error: e.error, atMs: e.atMs });
  }
  s.discovery = { name: 'waiting' };
  out.push({ type: 'timer:set', timer: 'discovery', atMs: e.nowMs + everyMs });
}

// ── Stopping ────────────────────────────────────────────────────────────────────────────────────

/**
 * Stops scheduling and aborts sends and discovery; checks and sends in flight end on their own,
 * each check by its timeout. The stop bound (`timeoutMs` after the stop) is there for a check or
 * a sink that never settles: stopping never waits longer.
 */
function stop(s: ProberState, r: Reading, out: Effect[]): void {
  if (s.mode.name !== 'running') return;
  s.mode = { name: 'stopping', sinceMs: r.nowMs };
  out.push({ type: 'timer:clear', timer: 'schedule' }, { type: 'timer:clear', timer: 'round' }, { type: 'timer:clear', timer: 'discovery' }, { type: 'halt' });
  s.due.clear();
  s.scheduleAtMs = Infinity;
  for (const rec of s.queue) rec.phase = idle;
  s.queue.length = 0;
  if (!settleIfIdle(s, out)) out.push({ type: 'timer:set', timer: 'stop', atMs: r.nowMs + s.settings.options.timeoutMs });
}

function settleIfIdle(s: ProberState, out: Effect[]): boolean {
  if (s.mode.name !== 'stopping' || s.checking > 0 || s.sending > 0) return false;
  s.mode = { name: 'stopped' };
  out.push({ type: 'timer:clear', timer: 'stop' }, { type: 'finish' });
  return true;
}

function onStopDue(s: ProberState, out: Effect[]): void {
  if (s.mode.name !== 'stopping') return;
  const fields = { checks: s.checking, sends: s.sending, boundMs: s.settings.options.timeoutMs };
  out.push({ type: 'log', level: 'warn', fields, message: 'prober: stopped with work still in flight: it did not settle within the stop bound' });
  s.mode = { name: 'stopped' };
  out.push({ type: 'finish' });
}
