/**
 * The prober machine's round, once an interval from the start: the reference check, the
 * self-check (so a stalled loop is seen even with no target due) and, at most every
 * `heartbeatEveryMs`, a heartbeat. A round still under way when the next is due skips that one.
 * Pure, like the rest of the machine (machine.ts).
 */
import { unreachableGroups } from './reach.js';
import { nextDue } from './schedule.js';
import { emit, roundIdle, type Effect, type EventOf, type ProberState, type Reading } from './state.js';
import { assessSelf } from './verdict.js';

/** The round's timer fired: the next one is set, on the interval's grid, and this round begins. */
export function onRoundDue(s: ProberState, r: Reading, out: Effect[]): void {
  if (s.mode.name !== 'running') return;
  const next = nextDue({ startMs: s.startMs, phaseMs: 0, intervalMs: s.settings.options.intervalMs, nowMs: r.nowMs, dueMs: s.roundDueMs });
  s.roundDueMs = next.dueMs;
  out.push({ type: 'timer:set', timer: 'round', atMs: next.dueMs });
  beginRound(s, r, out);
}

/** Begins a round (the first at the start), unless the last one is still under way: this one is skipped. */
export function beginRound(s: ProberState, r: Reading, out: Effect[]): void {
  if (s.round.name !== 'idle') return;
  if (s.settings.reference) {
    s.round = { name: 'referencing' };
    out.push({ type: 'reference', check: s.settings.reference });
  } else endRound(s, r, out);
}

export function onReferenceDone(s: ProberState, e: EventOf<'reference:done'>, out: Effect[]): void {
  if (s.round.name !== 'referencing') return;
  s.referenceOk = e.ok;
  s.round = roundIdle;
  if (s.mode.name === 'running') endRound(s, e, out);
}

function endRound(s: ProberState, r: Reading, out: Effect[]): void {
  assessSelf(s, r, out);
  s.round = roundIdle;
  if (!s.settings.heartbeat || r.nowMs - s.lastBeatMs < s.settings.options.heartbeatEveryMs) return;
  s.lastBeatMs = r.nowMs;
  const { degraded, reasons } = s.self;
  const beat = {
    observer: s.settings.options.observer,
    degraded,
    reasons,
    targets: s.byKey.size,
    probed: s.probed,
    unhealthy: s.unhealthy,
    unreachable: unreachableGroups(s),
    worstLatenessMs: Math.round(s.beatLatenessMs),
    discoveryFailing: s.discoveryFailing,
    atMs: r.atMs,
  };
  // A new period: each target counts again when next checked.
  s.beats++;
  s.probed = 0;
  s.beatLatenessMs = 0;
  emit(out, 'prober:heartbeat', beat);
  out.push({ type: 'heartbeat', beat });
  s.round = { name: 'beating' };
}

export function onHeartbeatDone(s: ProberState, e: EventOf<'heartbeat:done'>, out: Effect[]): void {
  if (s.round.name !== 'beating') return;
  s.round = roundIdle;
  if (e.error !== undefined) {
    out.push({ type: 'log', level: 'warn', fields: { observer: s.settings.options.observer, error: e.error }, message: 'prober: heartbeat failed' });
  }
}
