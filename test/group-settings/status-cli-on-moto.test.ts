/**
 * `autoheal status` as an operator runs it (the built CLI, a process of its own), reaching moto
 * through AWS_ENDPOINT_URL, the policies moto does not keep stood in for (./policy-stand-in.ts):
 * with the stack's order launch-before-terminate, a group whose own policy is not launch-first is
 * said to override it, and a group that follows it is not; without the stack's order, nothing is.
 */
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin, isolatedAwsEnv, runCli } from '../helpers/cli.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { startPolicyStandIn, type PolicyStandIn } from './policy-stand-in.js';

let moto: MotoFixture;
let standIn: PolicyStandIn;

beforeAll(async () => {
  if (!existsSync(cliBin.replace(/bin\/autoheal\.js$/, 'dist/cli/main.js'))) throw new Error('dist/ not found: run "npm run build" first');
  moto = await startMoto();
  standIn = await startPolicyStandIn(moto.endpoint);
  const client = new AutoScalingClient({ ...moto.clientConfig, endpoint: standIn.url });
  await createMotoGroup(moto, { name: 'follows', size: 0 });
  await createMotoGroup(moto, { name: 'overrides', size: 0 });
  await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'follows', InstanceMaintenancePolicy: { MinHealthyPercentage: 100, MaxHealthyPercentage: 110 } }));
  await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'overrides', InstanceMaintenancePolicy: { MinHealthyPercentage: 90, MaxHealthyPercentage: 100 } }));
  client.destroy();
}, 60_000);
afterAll(async () => {
  await standIn?.stop();
  await moto?.stop();
});

const env = (extra: Record<string, string> = {}) => isolatedAwsEnv({ AWS_REGION: moto.region, AWS_ENDPOINT_URL: standIn.url, ...extra });
const replacementLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('group ') || l.startsWith('  replacement: '));

describe('autoheal status, the stack\'s replacement order against each group\'s own', () => {
  it('--replacement launch-before-terminate: the group that is not launch-first overrides it, the other does not', async () => {
    // Act
    const run = await runCli(['status', '--groups', 'follows,overrides', '--replacement', 'launch-before-terminate'], { env: env() });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = replacementLines(run.stdout);
    expect(lines[1]).toBe('  replacement: launch before terminate: capacity does not dip (a replacement runs beside the marked instance until it is ready) (min healthy 100 %, max 110 %)');
    expect(lines[3]).toBe(
      "  replacement: terminate and launch at once: capacity DIPS, down to 90 % of desired, while a replacement boots (min healthy 90 %, max 100 %); the group OVERRIDES the stack's launch-before-terminate (its own instance maintenance policy wins)",
    );
  });

  it('AUTOHEAL_REPLACEMENT as the healer has it, in --json; without it no group overrides anything', async () => {
    // Act
    const asked = await runCli(['status', '--groups', 'follows,overrides', '--json'], { env: env({ AUTOHEAL_REPLACEMENT: 'launch-before-terminate' }) });
    const plain = await runCli(['status', '--groups', 'follows,overrides', '--json'], { env: env() });

    // Assess
    const overrides = (run: { stdout: string }) =>
      (JSON.parse(run.stdout) as { groups: Array<{ name: string; replacement: { order: string; overridesStack: boolean } }> }).groups.map((g) => [g.name, g.replacement.order, g.replacement.overridesStack]);
    expect(overrides(asked)).toEqual([
      ['follows', 'launch-before-terminate', false],
      ['overrides', 'terminate-and-launch', true],
    ]);
    expect(overrides(plain)).toEqual([
      ['follows', 'launch-before-terminate', false],
      ['overrides', 'terminate-and-launch', false],
    ]);
  });
});
