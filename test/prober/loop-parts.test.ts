/**
 * The prober's pure parts, table-driven with a clock seam: the threshold reducer, the schedule
 * and the observer's self-check. No sockets, no timers.
 */
import { describe, expect, it } from 'vitest';
import { DueHeap, nextDue, phaseOf } from '../../src/prober/schedule.js';
import { conditionOf, initialSelfCheck, selfCheckDefaults, stepSelfCheck, type SelfCheckInput, type SelfCheckState } from '../../src/prober/self-check.js';
import { initialThreshold, outcomeOf, shouldSend, stepThreshold, thresholdDetail, type CheckOutcome, type ThresholdState } from '../../src/prober/threshold.js';

const ok: CheckOutcome = { kind: 'ok' };
const fail: CheckOutcome = { kind: 'failed', error: 'timeout after 80 ms' };
const late: CheckOutcome = { kind: 'inconclusive', why: 'observer late by 400 ms' };

describe('threshold reducer', () => {
  const cases: Array<{ name: string; outcomes: CheckOutcome[]; thresholds: [number, number]; verdicts: string; crossed: Array<string | undefined> }> = [
    { name: 'two failures turn unhealthy', outcomes: [fail, fail], thresholds: [2, 2], verdicts: 'hu', crossed: [undefined, 'unhealthy'] },
    { name: 'a success in between resets the count', outcomes: [fail, ok, fail], thresholds: [2, 2], verdicts: 'hhh', crossed: [undefined, undefined, undefined] },
    { name: 'threshold 1 turns at once', outcomes: [fail, ok], thresholds: [1, 1], verdicts: 'uh', crossed: ['unhealthy', 'healthy'] },
    { name: 'healthy again after M successes', outcomes: [fail, fail, ok, ok], thresholds: [2, 2], verdicts: 'huuh', crossed: [undefined, 'unhealthy', undefined, 'healthy'] },
    { name: 'inconclusive counts neither way', outcomes: [fail, late, late, fail], thresholds: [2, 2], verdicts: 'hhhu', crossed: [undefined, undefined, undefined, 'unhealthy'] },
    { name: 'inconclusive does not break a run of successes', outcomes: [fail, fail, ok, late, ok], thresholds: [2, 2], verdicts: 'huuuh', crossed: [undefined, 'unhealthy', undefined, undefined, 'healthy'] },
    { name: 'an unhealthy target failing again crosses nothing', outcomes: [fail, fail, fail], thresholds: [2, 2], verdicts: 'huu', crossed: [undefined, 'unhealthy', undefined] },
  ];
  it.each(cases)('$name', ({ outcomes, thresholds, verdicts, crossed }) => {
    let state: ThresholdState = initialThreshold;
    const seen: string[] = [];
    const crossings: Array<string | undefined> = [];
    for (const o of outcomes) {
      const step = stepThreshold(state, o, { unhealthyThreshold: thresholds[0], healthyThreshold: thresholds[1] });
      state = step.state;
      seen.push(state.verdict[0] as string);
      crossings.push(step.crossed);
    }
    expect(seen.join('')).toBe(verdicts);
    expect(crossings).toEqual(crossed);
  });

  it('says why, with the last error', () => {
    const s = stepThreshold(stepThreshold(initialThreshold, fail, { unhealthyThreshold: 2, healthyThreshold: 2 }).state, fail, {
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    }).state;
    expect(thresholdDetail(s)).toBe('2 consecutive failures: timeout after 80 ms');
    expect(thresholdDetail(initialThreshold)).toBe('0 consecutive successes');
  });
});

