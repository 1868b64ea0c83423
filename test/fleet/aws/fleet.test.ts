import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessDeniedError, ConfigError, isRetryable, RemoteError } from '../../../src/errors.js';
import { AwsAlarmState } from '../../../src/alarms/alarm-state.js';
import { AwsFleet } from '../../../src/fleet/aws/fleet.js';

const asg = mockClient(AutoScalingClient);
const cw = mockClient(CloudWatchClient);
const client = new AutoScalingClient({ region: 'eu-west-1' });

afterEach(() => {
  asg.reset();
  cw.reset();
});

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(17, '0')}`);

function sdkError(name: string, status: number, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

describe('AwsFleet.describeInstances', () => {
  it('asks for 120 ids in three calls of 50, 50 and 20', async () => {
    // Prepare
    const all = ids(120);
    asg.on(DescribeAutoScalingInstancesCommand).callsFake((input: { InstanceIds: string[] }) => ({
      AutoScalingInstances: input.InstanceIds.slice(0, 2).map((id) => ({
        InstanceId: id,
        AutoScalingGroupName: 'workers',
        AvailabilityZone: 'eu-west-1a',
        LifecycleState: 'InService',
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      })),
    }));

    // Act
    const found = await new AwsFleet(client).describeInstances(all);

    // Assess
    const calls = asg.commandCalls(DescribeAutoScalingInstancesCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { InstanceIds: all.slice(0, 50), MaxRecords: 50 },
      { InstanceIds: all.slice(50, 100), MaxRecords: 50 },
      { InstanceIds: all.slice(100), MaxRecords: 50 },
    ]);
    expect(found.size).toBe(6);
    expect(found.get(all[0] as string)).toEqual({
      instanceId: all[0],
      groupName: 'workers',
      lifecycleState: 'InService',
      healthStatus: 'Healthy',
      availabilityZone: 'eu-west-1a',
    });
  });

  it('follows NextToken, reads UNHEALTHY, and never sends an empty id list', async () => {
    // Prepare
    asg
      .on(DescribeAutoScalingInstancesCommand, { NextToken: undefined })
      .resolves({ AutoScalingInstances: [{ InstanceId: 'i-a', AutoScalingGroupName: 'g', LifecycleState: 'InService', HealthStatus: 'UNHEALTHY', AvailabilityZone: 'z', ProtectedFromScaleIn: false }], NextToken: 't1' })
      .on(DescribeAutoScalingInstancesCommand, { NextToken: 't1' })
      .resolves({ AutoScalingInstances: [{ InstanceId: 'i-b', AutoScalingGroupName: 'g', LifecycleState: 'Pending', HealthStatus: 'HEALTHY', AvailabilityZone: 'z', ProtectedFromScaleIn: false }] });
    const fleet = new AwsFleet(client);

    // Act
    const found = await fleet.describeInstances(['i-a', 'i-b', 'i-a']);
    const none = await fleet.describeInstances([]);

    // Assess
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ['i-a', 'i-b'], MaxRecords: 50 },
      { InstanceIds: ['i-a', 'i-b'], MaxRecords: 50, NextToken: 't1' },
    ]);
    expect(found.get('i-a')?.healthStatus).toBe('Unhealthy');
    expect(found.get('i-b')?.lifecycleState).toBe('Pending');
    expect(none.size).toBe(0);
  });
});

describe('AwsFleet.describeGroups', () => {
  it('reads size, grace period, tags and instances, batching names and following NextToken', async () => {
    // Prepare
    const workers = {
      AutoScalingGroupName: 'workers',
      DesiredCapacity: 5,
      MinSize: 1,
      MaxSize: 10,
      DefaultCooldown: 300,
      AvailabilityZones: ['eu-west-1a'],
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 300,
      CreatedTime: new Date(0),
      Tags: [{ Key: 'autoheal:enabled', Value: 'true', ResourceId: 'workers', ResourceType: 'auto-scaling-group', PropagateAtLaunch: false }],
      Instances: [{ InstanceId: 'i-a', LifecycleState: 'InService', HealthStatus: 'Unhealthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false }],
    };
    // Every batch has two pages; only the first page of the first batch holds a group.
    asg.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames: string[]; NextToken?: string }) =>
      input.NextToken
        ? { AutoScalingGroups: [] }
        : { AutoScalingGroups: input.AutoScalingGroupNames.includes('workers') ? [workers] : [], NextToken: 'n' },
    );
    const fleet = new AwsFleet(client, { groupNamesPerCall: 2 });

    // Act
    const groups = await fleet.describeGroups(['workers', 'b', 'c', 'workers']);
    await fleet.describeGroups([]);

    // Assess
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupNames: ['workers', 'b'], MaxRecords: 2 },
      { AutoScalingGroupNames: ['workers', 'b'], MaxRecords: 2, NextToken: 'n' },
      { AutoScalingGroupNames: ['c'], MaxRecords: 2 },
      { AutoScalingGroupNames: ['c'], MaxRecords: 2, NextToken: 'n' },
    ]);
    expect(groups).toEqual([
      {
        name: 'workers',
        desiredCapacity: 5,
        healthCheckGracePeriodSeconds: 300,
        tags: { 'autoheal:enabled': 'true' },
        suspendedProcesses: [],
        instances: [{ instanceId: 'i-a', groupName: 'workers', lifecycleState: 'InService', healthStatus: 'Unhealthy', availabilityZone: 'eu-west-1a' }],
      },
    ]);
  });

  it('rejects options out of the API limits with the limit in the message', () => {
    expect(() => new AwsFleet(client, { instanceIdsPerCall: 51 })).toThrow(ConfigError);
    expect(() => new AwsFleet(client, { instanceIdsPerCall: 51 })).toThrow(/50/);
  });
});

describe('AwsFleet.setInstanceHealth', () => {
  it.each([true, false])('sends the exact arguments (ShouldRespectGracePeriod %s)', async (respectGracePeriod) => {
    // Prepare
    asg.on(SetInstanceHealthCommand).resolves({});

    // Act
    await new AwsFleet(client).setInstanceHealth('i-0123456789abcdef0', 'Unhealthy', { respectGracePeriod });

    // Assess
    expect(asg.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceId: 'i-0123456789abcdef0', HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: respectGracePeriod },
    ]);
  });

  it('names the missing IAM action when access is denied', async () => {
    // Prepare
    asg.on(SetInstanceHealthCommand).rejects(sdkError('AccessDenied', 403, 'User: arn:aws:sts::1:assumed-role/x is not authorized'));

    // Act
    const error = await new AwsFleet(client)
      .setInstanceHealth('i-1', 'Unhealthy', { respectGracePeriod: true })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as Error).message).toContain('autoscaling:SetInstanceHealth');
    expect(isRetryable(error)).toBe(false);
  });

  it('marks throttling and contention as retryable, validation errors not', async () => {
    // Prepare
    asg
      .on(SetInstanceHealthCommand, { InstanceId: 'i-throttled' })
      .rejects(sdkError('Throttling', 400))
      .on(SetInstanceHealthCommand, { InstanceId: 'i-contended' })
      .rejects(sdkError('ResourceContention', 500))
      .on(SetInstanceHealthCommand, { InstanceId: 'i-gone' })
      .rejects(sdkError('ValidationError', 400, 'Instance Id not found'));
    const fleet = new AwsFleet(client);
    const attempt = (id: string): Promise<unknown> =>
      fleet.setInstanceHealth(id, 'Unhealthy', { respectGracePeriod: true }).catch((e: unknown) => e);

    // Act
    const [throttled, contended, gone] = await Promise.all([attempt('i-throttled'), attempt('i-contended'), attempt('i-gone')]);

    // Assess
    expect([throttled, contended, gone].map(isRetryable)).toEqual([true, true, false]);
    expect(gone).toBeInstanceOf(RemoteError);
    expect((gone as Error).message).toMatch(/^autoscaling:SetInstanceHealth failed: ValidationError: Instance Id not found/);
  });

  it('does not call AWS once aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await new AwsFleet(client)
      .setInstanceHealth('i-1', 'Unhealthy', { respectGracePeriod: true, signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isRetryable(error)).toBe(true);
    expect(asg.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });
});

describe('AwsAlarmState', () => {
  const alarms = new AwsAlarmState(new CloudWatchClient({ region: 'eu-west-1' }));

  it('reads a metric alarm state with the exact input', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'a', StateValue: 'OK' }] });
    await expect(alarms.alarmState('a')).resolves.toBe('OK');
    // The one DescribeAlarms reader by name (src/aws/cloudwatch.ts) pages 100 at a time.
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNames: ['a'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
      MaxRecords: 100,
    });
  });

  it('reads a composite alarm, and undefined for an alarm that is gone', async () => {
    cw.on(DescribeAlarmsCommand, { AlarmNames: ['c'] })
      .resolves({ CompositeAlarms: [{ AlarmName: 'c', StateValue: 'ALARM' }] })
      .on(DescribeAlarmsCommand, { AlarmNames: ['gone'] })
      .resolves({ MetricAlarms: [], CompositeAlarms: [] });
    await expect(alarms.alarmState('c')).resolves.toBe('ALARM');
    await expect(alarms.alarmState('gone')).resolves.toBeUndefined();
  });

  it('names cloudwatch:DescribeAlarms when access is denied', async () => {
    cw.on(DescribeAlarmsCommand).rejects(sdkError('AccessDenied', 403));
    await expect(alarms.alarmState('a')).rejects.toThrow(/cloudwatch:DescribeAlarms/);
  });
});
