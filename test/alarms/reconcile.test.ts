import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { groupNamesWithTag } from '../../src/alarms/groups.js';
import type { AlarmManager } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { groupsToReconcile } from '../../src/alarms/reconcile.js';
import { policyOptionsSchema } from '../../src/policy/options.js';

const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
const asg = mockClient(autoScaling);
afterEach(() => asg.reset());

const group = (name: string) => ({ AutoScalingGroupName: name, MinSize: 0, MaxSize: 1, DesiredCapacity: 0, DefaultCooldown: 300, AvailabilityZones: ['eu-west-1a'], HealthCheckType: 'EC2', CreatedTime: new Date(0) });

describe('groupNamesWithTag', () => {
  it('reads every page of the tag filter and names each group once', async () => {
    // Prepare
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group('b'), group('a')], NextToken: 'page-2' })
      .resolvesOnce({ AutoScalingGroups: [group('c'), group('a')] });

    // Act
    const names = await groupNamesWithTag(autoScaling, { key: 'team', value: 'workers' });

    // Assess
    expect(names).toEqual(['a', 'b', 'c']);
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand).map((call) => call.args[0].input)).toEqual([
      { Filters: [{ Name: 'tag:team', Values: ['workers'] }], MaxRecords: 100 },
      { Filters: [{ Name: 'tag:team', Values: ['workers'] }], MaxRecords: 100, NextToken: 'page-2' },
    ]);
  });
});

describe('groupsToReconcile', () => {
  const policy = policyOptionsSchema.parse({ groups: ['web', 'api'] });
  const managerIn = (mode: 'per-instance' | 'metrics-insights'): AlarmManager => ({
    options: parseAlarmOptions({ mode }),
    syncGroupAlarms: () => Promise.reject(new Error('not called')),
    listAlarms: () => Promise.reject(new Error('not called')),
    deleteOrphans: () => Promise.reject(new Error('not called')),
  });

  it.each([
    ['per-instance', ['api', 'jobs', 'web']],
    // The named groups' alarms belong to the stack: only the tagged-only group is synced.
    ['metrics-insights', ['jobs']],
  ] as const)('in %s mode syncs %j', async (mode, expected) => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('web'), group('jobs')] });

    // Act
    const groups = await groupsToReconcile({ manager: managerIn(mode), autoScaling, policy });

    // Assess
    expect(groups).toEqual(expected);
  });
});