describe('outcomeOf: what a check result says', () => {
  it.each([
    { name: 'an answer', result: { ok: true, status: 200 }, ms: 3, timeoutMs: 100, want: { outcome: { kind: 'ok' }, overrunMs: 0 } },
    { name: 'a failure', result: { ok: false, status: 503, error: 'status 503' }, ms: 3, timeoutMs: 100, want: { outcome: { kind: 'failed', error: 'status 503' }, overrunMs: 0 } },
    { name: 'a failure without words', result: { ok: false }, ms: 3, timeoutMs: 100, want: { outcome: { kind: 'failed', error: 'failed' }, overrunMs: 0 } },
    { name: 'a timeout on time', result: { ok: false, error: 'timeout after 100 ms' }, ms: 130, timeoutMs: 100, want: { outcome: { kind: 'failed', error: 'timeout after 100 ms' }, overrunMs: 30 } },
    {
      name: "a timeout whose own timer fired more than half the timeout late",
      result: { ok: false, error: 'timeout after 100 ms' },
      ms: 151,
      timeoutMs: 100,
      want: { outcome: { kind: 'inconclusive', why: "the check's timer fired 51 ms late" }, overrunMs: 51 },
    },
    {
      name: 'a short timeout is given at least 20 ms',
      result: { ok: false, error: 'timeout after 10 ms' },
      ms: 29,
      timeoutMs: 10,
      want: { outcome: { kind: 'failed', error: 'timeout after 10 ms' }, overrunMs: 19 },
    },
    { name: 'a slow refusal is no overrun', result: { ok: false, error: 'ECONNREFUSED' }, ms: 900, timeoutMs: 100, want: { outcome: { kind: 'failed', error: 'ECONNREFUSED' }, overrunMs: 0 } },
  ])('$name', ({ result, ms, timeoutMs, want }) => {
    expect(outcomeOf(result, ms, timeoutMs)).toEqual(want);
  });
});

describe('shouldSend', () => {
  const base = { reportedAtMs: 1_000, nowMs: 5_000, repeatUnhealthyAfterMs: 10_000, degraded: false };
  it.each([
    { verdict: 'healthy', reported: 'healthy', over: {}, want: 'none' },
    { verdict: 'unhealthy', reported: 'healthy', over: {}, want: 'send' },
    { verdict: 'unhealthy', reported: 'healthy', over: { degraded: true }, want: 'withhold' },
    { verdict: 'healthy', reported: 'unhealthy', over: { degraded: true }, want: 'send' },
    { verdict: 'unhealthy', reported: 'unhealthy', over: {}, want: 'none' },
    { verdict: 'unhealthy', reported: 'unhealthy', over: { nowMs: 11_000 }, want: 'send' },
    { verdict: 'unhealthy', reported: 'unhealthy', over: { nowMs: 11_000, degraded: true }, want: 'withhold' },
    { verdict: 'unhealthy', reported: 'unhealthy', over: { nowMs: 99_000, repeatUnhealthyAfterMs: 0 }, want: 'none' },
  ] as const)('$verdict after $reported with $over: $want', ({ verdict, reported, over, want }) => {
    expect(shouldSend({ ...base, ...over, verdict, reported })).toBe(want);
  });
});

describe('schedule', () => {
  it.each([
    { name: 'first due at the phase', input: { startMs: 0, phaseMs: 30, intervalMs: 100, nowMs: 0 }, want: { dueMs: 30, missed: 0 } },
    { name: 'a target added later joins its phase', input: { startMs: 0, phaseMs: 30, intervalMs: 100, nowMs: 250 }, want: { dueMs: 330, missed: 0 } },
    { name: 'next slot after a check on time', input: { startMs: 0, phaseMs: 30, intervalMs: 100, nowMs: 35, dueMs: 30 }, want: { dueMs: 130, missed: 0 } },
    { name: 'a slow check does not drift the schedule', input: { startMs: 0, phaseMs: 30, intervalMs: 100, nowMs: 129, dueMs: 30 }, want: { dueMs: 130, missed: 0 } },
    { name: 'a long pause skips the missed slots, keeps the phase', input: { startMs: 0, phaseMs: 30, intervalMs: 100, nowMs: 345, dueMs: 30 }, want: { dueMs: 430, missed: 3 } },
  ])('$name', ({ input, want }) => {
    expect(nextDue(input)).toEqual(want);
  });

  it.each([
    { jitterMs: 0, random: 0.7, want: 0 },
    { jitterMs: 100, random: 0, want: 0 },
    { jitterMs: 100, random: 0.5, want: 50 },
    { jitterMs: 100, random: 1, wantBelow: 100 },
    { jitterMs: 100, random: -3, want: 0 },
  ])('phase of jitter $jitterMs at random $random', ({ jitterMs, random, want, wantBelow }) => {
    const phase = phaseOf(jitterMs, random);
    if (want !== undefined) expect(phase).toBe(want);
    if (wantBelow !== undefined) expect(phase).toBeLessThan(wantBelow);
  });

  it('the heap pops in due order', () => {
    const heap = new DueHeap<{ dueMs: number }>();
    for (const dueMs of [50, 10, 40, 10, 30, 20]) heap.push({ dueMs });
    const out: number[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) out.push(item.dueMs);
    expect(out).toEqual([10, 10, 20, 30, 40, 50]);
    expect(heap.size).toBe(0);
  });
});

