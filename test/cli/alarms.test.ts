import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DeleteAlarmsCommand, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/alarms.js';

const asg = mockClient(AutoScalingClient);
const cw = mockClient(CloudWatchClient);
const topic = 'arn:aws:sns:eu-west-1:123456789012:alerts';

async function run(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const program = new Command('autoheal').exitOverride();
  register(program);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'autoheal', ...args]);
    return { stdout: out.join(''), stderr: err.join(''), exitCode: process.exitCode as number | undefined };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = undefined;
  }
}

beforeEach(() => {
  asg.reset();
  cw.reset();
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'web',
        MinSize: 1,
        MaxSize: 3,
        DesiredCapacity: 1,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(0),
        Instances: [
          { InstanceId: 'i-0000000000000000a', LifecycleState: 'InService', HealthStatus: 'Healthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false },
        ],
      },
    ],
  });
  asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
  cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'autoheal-status-check-i-0000000000000000b' }] });
  cw.on(PutMetricAlarmCommand).resolves({});
  cw.on(DeleteAlarmsCommand).resolves({});
});
afterEach(() => {
  asg.reset();
  cw.reset();
});

describe('autoheal alarms sync', () => {
  it('prints what it created and deleted as JSON and makes those calls', async () => {
    // Act
    const result = await run(['alarms', 'sync', '--group', 'web', '--topic-arn', topic, '--region', 'eu-west-1']);

    // Assess
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      group: 'web',
      dryRun: false,
      created: ['autoheal-status-check-i-0000000000000000a'],
      updated: [],
      deleted: ['autoheal-status-check-i-0000000000000000b'],
      unchanged: [],
    });
    expect(cw.commandCalls(PutMetricAlarmCommand)[0]?.args[0].input).toMatchObject({
      AlarmName: 'autoheal-status-check-i-0000000000000000a',
      AlarmActions: [topic],
    });
    expect(cw.commandCalls(DeleteAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNames: ['autoheal-status-check-i-0000000000000000b'],
    });
  });

  it('with --dry-run changes nothing', async () => {
    // Act
    const result = await run(['alarms', 'sync', '--group', 'web', '--dry-run', '--region', 'eu-west-1']);

    // Assess
    expect(JSON.parse(result.stdout)).toMatchObject({ dryRun: true, created: ['autoheal-status-check-i-0000000000000000a'] });
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
    expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(0);
  });

  it('exits 2 naming the option for settings CloudWatch refuses', async () => {
    // Act
    const result = await run(['alarms', 'sync', '--group', 'web', '--period-seconds', '45', '--region', 'eu-west-1']);

    // Assess
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/periodSeconds/);
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });

  it.each([
    ['0', /must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= 0 alarms on every instance/],
    ['5', /must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire/],
  ])('exits 2 for --threshold %s, a threshold that cannot mean what it says, before any alarm is put', async (threshold, message) => {
    const result = await run(['alarms', 'sync', '--group', 'web', '--threshold', threshold, '--region', 'eu-west-1']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/threshold/);
    expect(result.stderr).toMatch(message);
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });
});
