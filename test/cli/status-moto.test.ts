/**
 * `autoheal status` against moto (an independent implementation of Auto Scaling, EC2 and
 * CloudWatch): the built CLI, reaching moto through AWS_ENDPOINT_URL as it would reach AWS.
 * moto creates alarms OK and never replaces an Unhealthy instance: the test sets the states it needs.
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, SetInstanceHealthCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricAlarmCommand, PutMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmNameFor } from '../../src/alarms/manager.js';
import { heartbeatMetric } from '../../src/prober/heartbeat-metric.js';
import { runCli } from '../helpers/cli.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let asg: AutoScalingClient;
let cw: CloudWatchClient;
let ec2: EC2Client;

/** A group of `size` instances in one zone, tagged (or not) with the opt-in tag; returns its instance ids. */
async function createGroup(name: string, size: number, tags: Record<string, string>): Promise<string[]> {
  const image = (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId ?? 'ami-12c6146b';
  await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: image, InstanceType: 't3.micro' } }));
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateName: `${name}-lt`, Version: '$Latest' },
      MinSize: size,
      MaxSize: size,
      DesiredCapacity: size,
      AvailabilityZones: [`${moto.region}a`],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false, ResourceId: name, ResourceType: 'auto-scaling-group' })),
    }),
  );
  // Instances launched moments ago are in their grace period otherwise, and the policy would say so
  // first. moto's CreateAutoScalingGroup reads a grace period of 0 as its default 300; an update keeps 0.
  await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, HealthCheckGracePeriod: 0 }));
  const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  return (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId as string);
}

async function alarmIn(instanceId: string, state: 'ALARM' | 'OK'): Promise<void> {
  const name = alarmNameFor('autoheal-status-check-', instanceId);
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'AWS/EC2',
      MetricName: 'StatusCheckFailed',
      Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  );
  if (state === 'ALARM') {
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 2 datapoints [1.0, 1.0] were greater than or equal to the threshold (1.0).' }));
  }
}

beforeAll(async () => {
  moto = await startMoto();
  asg = new AutoScalingClient(moto.clientConfig);
  cw = new CloudWatchClient(moto.clientConfig);
  ec2 = new EC2Client(moto.clientConfig);
}, 60_000);
afterAll(async () => {
  for (const c of [asg, cw, ec2]) c?.destroy();
  await moto?.stop();
});