describe('observer self-check', () => {
  const o = { maxLatenessMs: 200, cutOffMinTargets: 2, lossyMinTargets: 3, recoverAfterMs: 1_000 };
  const input = (over: Partial<SelfCheckInput>): SelfCheckInput => ({ nowMs: 0, latenessMs: 0, targets: 3, failing: 0, ...over });

  it.each([
    { name: 'all well', over: {}, want: [] },
    { name: 'one target failing is the target', over: { failing: 1 }, want: [] },
    { name: 'every target failing is the observer', over: { failing: 3 }, want: ['cutOff'] },
    { name: 'a single target failing is evidence, not a cut', over: { targets: 1, failing: 1 }, want: [] },
    { name: 'a late loop', over: { latenessMs: 201 }, want: ['loopLate'] },
    { name: 'late exactly at the bound is fine', over: { latenessMs: 200 }, want: [] },
    { name: 'reference failed', over: { referenceOk: false }, want: ['referenceFailed'] },
    { name: 'everything at once', over: { latenessMs: 900, failing: 3, referenceOk: false }, want: ['loopLate', 'cutOff', 'referenceFailed'] },
  ])('$name', ({ over, want }) => {
    expect(conditionOf(input(over), o)).toEqual(want);
  });

  it('degrades at once, recovers only after the condition stayed clear for recoverAfterMs', () => {
    // [nowMs, input, degraded after, changed]
    const steps: Array<[number, Partial<SelfCheckInput>, boolean, string | undefined]> = [
      [0, {}, false, undefined],
      [100, { failing: 3 }, true, 'degraded'],
      [200, { latenessMs: 500 }, true, undefined],
      [700, {}, true, undefined],
      [1_199, {}, true, undefined],
      [1_200, {}, false, 'recovered'],
      [1_300, { latenessMs: 300 }, true, 'degraded'],
    ];
    let state: SelfCheckState = initialSelfCheck;
    for (const [nowMs, over, degraded, changed] of steps) {
      const step = stepSelfCheck(state, input({ ...over, nowMs }), o);
      state = step.state;
      expect({ nowMs, degraded: state.degraded, changed: step.changed }).toEqual({ nowMs, degraded, changed });
    }
    expect(state.reasons).toEqual(['loopLate']);
  });

  it('keeps every reason seen during one degraded spell', () => {
    let state = stepSelfCheck(initialSelfCheck, input({ failing: 3 }), o).state;
    state = stepSelfCheck(state, input({ nowMs: 10, latenessMs: 999 }), o).state;
    expect(state).toMatchObject({ degraded: true, reasons: ['cutOff', 'loopLate'], sinceMs: 0, lastBadMs: 10 });
  });

  it.each([
    { intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, want: { maxLatenessMs: 5_000, cutOffMinTargets: 2, lossyMinTargets: 3, recoverAfterMs: 15_000 } },
    { intervalMs: 100, timeoutMs: 80, healthyThreshold: 2, want: { maxLatenessMs: 250, cutOffMinTargets: 2, lossyMinTargets: 3, recoverAfterMs: 300 } },
  ])('defaults for an interval of $intervalMs ms', ({ want, ...p }) => {
    expect(selfCheckDefaults(p)).toEqual(want);
  });
});
