/**
 * The rails judged against the fleet that serves, through the real healer and the in-memory
 * fleet: a scale-out and a shortfall, zones, replayed alarms, facts missing, a resume in the
 * future, reports counted before marks. The clock is the test's.
 */
import { describe, expect, it } from 'vitest';
import { createHealer } from '../../src/healer/healer.js';
import type { HealerEvents, HealerOptions } from '../../src/healer/types.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../../src/policy/options.js';
import { alarmSignal as alarm, probeVerdict as probe } from '../helpers/events.js';
import { jsonCheckedLedger } from '../helpers/json-ledger.js';
import { MemoryFleet, type MemoryInstanceInit } from '../helpers/memory-fleet.js';

const t0 = Date.parse('2024-05-01T12:00:00Z');
const ids = (n: number, prefix = 'i-') => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(17 - prefix.length + 2, '0')}`);
const longAgo = new Date(t0 - 86_400_000);



/** The healer over the fleet, its ledger checked to survive JSON on every write. */
function healer(fleet: MemoryFleet, clock: () => number, policy: PolicyOptionsInput = {}, extra: Partial<HealerOptions> = {}) {
  return createHealer({ fleet, policy: policyOptionsSchema.parse(policy), clock, ledger: jsonCheckedLedger(), ...extra });
}

/** Collects the healer's events of one kind. */
function collect<K extends keyof HealerEvents>(h: ReturnType<typeof healer>, event: K): Array<HealerEvents[K]> {
  const seen: Array<HealerEvents[K]> = [];
  h.events.on(event, (e) => seen.push(e));
  return seen;
}

describe('shares of what serves', () => {
  it('a scale-out (10 serve, desired 20): votes of two observers for 8 of them mark at most 4', async () => {
    // Prepare: the new ten still boot.
    const serving = ids(10);
    const fleet = new MemoryFleet([{ name: 'workers', desiredCapacity: 20, instances: [...serving, ...ids(10, 'i-b').map((instanceId) => ({ instanceId, lifecycleState: 'Pending' as const }))] }]);
    const h = healer(fleet, () => t0);

    // Act: both observers' votes, each in its own call, all at once.
    await Promise.all(serving.slice(0, 8).flatMap((id) => [h.handleSignals([probe(id, 'observer-a', t0)]), h.handleSignals([probe(id, 'observer-b', t0)])]));

    // Assess
    expect(fleet.setHealthCalls).toHaveLength(4);
  });

  it('a shortfall whose launches keep failing: one budget goes, then autoheal stops and says why, however long it lasts', async () => {
    // Prepare: desired 10, only 3 run, and nothing new ever comes.
    const fleet = new MemoryFleet([{ name: 'workers', desiredCapacity: 10, instances: ids(3).map((instanceId) => ({ instanceId, launchedAt: longAgo })) }]);
    let now = t0;
    const h = healer(fleet, () => now);

    // Act: one fails and is marked; it terminates and is never replaced; the other two alarm every 10 minutes for 3 hours.
    const [first] = await h.handleSignals([alarm(ids(1)[0] as string, now)]);
    fleet.removeInstance(ids(1)[0] as string);
    const later: Array<{ reason: string; detail?: string }> = [];
    for (now = t0 + 600_000; now <= t0 + 3 * 3_600_000; now += 600_000) {
      const records = await h.handleSignals(ids(3).slice(1).map((id) => alarm(id, now)));
      later.push(...records.map((r) => r.verdict));
    }

    // Assess
    expect(first?.verdict).toMatchObject({ action: 'mark', detail: 'budget 1 of 1' });
    expect(fleet.setHealthCalls).toHaveLength(1);
    expect(new Set(later.map((v) => v.reason))).toEqual(new Set(['budgetSpent']));
    expect(later.at(-1)?.detail).toMatch(/^1 of budget 1 Unhealthy or not yet replaced \(0.4 of 3 serving\); 7 of desired 10 are missing and were not marked: launches are failing/);
  });
});

describe('zones as the anchor does them', () => {
  /** 20 instances over three zones, 7/7/6. */
  function zoned(): MemoryFleet {
    const zones = ['az-a', 'az-b', 'az-c'];
    const instances: MemoryInstanceInit[] = ids(20).map((instanceId, i) => ({ instanceId, availabilityZone: zones[i % 3] as string, launchedAt: longAgo }));
    return new MemoryFleet([{ name: 'workers', instances }]);
  }
  const inZone = (fleet: MemoryFleet, zone: string) => ids(20).filter((id) => fleet.instance(id)?.availabilityZone === zone);

  it('zone a all reported down, then one instance of zone b: zone b\'s instance is marked, and zone a heals within the budget', async () => {
    // Prepare
    const fleet = zoned();
    const h = healer(fleet, () => t0);
    const zonesDown = collect(h, 'healer:zone:down');
    const held = collect(h, 'healer:hold:started');
    const zoneA = inZone(fleet, 'az-a');

    // Act: zone a's seven, each observer's vote in its own call; then one of zone b.
    for (const id of zoneA) await h.handleSignals([probe(id, 'observer-b', t0), probe(id, 'observer-c', t0)]);
    const zoneB = inZone(fleet, 'az-b')[0] as string;
    const [, b] = await h.handleSignals([probe(zoneB, 'observer-a', t0), probe(zoneB, 'observer-c', t0)]);

    // Assess: 7 + 1 marks, the budget of 20 (8); no freeze; one notice-worthy zone event, naming where the reports came from.
    expect(b?.verdict).toMatchObject({ action: 'mark', detail: expect.stringMatching(/^budget 8 of 8/) });
    expect(fleet.setHealthCalls.map((c) => c.instanceId).sort()).toEqual([...zoneA, zoneB].sort());
    expect(held).toEqual([]);
    expect(zonesDown).toEqual([{ groupName: 'workers', zone: { zone: 'az-a', reported: 6, of: 7, from: ['observer observer-b', 'observer observer-c'] } }]);
  });

  it('most zones down freezes the group, as the whole group down does', async () => {
    // Prepare
    const fleet = zoned();
    const h = healer(fleet, () => t0);

    // Act: zones a and b (14 of 20, less than 0.8 of the group) reported in one call.
    const records = await h.handleSignals([...inZone(fleet, 'az-a'), ...inZone(fleet, 'az-b')].map((id) => alarm(id, t0)));

    // Assess: the reports are counted before anything is marked.
    expect(fleet.setHealthCalls).toEqual([]);
    expect(new Set(records.map((r) => r.verdict.reason))).toEqual(new Set(['frozen']));
    expect(records[0]?.verdict.detail).toMatch(/2 of 3 zones reported down within 120 s \(az-a: 7 of 7, az-b: 7 of 7\)/);
  });
});

describe('only evidence that stands counts', () => {
  it('a backlog of old alarms, each OK when re-read, is skipped stale and freezes nothing: a real failure 30 s later is marked', async () => {
    // Prepare: Lambda replays ten alarms from three hours ago at once.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10).map((instanceId) => ({ instanceId, launchedAt: longAgo })) }]);
    let now = t0;
    const asked: string[] = [];
    const alarms = { alarmState: async (name: string) => (asked.push(name), name.endsWith(ids(10)[9] as string) ? ('ALARM' as const) : ('OK' as const)) };
    const h = healer(fleet, () => now, {}, { alarms });
    const held = collect(h, 'healer:hold:started');

    // Act
    const replayed = await Promise.all(ids(9).map((id) => h.handleSignals([alarm(id, t0 - 3 * 3_600_000)])));
    now += 30_000;
    const [real] = await h.handleSignals([alarm(ids(10)[9] as string, now)]);

    // Assess
    expect(replayed.flat().map((r) => r.verdict.reason)).toEqual(Array(9).fill('stale'));
    expect(asked).toHaveLength(9);
    expect(held).toEqual([]);
    expect(real?.verdict).toMatchObject({ action: 'mark', reason: 'unhealthy' });
  });

  it('the scheduled re-decision of every alarm still in ALARM counts its reports before it marks anything', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10).map((instanceId) => ({ instanceId, launchedAt: longAgo })) }]);
    const h = healer(fleet, () => t0);

    // Act: one call, as the scheduled run hands over the held work.
    const records = await h.handleSignals(ids(10).map((id) => alarm(id, t0)));

    // Assess
    expect(fleet.setHealthCalls).toEqual([]);
    expect(records.map((r) => r.verdict.reason)).toEqual(Array(10).fill('frozen'));
  });
});

describe('facts that fail closed', () => {
  it('an instance whose EC2 facts are missing is skipped as unavailable and retried; the others of the batch are marked', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: [{ instanceId: 'i-00000000000000001', factsMissing: 'no launch time' }, 'i-00000000000000002'] }]);
    const h = healer(fleet, () => t0, { maxUnhealthyShare: 1 });

    // Act
    const records = await h.handleSignals([alarm('i-00000000000000001', t0), alarm('i-00000000000000002', t0)]);

    // Assess
    expect(records.map((r) => [r.verdict.reason, r.retryable])).toEqual([
      ['unavailable', true],
      ['unhealthy', undefined],
    ]);
    expect(records[0]?.error).toMatch(/could not be read \(no launch time\)/);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(['i-00000000000000002']);
  });

  it('with autoheal:paused=1 on a group, nothing of it is marked, and the detail says why', async () => {
    const fleet = new MemoryFleet([{ name: 'workers', tags: { 'autoheal:enabled': 'true', 'autoheal:paused': '1' }, instances: ids(3) }]);
    const [r] = await healer(fleet, () => t0).handleSignals([alarm(ids(1)[0] as string, t0)]);
    expect(r?.verdict).toMatchObject({ action: 'skip', reason: 'paused', detail: expect.stringMatching(/"1" is not true, false or a full ISO 8601 time/) });
    expect(fleet.setHealthCalls).toEqual([]);
  });

  it('a healthy probe verdict whose fleet cannot be read fails and is retried: a withdrawal is never lost', async () => {
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(3) }]).failNext('describeInstances');
    const [r] = await healer(fleet, () => t0).handleSignals([probe(ids(1)[0] as string, 'observer-a', t0, true)]);
    expect(r).toMatchObject({ verdict: { reason: 'unavailable' }, retryable: true });
  });
});

describe('a resume in the future', () => {
  it('counts from when it was first read: an observer gone wrong for 30 minutes gets one budget, not one per hold', async () => {
    // Prepare: the operator's clock runs an hour fast; one observer (quorum 1) reports every instance down every minute.
    const fleet = new MemoryFleet([{ name: 'workers', tags: { 'autoheal:enabled': 'true', 'autoheal:resumed-at': new Date(t0 + 3_600_000).toISOString() }, instances: ids(10).map((instanceId) => ({ instanceId, launchedAt: longAgo })) }]);
    let now = t0;
    const h = healer(fleet, () => now, { probeQuorum: 1 });
    const future = collect(h, 'healer:resume:future');
    let replaced = 0;

    // Act: the group replaces each marked instance at once.
    for (; now < t0 + 1_800_000; now += 60_000) {
      const [group] = await fleet.describeGroups(['workers']);
      for (const i of group?.instances ?? []) await h.handleSignals([probe(i.instanceId, 'cut-off', now)]);
      for (const call of fleet.setHealthCalls.slice(replaced)) {
        fleet.removeInstance(call.instanceId);
        fleet.addInstance('workers', { instanceId: `i-r${String(replaced++).padStart(16, '0')}`, launchedAt: longAgo });
      }
    }

    // Assess
    expect(fleet.setHealthCalls).toHaveLength(4);
    expect(future).toEqual([{ groupName: 'workers', tagKey: 'autoheal:resumed-at', tagMs: t0 + 3_600_000, countsAsMs: t0 }]);
  });
});
