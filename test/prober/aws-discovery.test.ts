import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, RemoteError } from '../../src/errors.js';
import { describeGroupInstances, groupTargets, instanceIdsPerDescribe } from '../../src/prober/aws-discovery.js';

const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const clients = { autoscaling: new AutoScalingClient({}), ec2: new EC2Client({}) };
const id = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;

function group(instances: Array<[string, string]>): void {
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'web',
        MinSize: 0,
        MaxSize: 10,
        DesiredCapacity: instances.length,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(0),
        Instances: instances.map(([InstanceId, LifecycleState]) => ({
          InstanceId,
          LifecycleState: LifecycleState as 'InService',
          HealthStatus: 'Healthy',
          AvailabilityZone: 'eu-west-1a',
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  });
}

beforeEach(() => {
  asg.reset();
  ec2.reset();
});
afterEach(() => {
  asg.reset();
  ec2.reset();
});

describe('AWS discovery', () => {
  it('probes the InService instances at their private IPs, asking EC2 only for the group ids', async () => {
    // Prepare
    group([
      [id(1), 'InService'],
      [id(2), 'Pending'],
      [id(3), 'InService'],
    ]);
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: id(1), PrivateIpAddress: '10.0.0.11', LaunchTime: new Date('2025-01-01T00:00:00Z') }] },
        { Instances: [{ InstanceId: id(2), PrivateIpAddress: '10.0.0.12' }, { InstanceId: id(3), PrivateIpAddress: '10.0.0.13' }] },
      ],
    });

    // Act
    const targets = await groupTargets(clients, { groupName: 'web', port: 8080, path: '/ready' })(new AbortController().signal);

    // Assess
    expect(targets).toEqual([
      { instanceId: id(1), host: '10.0.0.11', port: 8080, path: '/ready' },
      { instanceId: id(3), host: '10.0.0.13', port: 8080, path: '/ready' },
    ]);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({ AutoScalingGroupNames: ['web'] });
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({ InstanceIds: [id(1), id(2), id(3)] });
  });

  it('batches DescribeInstances and follows its pages', async () => {
    // Prepare
    const ids = Array.from({ length: instanceIdsPerDescribe + 5 }, (_, n) => id(n + 1));
    group(ids.map((i) => [i, 'InService']));
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: id(1), PrivateIpAddress: '10.0.0.1' }] }], NextToken: 'p2' })
      .resolves({ Reservations: [] });

    // Act
    const instances = await describeGroupInstances(clients, 'web');

    // Assess
    const calls = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.InstanceIds?.length, c.NextToken])).toEqual([
      [instanceIdsPerDescribe, undefined],
      [instanceIdsPerDescribe, 'p2'],
      [5, undefined],
    ]);
    expect(instances.filter((i) => i.privateIp !== undefined)).toHaveLength(1);
  });

  it('never lists the whole account for an empty group', async () => {
    // Prepare
    group([]);

    // Act
    const instances = await describeGroupInstances(clients, 'web');

    // Assess
    expect(instances).toEqual([]);
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('fails with a ConfigError for a missing group and a RemoteError naming the action when EC2 fails', async () => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolvesOnce({ AutoScalingGroups: [] });

    // Act / Assess
    await expect(describeGroupInstances(clients, 'web')).rejects.toBeInstanceOf(ConfigError);

    group([[id(1), 'InService']]);
    ec2.on(DescribeInstancesCommand).rejects(Object.assign(new Error('nope'), { name: 'UnauthorizedOperation' }));
    await expect(describeGroupInstances(clients, 'web')).rejects.toMatchObject({ action: 'ec2:DescribeInstances' });
    await expect(describeGroupInstances(clients, 'web')).rejects.toBeInstanceOf(RemoteError);
  });
});