describe('autoheal status against moto', () => {
  it('a tagged group of 10 with 8 alarms in ALARM and 4 marked: managed, budget 4 of 4, each held instance names the budget', async () => {
    // Prepare: the group, 8 alarms in ALARM and 2 OK, the first 4 alarmed instances marked Unhealthy; an observer's heartbeat.
    const ids = await createGroup('workers', 10, { 'autoheal:enabled': 'true' });
    expect(ids).toHaveLength(10);
    const alarmed = ids.slice(0, 8);
    for (const id of ids) await alarmIn(id, alarmed.includes(id) ? 'ALARM' : 'OK');
    const marked = alarmed.slice(0, 4);
    for (const id of marked) await asg.send(new SetInstanceHealthCommand({ InstanceId: id, HealthStatus: 'Unhealthy' }));
    await cw.send(
      new PutMetricDataCommand({
        Namespace: heartbeatMetric.namespace,
        MetricData: [
          { MetricName: heartbeatMetric.name, Dimensions: [{ Name: heartbeatMetric.dimension, Value: 'observer-a' }], Value: 1, Unit: 'Count', Timestamp: new Date() },
          { MetricName: heartbeatMetric.targetsName, Dimensions: [{ Name: heartbeatMetric.dimension, Value: 'observer-a' }], Value: 10, Unit: 'Count', Timestamp: new Date() },
          { MetricName: heartbeatMetric.unreachableName, Dimensions: [{ Name: heartbeatMetric.dimension, Value: 'observer-a' }], Value: 1, Unit: 'Count', Timestamp: new Date() },
        ],
      }),
    );

    // Act: the built CLI, as an operator runs it.
    const run = await runCli(['status', '--group', 'workers', '--json'], { env: { ...process.env, ...moto.env } });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      groups: Array<{
        name: string;
        managed: boolean;
        managedBy: string;
        paused: boolean;
        budget: { limit: number; inUse: number };
        rails: { rateLimited: boolean; hold: unknown };
        observers: Array<{ name: string; lastHeartbeat: string | null; silent: boolean; targets: number | null; unreachableGroups: number | null }>;
        instances: Array<{ instanceId: string; healthStatus: string; evidence: string; verdict: { action: string; reason: string; detail?: string } }>;
      }>;
    };
    expect(report.groups).toHaveLength(1);
    const [group] = report.groups;
    expect(group).toMatchObject({ name: 'workers', managed: true, managedBy: 'byTag', paused: false, budget: { limit: 4, inUse: 4 } });
    expect(group?.rails).toMatchObject({ rateLimited: false, hold: null });
    // Per observer: its newest heartbeat, the targets it probed and how many groups it cannot reach.
    expect(group?.observers).toEqual([{ name: 'observer-a', lastHeartbeat: expect.any(String), silent: false, targets: 10, unreachableGroups: 1 }]);
    const held = group?.instances.filter((i) => i.evidence === 'unhealthy' && i.healthStatus === 'Healthy') ?? [];
    expect(held.map((i) => i.instanceId).sort()).toEqual(alarmed.slice(4).sort());
    for (const i of held) {
      expect(i.verdict).toEqual({ action: 'skip', reason: 'budgetSpent', detail: '4 of budget 4 Unhealthy or not yet replaced (0.4 of 10 serving)' });
    }
    for (const i of group?.instances.filter((x) => marked.includes(x.instanceId)) ?? []) {
      expect(i.verdict).toMatchObject({ action: 'skip', reason: 'alreadyUnhealthy' });
    }
  }, 60_000);

  it('without --group lists every managed group (tag or AUTOHEAL_GROUPS) and says a named group that is not managed is not', async () => {
    // Prepare
    await createGroup('by-name', 2, {});
    await createGroup('unmanaged', 2, { team: 'x' });

    // Act
    const all = await runCli(['status', '--json'], { env: { ...process.env, ...moto.env, AUTOHEAL_GROUPS: 'by-name' } });
    const one = await runCli(['status', '--group', 'unmanaged'], { env: { ...process.env, ...moto.env } });
    const missing = await runCli(['status', '--group', 'nope,workers'], { env: { ...process.env, ...moto.env } });

    // Assess
    expect(all.code).toBe(0);
    const names = (JSON.parse(all.stdout) as { groups: Array<{ name: string; managedBy: string }> }).groups.map((g) => [g.name, g.managedBy]);
    expect(names).toEqual([
      ['by-name', 'byName'],
      ['workers', 'byTag'],
    ]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^group unmanaged: NOT managed/);
    expect(one.stdout).toMatch(/skip notOptedIn/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Auto Scaling group "nope" not found/);
  }, 60_000);

  it('pause and resume write the tags the healer reads; status shows them and the verdicts follow', async () => {
    // Prepare: 'workers' from the first test.
    const env = { ...process.env, ...moto.env };

    // Act
    const paused = await runCli(['pause', 'workers', '--for', '2h'], { env });
    const whilePaused = await runCli(['status', '--group', 'workers', '--json'], { env });
    const resumed = await runCli(['resume', 'workers'], { env });
    const afterResume = await runCli(['status', '--group', 'workers', '--json'], { env });
    const missing = await runCli(['pause', 'nope'], { env });
    const badFor = await runCli(['pause', 'workers', '--for', 'soon'], { env });

    // Assess
    expect([paused.code, resumed.code]).toEqual([0, 0]);
    expect(paused.stdout).toMatch(/^paused workers: autoheal:paused=\d{4}-\d\d-\d\dT/);
    type G = { paused: boolean; pausedUntil: string | null; rails: { resumedAt: string | null }; instances: Array<{ healthStatus: string; verdict: { reason: string } }> };
    const [during] = (JSON.parse(whilePaused.stdout) as { groups: G[] }).groups;
    expect(during?.paused).toBe(true);
    expect(Date.parse(during?.pausedUntil ?? '') - Date.now()).toBeGreaterThan(3_600_000);
    expect(new Set(during?.instances.map((i) => i.verdict.reason))).toEqual(new Set(['paused']));
    const [after] = (JSON.parse(afterResume.stdout) as { groups: G[] }).groups;
    expect(after).toMatchObject({ paused: false, pausedUntil: null });
    expect(after?.rails.resumedAt).toEqual(expect.any(String));
    expect(new Set(after?.instances.filter((i) => i.healthStatus === 'Healthy').map((i) => i.verdict.reason))).toEqual(new Set(['budgetSpent']));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Auto Scaling group "nope" not found/);
    expect(badFor.code).toBe(2);
    expect(badFor.stderr).toMatch(/--for: expected a duration such as 30m/);
  }, 60_000);
});
