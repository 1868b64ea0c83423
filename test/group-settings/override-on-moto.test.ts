/**
 * The healer on the AWS path (createAwsHealer over moto, the policies moto does not keep stood in
 * by ./policy-stand-in.ts) when the stack asks for launch-before-terminate (AUTOHEAL_REPLACEMENT):
 * a mark in a group whose own maintenance policy overrides it says, in its log line and its
 * notice, that capacity will dip; a mark in a group that follows it says nothing of the kind.
 */
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import type { InstanceFacts } from '../../src/aws/ec2.js';
import { markNotice } from '../../src/operate/notices.js';
import { createAwsHealer } from '../../src/runtime/aws.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { startPolicyStandIn, type PolicyStandIn } from './policy-stand-in.js';

let moto: MotoFixture;
let standIn: PolicyStandIn;
let client: AutoScalingClient;

beforeAll(async () => {
  moto = await startMoto();
  standIn = await startPolicyStandIn(moto.endpoint);
  client = new AutoScalingClient({ ...moto.clientConfig, endpoint: standIn.url });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await standIn?.stop();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  standIn.policies.clear();
});

/** EC2's facts (read by a signer outside the stand-in's reach): launched an hour ago, no tags. */
const facts = async (ids: readonly string[]) => new Map(ids.map((id) => [id, { tags: {}, launchedAt: new Date(Date.now() - 3_600_000) } as InstanceFacts]));
const down = (instanceId: string) => ({ instanceId, state: 'unhealthy' as const, source: 'cloudwatch-alarm' as const, observedAt: new Date().toISOString(), eventId: `e-${instanceId}`, reason: 'StatusCheckFailed', instanceIdFrom: 'dimension' as const });

async function markOne(group: string, replacement: string) {
  const { logger, lines } = capturedLogger();
  const settings = resolveSettings({ groups: group }, { AUTOHEAL_REPLACEMENT: replacement });
  const { healer } = createAwsHealer({ settings, autoScaling: client, instanceFacts: facts, logger });
  const g = await createMotoGroup(moto, { name: group, size: 4 });
  return { g, lines, healer };
}

describe('a mark in a group that overrides the stack\'s launch-before-terminate', () => {
  it('says capacity will dip, in the log line and the notice', async () => {
    // Prepare: the group's own policy terminates and launches at once.
    const { g, lines, healer } = await markOne('web', 'launch-before-terminate');
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', InstanceMaintenancePolicy: { MinHealthyPercentage: 90, MaxHealthyPercentage: 100 } }));

    // Act
    const [record] = await healer.handleSignals([down(g.instanceIds[0] as string)]);

    // Assess
    expect(record).toMatchObject({ verdict: { action: 'mark' }, groupName: 'web', replacementOverridden: true });
    const capacity = "capacity will dip while the replacement boots: the group's instance maintenance policy overrides the stack's replacement launch-before-terminate";
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'verdict', action: 'mark', group: 'web', capacity }));
    expect(markNotice(record as NonNullable<typeof record>).body).toContain(`Capacity: ${capacity}.`);
  });

  it('says nothing of it when the group launches first, or when the stack leaves replacement unchanged', async () => {
    // Prepare
    const follows = await markOne('web', 'launch-before-terminate');
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', InstanceMaintenancePolicy: { MinHealthyPercentage: 100, MaxHealthyPercentage: 110 } }));
    const unchanged = await markOne('batch', 'unchanged');

    // Act
    const [a] = await follows.healer.handleSignals([down(follows.g.instanceIds[0] as string)]);
    const [b] = await unchanged.healer.handleSignals([down(unchanged.g.instanceIds[0] as string)]);

    // Assess
    for (const [r, lines] of [[a, follows.lines], [b, unchanged.lines]] as const) {
      expect(r).toMatchObject({ verdict: { action: 'mark' } });
      expect(r).not.toHaveProperty('replacementOverridden');
      expect(lines.find((l) => l.msg === 'verdict')).not.toHaveProperty('capacity');
      expect(markNotice(r as NonNullable<typeof r>).body).not.toContain('Capacity:');
    }
  });
});
