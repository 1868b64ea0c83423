/**
 * Settings that cannot mean what they say are refused at synth, with the reason: the rules live
 * in the shared schemas the construct validates through (src/alarms/options.ts,
 * src/policy/options.ts), plus the one rule only the construct can judge (the observers it
 * deploys). The environment and the flags are refused by the same rules (test/policy, test/lambda).
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/errors.js';
import { stubBundleDir } from '../helpers/bundles.js';

let bundleDir: string;
const subnets = [
  { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
  { subnetId: 'subnet-0bbb', availabilityZone: 'us-east-1b' },
];

beforeAll(() => {
  bundleDir = stubBundleDir();
});

const synth = (props: Omit<AutoHealProps, 'bundleDir'>) => () => new AutoHeal(new Stack(new App()), 'AutoHeal', { ...props, bundleDir });

describe('the construct refuses settings that cannot mean what they say', () => {
  it.each<[string, Omit<AutoHealProps, 'bundleDir'>, RegExp]>([
    ['an alarm threshold every healthy instance passes', { alarm: { threshold: 0 } }, /alarm\.threshold: must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= 0 alarms on every instance/],
    ['an alarm threshold that can never fire', { alarm: { threshold: 5 } }, /alarm\.threshold: must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire/],
    ['a freeze too short to hold anything', { rails: { freeze: Duration.millis(10) } }, /rails\.freeze: must be at least 1000 ms: a shorter window holds nothing/],
    ['a rate window too short to hold anything', { rails: { markRateWindow: Duration.millis(500) } }, /rails\.markRateWindow: must be at least 1000 ms/],
    [
      'a probe quorum larger than the observers it deploys',
      { groups: ['web'], detection: ['probe'], probe: { subnets }, rails: { probeQuorum: 3 } },
      /rails\.probeQuorum: 3 observers must agree, but 2 are deployed: probe verdicts could never mark; lower the quorum or add observers/,
    ],
  ])('%s', (_name, props, message) => {
    expect(synth(props)).toThrow(ConfigError);
    expect(synth(props)).toThrow(message);
  });

  it('accepts a quorum its observers can reach, and one a prober host of its own may complete', () => {
    expect(synth({ groups: ['web'], detection: ['probe'], probe: { subnets }, rails: { probeQuorum: 2 } })).not.toThrow();
    expect(synth({ groups: ['web'], detection: ['probe'], rails: { probeQuorum: 3 } })).not.toThrow();
  });
});
