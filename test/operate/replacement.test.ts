/**
 * The replacement order `status` shows, from a group's instance maintenance policy as
 * DescribeAutoScalingGroups returns it (moto stores no maintenance policy: the status test stands
 * in at the SDK boundary).
 */
import { describe, expect, it } from 'vitest';
import { launchFirstPolicy, launchesFirst, overridesReplacement } from '../../src/fleet/replacement.js';
import { replacementOrder, replacementText } from '../../src/operate/replacement.js';

describe('replacementOrder', () => {
  it.each([
    ['no policy', undefined, 'terminate-then-launch', true],
    ['a cleared policy (-1)', { minHealthyPercentage: -1, maxHealthyPercentage: -1 }, 'terminate-then-launch', true],
    ['min healthy 100 %', { minHealthyPercentage: 100, maxHealthyPercentage: 110 }, 'launch-before-terminate', false],
    ['max healthy 100 %', { minHealthyPercentage: 90, maxHealthyPercentage: 100 }, 'terminate-and-launch', true],
    ['a range around 100 %', { minHealthyPercentage: 90, maxHealthyPercentage: 120 }, 'custom', true],
  ] as const)('%s: %s', (_name, policy, order, dips) => {
    // Act
    const r = replacementOrder(policy);

    // Assess
    expect(r.order).toBe(order);
    expect(r.dipsCapacity).toBe(dips);
  });

  it('says what each order costs, with the policy behind it', () => {
    // Assess
    expect(replacementText(replacementOrder({ minHealthyPercentage: 100, maxHealthyPercentage: 110 }))).toBe(
      'launch before terminate: capacity does not dip (a replacement runs beside the marked instance until it is ready) (min healthy 100 %, max 110 %)',
    );
    expect(replacementText(replacementOrder({ minHealthyPercentage: 90, maxHealthyPercentage: 100 }))).toBe(
      'terminate and launch at once: capacity DIPS, down to 90 % of desired, while a replacement boots (min healthy 90 %, max 100 %)',
    );
    expect(replacementText(replacementOrder({ minHealthyPercentage: 50, maxHealthyPercentage: 150 }))).toContain('may DIP to 50 % of desired');
  });
});

describe('the stack\'s replacement order against the group\'s own (src/fleet/replacement.ts)', () => {
  it.each([
    ['no policy', undefined, false, true],
    ['a cleared policy (-1)', { minHealthyPercentage: -1, maxHealthyPercentage: -1 }, false, true],
    ['launch-first, the stack\'s own', launchFirstPolicy, true, false],
    ['launch-first with a wider maximum', { minHealthyPercentage: 100, maxHealthyPercentage: 200 }, true, false],
    ['terminate and launch', { minHealthyPercentage: 90, maxHealthyPercentage: 100 }, false, true],
    ['a minimum without a maximum', { minHealthyPercentage: 100 }, false, true],
  ] as const)('%s', (_name, policy, first, overrides) => {
    // Assess
    expect(launchesFirst(policy)).toBe(first);
    expect(overridesReplacement('launch-before-terminate', policy)).toBe(overrides);
    expect(overridesReplacement('unchanged', policy)).toBe(false);
    expect(replacementOrder(policy, 'launch-before-terminate').overridesStack).toBe(overrides);
    expect(replacementOrder(policy).overridesStack).toBe(false);
  });
});
