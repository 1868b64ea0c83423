/**
 * Only the observers AUTOHEAL_OBSERVERS names vote, through the real healer and the in-memory fleet:
 * a vote from any other name, or claiming a name its sender's role does not prove, is skipped
 * `unknownObserver` and never counts toward the quorum.
 */
import { describe, expect, it } from 'vitest';
import { createHealer } from '../../src/healer/healer.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { probeVerdict as probe } from '../helpers/events.js';
import { jsonCheckedLedger } from '../helpers/json-ledger.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

const t0 = Date.parse('2024-05-01T12:00:00Z');
const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004', 'i-00000000000000005'];
const roleA = 'AROAEXAMPLEROLEID0001';
const roleB = 'AROAEXAMPLEROLEID0002';

function healer(policy: PolicyOptionsInput) {
  const fleet = new MemoryFleet([{ name: 'workers', instances: ids }]);
  return { fleet, h: createHealer({ fleet, policy: policyOptionsSchema.parse(policy), clock: () => t0, ledger: jsonCheckedLedger() }) };
}

const sent = (signal: HealthSignal, sender: string): HealthSignal => ({ ...signal, sender });

describe('only the deployed observers vote', () => {
  it('names as given: observer-a with mallory, or mallory-1 with mallory-2, mark nothing; observer-a with observer-b mark', async () => {
    // Prepare
    const { fleet, h } = healer({ voters: [{ name: 'observer-a' }, { name: 'observer-b' }] });
    const [one, two, three] = ids as [string, string, string];

    // Act
    const forged = await h.handleSignals([probe(one, 'observer-a', t0), probe(one, 'mallory', t0), probe(two, 'mallory-1', t0), probe(two, 'mallory-2', t0)]);
    const real = await h.handleSignals([probe(three, 'observer-a', t0), probe(three, 'observer-b', t0)]);

    // Assess
    expect(forged.map((r) => r.verdict.reason)).toEqual(['awaitingQuorum', 'unknownObserver', 'unknownObserver', 'unknownObserver']);
    expect(forged[1]?.verdict.detail).toMatch(/"mallory" is not one of the observers AUTOHEAL_OBSERVERS names/);
    expect(real.map((r) => r.verdict.action)).toEqual(['skip', 'mark']);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual([three]);
  });

  it('with role ids: one sender casting both observers\' votes marks nothing; each observer\'s own role marks', async () => {
    // Prepare
    const { fleet, h } = healer({ voters: [{ name: 'observer-a', roleId: roleA }, { name: 'observer-b', roleId: roleB }] });
    const [one, two] = ids as [string, string];

    // Act: observer-a's role sends both votes about one; each role its own about two.
    const forged = await h.handleSignals([sent(probe(one, 'observer-a', t0), `${roleA}:a`), sent(probe(one, 'observer-b', t0), `${roleA}:a`)]);
    const real = await h.handleSignals([sent(probe(two, 'observer-a', t0), `${roleA}:a`), sent(probe(two, 'observer-b', t0), `${roleB}:b`)]);

    // Assess
    expect(forged.map((r) => r.verdict.reason)).toEqual(['awaitingQuorum', 'unknownObserver']);
    expect(real.map((r) => r.verdict.action)).toEqual(['skip', 'mark']);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual([two]);
  });
});
