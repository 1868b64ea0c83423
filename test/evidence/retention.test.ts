/**
 * The retention decision of quarantine `retain` (src/evidence/retention.ts), pure: the group's
 * slots in the ledger and its instances in, take / held / release / full out.
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { decideRetention, type InstanceState, type RetentionSlot } from '../../src/evidence/retention.js';

const at = '2026-12-03T16:00:00.000Z';
const inGroup = (...states: Array<[string, string]>): InstanceState[] => states.map(([instanceId, lifecycleState]) => ({ instanceId, lifecycleState }));
const slot = (instanceId: string, token?: string, slotAt = '2026-12-03T15:00:00.000Z'): RetentionSlot => ({ instanceId, ...(token ? { token } : {}), at: slotAt });
const decide = (input: { slots: RetentionSlot[]; instances: InstanceState[]; instanceId: string; token?: string; atMost?: number; now?: string }) =>
  decideRetention({ atMost: 1, at: input.now ?? at, actionLifeMs: 60_000, ...input });

describe('decideRetention', () => {
  it('takes a slot while fewer than N are retained, keeping the live slots', () => {
    // Act
    const first = decide({ slots: [], instances: inGroup(['i-a', 'Terminating:Wait'], ['i-b', 'InService']), instanceId: 'i-a', token: 't1' });
    const second = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-a', 'Terminating:Retained'], ['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2', atMost: 2 });

    // Assess
    expect(first).toEqual({ name: 'take', slots: [{ instanceId: 'i-a', token: 't1', at }] });
    expect(second).toEqual({ name: 'take', slots: [slot('i-a', 't1'), { instanceId: 'i-b', token: 't2', at }] });
  });

  it('is full at N: the N+1-th continues, naming the retained', () => {
    // Act
    const decision = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-a', 'Terminating:Wait'], ['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2' });

    // Assess
    expect(decision).toEqual({ name: 'full', retained: ['i-a'] });
  });

  it('counts instances the group retains without a slot (another hook abandoned, a person)', () => {
    // Act
    const decision = decide({ slots: [], instances: inGroup(['i-x', 'Terminating:Retained'], ['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2' });

    // Assess
    expect(decision).toEqual({ name: 'full', retained: ['i-x'] });
  });

  it('frees the slot of an instance that has left the group (released, or terminated after all)', () => {
    // Act
    const gone = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2' });
    const terminated = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-a', 'Terminated'], ['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2' });

    // Assess
    expect(gone).toEqual({ name: 'take', slots: [{ instanceId: 'i-b', token: 't2', at }] });
    expect(terminated).toEqual(gone);
  });

  it('a slot whose instance is still in the group counts, in any state: fewer kept for a while, never more', () => {
    // Act
    const decision = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-a', 'InService'], ['i-b', 'Terminating:Wait']), instanceId: 'i-b', token: 't2' });

    // Assess
    expect(decision.name).toBe('full');
  });

  it('the same action again (a redelivery, a retry after a crash) holds its slot: abandon again, nothing written', () => {
    // Act
    const decision = decide({ slots: [slot('i-a', 't1')], instances: inGroup(['i-a', 'Terminating:Wait']), instanceId: 'i-a', token: 't1' });

    // Assess
    expect(decision).toEqual({ name: 'held' });
  });

  it('a later action of an instance holding a slot is its release: continue, and the slot goes', () => {
    // Act
    const decision = decide({ slots: [slot('i-a', 't1'), slot('i-c', 't3')], instances: inGroup(['i-a', 'Terminating:Wait'], ['i-c', 'Terminating:Retained']), instanceId: 'i-a', token: 't9', atMost: 2 });

    // Assess
    expect(decision).toEqual({ name: 'release', slots: [slot('i-c', 't3')] });
  });

  it('without tokens, tells a redelivery from a release by age: within the hook\'s heartbeat it is the same action', () => {
    // Act
    const soon = decide({ slots: [slot('i-a', undefined, '2026-12-03T15:59:30.000Z')], instances: inGroup(['i-a', 'Terminating:Wait']), instanceId: 'i-a' });
    const later = decide({ slots: [slot('i-a', undefined, '2026-12-03T15:58:00.000Z')], instances: inGroup(['i-a', 'Terminating:Wait']), instanceId: 'i-a' });

    // Assess
    expect(soon).toEqual({ name: 'held' });
    expect(later).toEqual({ name: 'release', slots: [] });
  });
});

describe('AUTOHEAL_RETAIN_AT_MOST (the evidence function\'s N, as the stack writes it)', () => {
  it.each([
    ['0', 'AUTOHEAL_RETAIN_AT_MOST: must be a whole number from 1 to 10, got 0'],
    ['11', 'AUTOHEAL_RETAIN_AT_MOST: must be a whole number from 1 to 10, got 11'],
    ['1.5', 'AUTOHEAL_RETAIN_AT_MOST: must be a whole number from 1 to 10, got 1.5'],
    ['two', 'AUTOHEAL_RETAIN_AT_MOST: expected a number, got "two"'],
  ])('refuses %j, naming the variable', (value, message) => {
    // Act
    const act = () => resolveSettings({}, { AUTOHEAL_RETAIN_AT_MOST: value });

    // Assess
    expect(act).toThrow(message);
  });

  it('reads N, and leaves it unset when the variable is', () => {
    // Assess
    expect(resolveSettings({}, { AUTOHEAL_RETAIN_AT_MOST: '3' }).retainAtMost).toBe(3);
    expect(resolveSettings({}, {}).retainAtMost).toBeUndefined();
  });
});
