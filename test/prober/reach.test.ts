/**
 * The observer's path in the machine (src/prober/reach.ts): a group it never saw answer gets no
 * vote from it but a report; refusals everywhere and lost checks count it degraded; the heartbeat
 * says how many targets it probed, which groups it cannot reach, and how late it ran. Pure: time is
 * the `nowMs` each event carries.
 */
import { describe, expect, it } from 'vitest';
import { start, step } from '../../src/prober/machine.js';
import { proberOptionsSchema, type ProbeTarget } from '../../src/prober/options.js';
import { pathOutcomeOf, unreachableReason } from '../../src/prober/reach.js';
import { machineSettings, type Effect, type ProberEvent, type ProberState, type Step } from '../../src/prober/state.js';
import type { CheckResult } from '../../src/prober/types.js';

const epoch = Date.UTC(2026, 0, 1);
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
const ok: CheckResult = { ok: true, status: 200 };
const timeout: CheckResult = { ok: false, error: 'timeout after 500 ms' };
const refused: CheckResult = { ok: false, error: 'ECONNREFUSED' };
const s404: CheckResult = { ok: false, status: 404, error: 'status 404' };

const target = (n: number, group?: string): ProbeTarget => ({ instanceId: `i-0${n}`, host: `10.0.0.${n}`, port: 80, ...(group ? { group } : {}) });

/** A machine with interval 1 s, thresholds 2/2, no repeats, every target due at 0 + k s. */
class Harness {
  last: Step;
  now = 0;
  constructor(targets: ProbeTarget[], heartbeat = false, discoverEveryMs?: number) {
    const options = proberOptionsSchema.parse({ intervalMs: 1_000, timeoutMs: 500, concurrency: 100, repeatUnhealthyAfterMs: 0, observer: 'obs-a', heartbeatEveryMs: 1_000 });
    this.last = start(machineSettings(options, { heartbeat, ...(discoverEveryMs ? { discoverEveryMs } : {}) }), { nowMs: 0, atMs: epoch, targets, chance: [] });
  }
  get state(): ProberState {
    return this.last.state;
  }
  feed(e: DistributiveOmit<ProberEvent, 'nowMs' | 'atMs'>): Effect[] {
    this.last = step(this.state, { ...e, nowMs: this.now, atMs: epoch + this.now });
    return this.last.effects;
  }
  /** One interval: every target due, each answered by `answer(instanceId, round)`; sends accepted. Returns the effects. */
  round(answer: (instanceId: string) => CheckResult): Effect[] {
    const effects: Effect[] = [];
    const checks = this.feed({ type: 'schedule:due' }).filter((e): e is Extract<Effect, { type: 'check' }> => e.type === 'check');
    for (const c of checks) {
      const rec = this.state.records.get(c.id);
      effects.push(...this.feed({ type: 'check:done', id: c.id, result: answer(rec?.target.instanceId ?? ''), ms: 5, loopLateMs: 0 }));
    }
    for (const e of [...effects]) if (e.type === 'send') effects.push(...this.feed({ type: 'send:done', id: e.id, ms: 1 }));
    this.now += 1_000;
    return effects;
  }
}

const emitted = (effects: Effect[], event: string): unknown[] => effects.flatMap((e) => (e.type === 'emit' && e.event === event ? [e.payload] : []));
const sentUnhealthy = (effects: Effect[]): string[] => effects.flatMap((e) => (e.type === 'send' && e.signal.state === 'unhealthy' ? [e.signal.instanceId] : []));

