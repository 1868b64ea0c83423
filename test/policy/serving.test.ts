/**
 * Shares of what serves: the budget and the suspicion share are measured against the instances
 * that serve (plus the marked not yet replaced), never against desired capacity when fewer serve.
 * Pure: group views built here, the policy's own reducers.
 */
import { describe, expect, it } from 'vitest';
import type { GroupView, InstanceView } from '../../src/fleet/port.js';
import { capacityOf, unhealthyBudget } from '../../src/policy/budget.js';
import { decide, type DecideInput } from '../../src/policy/decide.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';

const options = policyOptionsSchema.parse({});
const nowMs = Date.parse('2024-05-01T12:00:00Z');
type Row = [string, InstanceView['lifecycleState'], InstanceView['healthStatus'], string?];

function group(desiredCapacity: number, rows: Row[]): GroupView {
  return {
    name: 'workers',
    desiredCapacity,
    healthCheckGracePeriodSeconds: 0,
    tags: { 'autoheal:enabled': 'true' },
    suspendedProcesses: [],
    instances: rows.map(([instanceId, lifecycleState, healthStatus, zone]) => ({
      instanceId,
      groupName: 'workers',
      lifecycleState,
      healthStatus,
      ...(zone ? { availabilityZone: zone } : {}),
    })),
  };
}

const serving = (n: number, prefix = 'i-s', zone?: string): Row[] => Array.from({ length: n }, (_, k) => [`${prefix}${k}`, 'InService', 'Healthy', zone]);
const pending = (n: number): Row[] => Array.from({ length: n }, (_, k) => [`i-p${k}`, 'Pending', 'Healthy']);

describe('capacityOf', () => {
  it.each([
    { name: 'a whole group', g: group(10, serving(10)), marked: [], cap: { serving: 10, inUse: 0, base: 10, shortfall: 0, missing: 0 } },
    { name: 'a scale-out: 10 serve, 10 boot, desired 20', g: group(20, [...serving(10), ...pending(10)]), marked: [], cap: { serving: 10, inUse: 0, base: 10, shortfall: 10, missing: 10 } },
    { name: 'a shortfall: launches fail, 3 of desired 10', g: group(10, serving(3)), marked: [], cap: { serving: 3, inUse: 0, base: 3, shortfall: 7, missing: 7 } },
    {
      name: 'our marks do not shrink the base: 4 of 10 marked, the view not caught up',
      g: group(10, serving(10)),
      marked: ['i-s0', 'i-s1', 'i-s2', 'i-s3'],
      cap: { serving: 6, inUse: 4, base: 10, shortfall: 0, missing: 0 },
    },
    {
      name: 'marked and gone, replacements booting: still in use, still in the base',
      g: group(10, [...serving(6, 'i-k'), ...pending(4)]),
      marked: ['i-s0', 'i-s1', 'i-s2', 'i-s3'],
      cap: { serving: 6, inUse: 4, base: 10, shortfall: 4, missing: 0 },
    },
    {
      name: 'a shortfall and one marked gone: launches fail, the mark stays in use',
      g: group(10, serving(2)),
      marked: ['i-gone'],
      cap: { serving: 2, inUse: 1, base: 3, shortfall: 8, missing: 7 },
    },
    { name: 'a scale-in: never more than desired', g: group(5, serving(10)), marked: [], cap: { serving: 10, inUse: 0, base: 5, shortfall: 0, missing: 0 } },
  ])('$name', ({ g, marked, cap }) => {
    expect(capacityOf(g, marked.map((instanceId) => ({ instanceId })))).toMatchObject(cap);
  });

  it('counts each zone\'s instances that serve or are in use, gone marks in their zone', () => {
    const g = group(6, [...serving(3, 'i-a', 'az-a'), ...serving(2, 'i-b', 'az-b'), ['i-t', 'Terminated', 'Unhealthy', 'az-c']]);
    expect(capacityOf(g, [{ instanceId: 'i-gone', zone: 'az-b' }, { instanceId: 'i-nowhere' }]).zones).toEqual({ 'az-a': 3, 'az-b': 3, 'az-c': 1 });
  });
});

describe('the budget against what serves', () => {
  const signal: HealthSignal = {
    instanceId: 'i-s0',
    state: 'unhealthy',
    source: 'cloudwatch-alarm',
    observedAt: new Date(nowMs).toISOString(),
    eventId: 'e',
    reason: 'Threshold Crossed',
    instanceIdFrom: 'dimension',
  };

  /** Marks one at a time, as the healer does, until the policy says no; returns the verdicts. */
  function markUntilSpent(g: GroupView, candidates: string[]): string[] {
    const marked: string[] = [];
    const verdicts: string[] = [];
    for (const id of candidates) {
      const instance = g.instances.find((i) => i.instanceId === id) as InstanceView;
      const input: DecideInput = { signal: { ...signal, instanceId: id }, instance, group: g, nowMs, options, duplicate: false, capacity: capacityOf(g, marked.map((instanceId) => ({ instanceId }))) };
      const verdict = decide(input);
      verdicts.push(verdict.reason);
      if (verdict.action === 'mark') marked.push(id);
    }
    return verdicts;
  }

  it('a scale-out (10 serve, desired 20) lets at most 4 of the 10 go, not 8', () => {
    const g = group(20, [...serving(10), ...pending(10)]);
    const verdicts = markUntilSpent(g, serving(8).map(([id]) => id));
    expect(verdicts).toEqual([...Array(4).fill('unhealthy'), ...Array(4).fill('budgetSpent')]);
  });

  it('a shortfall (3 serve of desired 10) lets one go, and says why the rest wait', () => {
    const g = group(10, serving(3));
    const [first, second] = ['i-s0', 'i-s1'].map((id, k) => {
      const instance = g.instances.find((i) => i.instanceId === id) as InstanceView;
      return decide({ signal: { ...signal, instanceId: id }, instance, group: g, nowMs, options, duplicate: false, capacity: capacityOf(g, k === 0 ? [] : [{ instanceId: 'i-s0' }]) });
    });
    expect(first).toMatchObject({ action: 'mark', detail: 'budget 1 of 1' });
    expect(second).toMatchObject({ action: 'skip', reason: 'budgetSpent' });
    expect(second?.detail).toBe(
      "1 of budget 1 Unhealthy or not yet replaced (0.4 of 3 serving); 7 of desired 10 are missing and were not marked: launches are failing or a scale-out is still booting, so the marked are not replaced and nothing more is marked until replacements serve (check the group's scaling activities)",
    );
  });

  it('the budget is at least one, of a group of one or none', () => {
    expect([unhealthyBudget(0, 0.4), unhealthyBudget(1, 0.4), unhealthyBudget(10, 0.4), unhealthyBudget(10, 1)]).toEqual([1, 1, 4, 10]);
  });
});
