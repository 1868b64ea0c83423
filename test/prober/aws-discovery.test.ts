import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { instanceIdsPerDescribe } from '../../src/aws/ec2.js';
import { AccessDeniedError, ConfigError } from '../../src/errors.js';
import { describeGroupInstances, groupTargets } from '../../src/prober/aws-discovery.js';
import { describeInstancesXml, ec2ErrorXml, instanceIdsOf, startQueryStandIn, type QueryAnswer, type QueryStandIn } from '../helpers/query-stand-in.js';

// Auto Scaling through aws-sdk-client-mock; EC2's DescribeInstances is signed with the Auto Scaling
// client's parts and sent over HTTP (src/aws/ec2.ts), so a stand-in answers it.
const asg = mockClient(AutoScalingClient);
const clients = { autoscaling: new AutoScalingClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }) };
const id = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;
let ec2: QueryStandIn;
let answerEc2: (ids: string[]) => QueryAnswer = () => ({ body: describeInstancesXml([]) });
beforeAll(async () => {
  ec2 = await startQueryStandIn((request) => answerEc2(instanceIdsOf(request)));
});
afterAll(() => ec2.close());

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
  ec2.requests.length = 0;
  vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
});
afterEach(() => {
  asg.reset();
  vi.unstubAllEnvs();
});

describe('AWS discovery', () => {
  it('probes the InService instances at their private IPs, asking EC2 only for the group ids', async () => {
    // Prepare
    group([
      [id(1), 'InService'],
      [id(2), 'Pending'],
      [id(3), 'InService'],
    ]);
    answerEc2 = () => ({
      body: describeInstancesXml([
        { instanceId: id(1), privateIp: '10.0.0.11', launchTime: '2025-01-01T00:00:00.000Z' },
        { instanceId: id(2), privateIp: '10.0.0.12' },
        { instanceId: id(3), privateIp: '10.0.0.13' },
      ]),
    });

    // Act
    const targets = await groupTargets(clients, { groups: ['web'], port: 8080, path: '/ready' })(new AbortController().signal);

    // Assess
    expect(targets).toEqual([
      { instanceId: id(1), host: '10.0.0.11', port: 8080, group: 'web', path: '/ready' },
      { instanceId: id(3), host: '10.0.0.13', port: 8080, group: 'web', path: '/ready' },
    ]);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({ AutoScalingGroupNames: ['web'], MaxRecords: 50 });
    expect(ec2.requests.map(instanceIdsOf)).toEqual([[id(1), id(2), id(3)]]);
    expect(ec2.requests[0]?.params).toMatchObject({ Action: 'DescribeInstances', Version: '2016-11-15' });
  });

  it('batches DescribeInstances', async () => {
    // Prepare
    const ids = Array.from({ length: instanceIdsPerDescribe + 5 }, (_, n) => id(n + 1));
    group(ids.map((i) => [i, 'InService']));
    answerEc2 = (asked) => ({ body: describeInstancesXml(asked.includes(id(1)) ? [{ instanceId: id(1), privateIp: '10.0.0.1' }] : []) });

    // Act
    const instances = await describeGroupInstances(clients, 'web');

    // Assess
    expect(ec2.requests.map((r) => instanceIdsOf(r).length)).toEqual([instanceIdsPerDescribe, 5]);
    expect(instances.filter((i) => i.privateIp !== undefined)).toHaveLength(1);
  });

  it('never lists the whole account for an empty group', async () => {
    // Prepare
    group([]);

    // Act
    const instances = await describeGroupInstances(clients, 'web');

    // Assess
    expect(instances).toEqual([]);
    expect(ec2.requests).toHaveLength(0);
  });

  it('fails with a ConfigError for a missing group and a RemoteError naming the action when EC2 fails', async () => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolvesOnce({ AutoScalingGroups: [] });

    // Act / Assess
    await expect(describeGroupInstances(clients, 'web')).rejects.toBeInstanceOf(ConfigError);

    group([[id(1), 'InService']]);
    answerEc2 = () => ({ status: 403, body: ec2ErrorXml('UnauthorizedOperation', 'You are not authorized to perform this operation.') });
    await expect(describeGroupInstances(clients, 'web')).rejects.toMatchObject({ action: 'ec2:DescribeInstances' });
    await expect(describeGroupInstances(clients, 'web')).rejects.toBeInstanceOf(AccessDeniedError);
  });
});