describe('the observer and the groups it cannot reach', () => {
  it('never votes against a group none of whose instances ever passed its check: it reports the group unreachable, once', () => {
    // Prepare: group "dark" never answers (its security group drops the observer); "lit" answers.
    const h = new Harness([target(1, 'dark'), target(2, 'dark'), target(3, 'lit'), target(4, 'lit'), target(5, 'lit')]);
    const answer = (id: string) => (['i-01', 'i-02'].includes(id) ? timeout : ok);

    // Act
    const effects = [h.round(answer), h.round(answer), h.round(answer)].flat();

    // Assess
    expect(sentUnhealthy(effects)).toEqual([]);
    expect(emitted(effects, 'prober:group:unreachable')).toEqual([{ observer: 'obs-a', group: 'dark', targets: 2, reason: unreachableReason, atMs: epoch + 1_000 }]);
    expect(emitted(effects, 'prober:signal:withheld')).toContainEqual({ observer: 'obs-a', instanceId: 'i-01', reasons: ['groupUnreachable'], atMs: epoch + 1_000 });
    expect(effects).toContainEqual(expect.objectContaining({ type: 'log', level: 'warn', message: expect.stringMatching(/group unreachable/) }));
    expect(h.state.self.degraded).toBe(false);
    expect(h.state.stats.signalsWithheld).toBeGreaterThanOrEqual(4);
  });

  it('a wrong path (404 everywhere) is the observer\'s configuration, not a dead group', () => {
    // Prepare
    const h = new Harness([target(1, 'web'), target(2, 'web'), target(3, 'web')]);

    // Act
    const effects = [h.round(() => s404), h.round(() => s404)].flat();

    // Assess
    expect(sentUnhealthy(effects)).toEqual([]);
    expect(emitted(effects, 'prober:group:unreachable')).toHaveLength(1);
  });

  it('votes against an instance of a group it has seen answer, and a group it could not reach becomes reachable with its first pass', () => {
    // Prepare: i-01 passes once, then dies; group "late" answers only from the third round on.
    const h = new Harness([target(1, 'web'), target(2, 'web'), target(3, 'late'), target(4, 'late')]);
    let round = 0;
    const answer = (id: string): CheckResult => {
      if (id === 'i-01') return round === 0 ? ok : timeout;
      if (id === 'i-03' || id === 'i-04') return round >= 3 ? ok : timeout;
      return ok;
    };

    // Act
    const effects: Effect[] = [];
    for (; round < 5; round++) effects.push(...h.round(answer));

    // Assess
    expect(sentUnhealthy(effects)).toEqual(['i-01']);
    expect(emitted(effects, 'prober:group:reachable')).toEqual([{ observer: 'obs-a', group: 'late', unreachableForMs: 2_000, atMs: epoch + 3_000 }]);
    expect(h.state.groups.get('late')?.reach.name).toBe('reachable');
  });

  it('targets without a group are judged as before; a group with no targets left is forgotten', () => {
    // Prepare
    const h = new Harness([target(1), target(2), target(3, 'web')]);
    const answer = (id: string) => (id === 'i-01' ? timeout : ok);

    // Act
    const effects = [h.round(answer), h.round(answer)].flat();
    h.feed({ type: 'targets:set', targets: [target(1), target(2)], chance: [] });

    // Assess
    expect(sentUnhealthy(effects)).toEqual(['i-01']);
    expect(h.state.groups.size).toBe(0);
  });

  it('the heartbeat names the groups it cannot reach, the targets it probed in the period and its worst lateness', () => {
    // Prepare
    const h = new Harness([target(1, 'dark'), target(2, 'dark'), target(3, 'lit')], true);
    h.feed({ type: 'heartbeat:done' });
    const answer = (id: string) => (id === 'i-03' ? ok : timeout);

    // Act
    h.round(answer);
    h.round(answer);
    const effects = h.feed({ type: 'round:due', loopLateMs: 40 });

    // Assess
    expect(emitted(effects, 'prober:heartbeat')).toEqual([
      expect.objectContaining({ targets: 3, probed: 3, unreachable: [{ group: 'dark', sinceMs: epoch + 1_000 }], worstLatenessMs: 40 }),
    ]);
    expect(h.state.probed).toBe(0);
  });
});

