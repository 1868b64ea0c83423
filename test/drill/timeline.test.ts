/**
 * The drill's timeline: each victim's zone, and the evidence each replaced victim leaves (the
 * verdict that marked it, how its process ended, its last lines), recorded from the parts' typed
 * events alone. Real TypedEvents, no process.
 */
import { describe, expect, it } from 'vitest';
import { TypedEvents } from '../../src/events.js';
import type { LocalGroupEvents } from '../../src/fleet/local/local-group.js';
import type { HealerEvents, VerdictRecord } from '../../src/healer/types.js';
import { Timeline } from '../../src/drill/timeline.js';

const a = 'i-10ca1000000000001';
const b = 'i-10ca1000000000002';
const c = 'i-10ca1000000000003';
const t0 = 1_000_000;

function record(instanceId: string): VerdictRecord {
  return {
    signal: {
      instanceId,
      state: 'unhealthy',
      source: 'probe',
      observedAt: '2026-05-14T20:00:00.000Z',
      eventId: 'e-1',
      reason: 'http://127.0.0.1:4001/health: 2 consecutive failures: status 503',
      instanceIdFrom: 'probe-target',
      observer: 'observer-2',
    },
    verdict: { action: 'mark', reason: 'unhealthy', detail: 'budget 1 of 1, 2 observers agree' },
    groupName: 'autoheal-demo',
    dryRun: false,
    ms: 3,
  };
}

describe('Timeline', () => {
  it("names each victim's zone and keeps each replaced victim's evidence: verdict, exit, last lines", () => {
    // Prepare
    const group = new TypedEvents<LocalGroupEvents>();
    const healer = new TypedEvents<HealerEvents>();
    const timeline = new Timeline({ group: { events: group }, healer: { events: healer } });
    timeline.startRound(1, [
      { instanceId: a, pid: 101, mode: 'sick', atMs: t0, availabilityZone: 'a' },
      { instanceId: b, pid: 102, mode: 'sick', atMs: t0, availabilityZone: 'a' },
    ]);

    // Act: a is marked by the healer and replaced; b is marked by the group's own check and still runs.
    group.emit('group:instance:marked', { instanceId: a, status: 'Unhealthy', by: 'fleet', atMs: t0 + 300 });
    healer.emit('healer:verdict:marked', record(a));
    healer.emit('healer:verdict:marked', { ...record(a), verdict: { action: 'mark', reason: 'unhealthy', detail: 'a later one' } });
    group.emit('group:instance:terminating', { instanceId: a, reason: 'marked Unhealthy', atMs: t0 + 300 });
    group.emit('group:instance:terminated', { instanceId: a, code: 0, signal: null, lastOutput: ['{"event":"sick","via":"SIGUSR1"}'], atMs: t0 + 650 });
    group.emit('group:instance:in-service', { instanceId: c, pid: 103, port: 4003, replaces: a, availabilityZone: 'a', atMs: t0 + 1_500 });
    group.emit('group:instance:marked', { instanceId: b, status: 'Unhealthy', by: 'exit', atMs: t0 + 900 });
    const round = timeline.result();

    // Assess
    expect(round.victims.map((v) => [v.instanceId, v.availabilityZone])).toEqual([
      [a, 'a'],
      [b, 'a'],
    ]);
    expect(round.evidence).toEqual([
      {
        instanceId: a,
        availabilityZone: 'a',
        markedBy: 'healer',
        verdict: {
          action: 'mark',
          reason: 'unhealthy',
          detail: 'budget 1 of 1, 2 observers agree',
          source: 'probe',
          evidence: 'http://127.0.0.1:4001/health: 2 consecutive failures: status 503',
          observedAt: '2026-05-14T20:00:00.000Z',
          observer: 'observer-2',
          eventId: 'e-1',
        },
        exit: { code: 0, signal: null },
        lastOutput: ['{"event":"sick","via":"SIGUSR1"}'],
        terminatedMs: 650,
      },
      { instanceId: b, availabilityZone: 'a', markedBy: 'group', lastOutput: [] },
    ]);
    timeline.dispose();
  });

  it('has no evidence for a victim never marked', () => {
    // Prepare
    const group = new TypedEvents<LocalGroupEvents>();
    const timeline = new Timeline({ group: { events: group } });
    timeline.startRound(1, [{ instanceId: a, pid: 101, mode: 'freeze', atMs: t0 }]);

    // Act
    const round = timeline.result();

    // Assess
    expect(round).toMatchObject({ healed: false, evidence: [] });
    expect(round.victims[0]).not.toHaveProperty('availabilityZone');
  });
  it('numbers waves by the budget: a wave takes marks until one of it terminates, however the next wave interleaves', () => {
    // Prepare: four victims, a budget of two.
    const group = new TypedEvents<LocalGroupEvents>();
    const timeline = new Timeline({ group: { events: group }, healer: { events: new TypedEvents<HealerEvents>() } });
    const ids = [a, b, c, 'i-10ca1000000000004'];
    timeline.startRound(1, ids.map((instanceId, n) => ({ instanceId, pid: 100 + n, mode: 'freeze' as const, atMs: t0 })));
    const mark = (instanceId: string) => group.emit('group:instance:marked', { instanceId, status: 'Unhealthy', by: 'fleet', atMs: t0 });
    const gone = (instanceId: string) => group.emit('group:instance:terminated', { instanceId, code: null, signal: 'SIGKILL', lastOutput: [], atMs: t0 });

    // Act: a's replacement frees a slot while b still terminates, so c is marked beside b.
    mark(a);
    mark(b);
    gone(a);
    mark(c);
    gone(b);
    mark(ids[3] as string);

    // Assess
    expect(timeline.result().victims.map((v) => v.wave)).toEqual([1, 1, 2, 2]);
  });
});