describe('the heartbeat and discovery', () => {
  it('says while its latest discovery failed, and stops saying so once one succeeds', () => {
    // Prepare
    const h = new Harness([target(1, 'web')], true, 5_000);
    h.feed({ type: 'heartbeat:done' });

    // Act
    h.now = 1_000;
    h.feed({ type: 'discovery:failed', error: 'connect ETIMEDOUT autoscaling.eu-west-1.amazonaws.com' });
    const failing = emitted(h.feed({ type: 'round:due', loopLateMs: 0 }), 'prober:heartbeat');
    h.feed({ type: 'heartbeat:done' });
    h.now = 6_000;
    h.feed({ type: 'discovery:due' });
    h.feed({ type: 'discovery:done', targets: [target(1, 'web')], chance: [] });
    h.now = 7_000;
    const fine = emitted(h.feed({ type: 'round:due', loopLateMs: 0 }), 'prober:heartbeat');

    // Assess
    expect(failing).toEqual([expect.objectContaining({ discoveryFailing: true })]);
    expect(fine).toEqual([expect.objectContaining({ discoveryFailing: false })]);
  });
});

describe("the observer's own path", () => {
  it('refused everywhere (or refused and silent, nothing answering) is the observer, not the fleet', () => {
    // Prepare
    const h = new Harness([target(1), target(2), target(3)]);

    // Act
    const effects = [h.round((id) => (id === 'i-03' ? timeout : refused)), h.round((id) => (id === 'i-03' ? timeout : refused))].flat();

    // Assess
    expect(h.state.self).toMatchObject({ degraded: true, reasons: ['refused'] });
    expect(sentUnhealthy(effects)).toEqual([]);
  });

  it('one refusing target among answering ones is that target: it is voted against', () => {
    // Prepare
    const h = new Harness([target(1), target(2), target(3)]);

    // Act
    const effects = [h.round((id) => (id === 'i-01' ? refused : ok)), h.round((id) => (id === 'i-01' ? refused : ok))].flat();

    // Assess
    expect(h.state.self.degraded).toBe(false);
    expect(sentUnhealthy(effects)).toEqual(['i-01']);
  });

  it('lost checks across many targets (silent, then answering again) count it degraded before a loss adds up to a vote', () => {
    // Prepare: 8 targets, each losing every other check (so each keeps failing and passing).
    const h = new Harness(Array.from({ length: 8 }, (_, n) => target(n + 1, 'web')));
    let round = 0;
    const lossy = (id: string): CheckResult => ((Number(id.slice(3)) + round) % 2 === 0 ? timeout : ok);

    // Act
    const effects: Effect[] = [];
    for (; round < 3; round++) effects.push(...h.round(lossy));

    // Assess
    expect(h.state.self).toMatchObject({ degraded: true, reasons: ['lossy'] });
    expect(h.state.recovering).toBeGreaterThanOrEqual(3);
    expect(emitted(effects, 'prober:observer:degraded')).toHaveLength(1);
  });

  it('one target that died after answering is not a lossy path', () => {
    // Prepare
    const h = new Harness(Array.from({ length: 8 }, (_, n) => target(n + 1, 'web')));
    let round = 0;

    // Act
    const effects: Effect[] = [];
    for (; round < 4; round++) effects.push(...h.round((id) => (id === 'i-01' && round > 0 ? timeout : ok)));

    // Assess
    expect(h.state.self.degraded).toBe(false);
    expect(sentUnhealthy(effects)).toEqual(['i-01']);
  });

  it('classifies what came back', () => {
    expect(pathOutcomeOf(ok)).toBe('passed');
    expect(pathOutcomeOf(s404)).toBe('answered');
    expect(pathOutcomeOf({ ok: false, error: 'ECONNRESET' })).toBe('answered');
    expect(pathOutcomeOf(refused)).toBe('refused');
    expect(pathOutcomeOf({ ok: false, error: 'EACCES' })).toBe('refused');
    expect(pathOutcomeOf({ ok: false, error: 'EPERM' })).toBe('refused');
    expect(pathOutcomeOf({ ok: false })).toBe('silent');
    expect(pathOutcomeOf(timeout)).toBe('silent');
  });
});
