import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  type DescribeAutoScalingGroupsCommandInput,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type MetricAlarm,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { instanceAlarmInput } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { resolveSettings } from '../../src/config.js';
import type { ReconcileReport } from '../../src/alarms/reconcile.js';
import { createAlarmSyncHandler } from '../../src/lambda/alarm-sync.js';
import { terraformAction } from '../../src/lambda/events.js';
import { silentLogger } from '../../src/log.js';
import { capturedLogger } from '../helpers/log-lines.js';

const topic = 'arn:aws:sns:eu-west-1:111122223333:autoheal-alarms';
const prefix = 'autoheal-status-check-';
const [a, b, c, gone] = ['i-0a1b2c3d4e5f60718', 'i-0b1b2c3d4e5f60718', 'i-0c1b2c3d4e5f60718', 'i-0d1b2c3d4e5f60718'] as const;
/** Named group `web` holds a and b; `workers`, opted in by tag only, holds c; `gone` is in no group. */
const members: Record<string, string[]> = { web: [a, b], workers: [c] };

const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
const cloudWatch = new CloudWatchClient({ region: 'eu-west-1' });
const asg = mockClient(autoScaling);
const cw = mockClient(cloudWatch);
afterEach(() => {
  asg.reset();
  cw.reset();
});

/** The EventBridge schedule rule's event, as AWS documents it. */
const scheduledEvent = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '111122223333',
  time: '2024-03-14T10:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:111122223333:rule/autoheal-AlarmSyncRule'],
  detail: {},
};

function group(name: string) {
  return {
    AutoScalingGroupName: name,
    MinSize: 0,
    MaxSize: 10,
    DesiredCapacity: members[name]!.length,
    DefaultCooldown: 300,
    AvailabilityZones: ['eu-west-1a'],
    HealthCheckType: 'EC2',
    CreatedTime: new Date('2024-01-01T00:00:00Z'),
    Tags: name === 'workers' ? [{ Key: 'autoheal:enabled', Value: 'true', ResourceId: name, ResourceType: 'auto-scaling-group', PropagateAtLaunch: false }] : [],
    Instances: members[name]!.map((id) => ({ InstanceId: id, AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
  };
}

/** Auto Scaling with the two groups, and CloudWatch keeping the alarms it is given in `alarms`. */
function givenAccount(alarms: Map<string, MetricAlarm>): void {
  asg.on(DescribeAutoScalingGroupsCommand).callsFake((input: DescribeAutoScalingGroupsCommandInput) => ({
    AutoScalingGroups: input.Filters
      ? [group('workers')]
      : (input.AutoScalingGroupNames ?? []).filter((n) => members[n]).map(group),
  }));
  asg.on(DescribeAutoScalingInstancesCommand).callsFake((input: { InstanceIds: string[] }) => ({
    AutoScalingInstances: Object.entries(members).flatMap(([name, ids]) =>
      ids
        .filter((id) => input.InstanceIds.includes(id))
        .map((id) => ({ InstanceId: id, AutoScalingGroupName: name, AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false })),
    ),
  }));
  cw.on(DescribeAlarmsCommand).callsFake((input: { AlarmNamePrefix?: string }) => ({
    MetricAlarms: [...alarms.values()].filter((x) => x.AlarmName!.startsWith(input.AlarmNamePrefix ?? '')),
  }));
  cw.on(PutMetricAlarmCommand).callsFake((input: PutMetricAlarmCommandInput) => {
    alarms.set(input.AlarmName!, { ...input, Dimensions: input.Dimensions ?? [] } as MetricAlarm);
    return {};
  });
  cw.on(DeleteAlarmsCommand).callsFake((input: { AlarmNames: string[] }) => {
    for (const name of input.AlarmNames) alarms.delete(name);
    return {};
  });
}

/** The handler with `web` named in AUTOHEAL_GROUPS and the default opt-in tag; log lines captured. */
function handlerUnderTest() {
  const { logger, lines } = capturedLogger();
  const handler = createAlarmSyncHandler({
    config: resolveSettings({}, { AUTOHEAL_GROUPS: 'web' }),
    autoScaling,
    cloudWatch,
    alarmOptions: { alarmActions: [topic] },
    logger,
  });
  return { handler, lines };
}

const options = parseAlarmOptions({ alarmActions: [topic] });
const alarmOf = (id: string): MetricAlarm => instanceAlarmInput(options, id) as MetricAlarm;

describe('the alarm sync function, on its schedule', () => {
  it('creates the missing alarms of the named and the tagged group, deletes the orphan, and logs one line per group, listing the prefix once for the run', async () => {
    // Prepare: a has its alarm; b (web) and c (workers, tagged) have none; gone's alarm is an orphan.
    const alarms = new Map([a, gone].map((id) => [`${prefix}${id}`, alarmOf(id)]));
    givenAccount(alarms);
    const { handler, lines } = handlerUnderTest();

    // Act
    const out = (await handler(scheduledEvent, { getRemainingTimeInMillis: () => 60_000 })) as ReconcileReport;

    // Assess
    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand).map((call) => call.args[0].input)).toContainEqual({
      Filters: [{ Name: 'tag:autoheal:enabled', Values: ['true'] }],
      MaxRecords: 100,
    });
    expect(cw.commandCalls(PutMetricAlarmCommand).map((call) => call.args[0].input)).toEqual([
      instanceAlarmInput(options, b),
      instanceAlarmInput(options, c),
    ]);
    expect(cw.commandCalls(DeleteAlarmsCommand).map((call) => call.args[0].input)).toEqual([{ AlarmNames: [`${prefix}${gone}`] }]);
    // One listing and one orphan check for the run, not one per group.
    expect(cw.commandCalls(DescribeAlarmsCommand)).toHaveLength(1);
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand)).toHaveLength(1);
    expect(out).toEqual({
      groups: [
        { group: 'web', created: 1, updated: 0, deleted: 0, unchanged: 1 },
        { group: 'workers', created: 1, updated: 0, deleted: 0, unchanged: 0 },
      ],
      missing: [],
      orphans: 1,
    });
    expect(lines.filter((l) => l.msg === 'alarms: group synced').map((l) => [l.group, l.created, l.updated, l.deleted])).toEqual([
      ['web', 1, 0, 0],
      ['workers', 1, 0, 0],
    ]);
    // Not a health signal: no rejection, no warning.
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  });

  it('changes nothing on a second run', async () => {
    // Prepare
    const alarms = new Map([a, gone].map((id) => [`${prefix}${id}`, alarmOf(id)]));
    givenAccount(alarms);
    const { handler } = handlerUnderTest();
    await handler(scheduledEvent);
    const writes = (): number => cw.commandCalls(PutMetricAlarmCommand).length + cw.commandCalls(DeleteAlarmsCommand).length;
    const before = writes();

    // Act
    const out = (await handler(scheduledEvent)) as ReconcileReport;

    // Assess
    expect(before).toBe(3);
    expect(writes()).toBe(before);
    expect(out.groups.map((g) => [g.group, g.created + g.updated + g.deleted, g.unchanged])).toEqual([
      ['web', 0, 2],
      ['workers', 0, 1],
    ]);
  });

  it('skips a named group that does not exist, and throws naming the group whose sync failed, after syncing the others, so its Errors alarm says so', async () => {
    // Prepare
    givenAccount(new Map());
    cw.on(PutMetricAlarmCommand, { AlarmName: `${prefix}${c}` }).rejects(
      Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
    );
    const handler = createAlarmSyncHandler({
      config: resolveSettings({}, { AUTOHEAL_GROUPS: 'web,retired' }),
      autoScaling,
      cloudWatch,
      alarmOptions: { alarmActions: [topic] },
      logger: silentLogger,
    });

    // Act
    const run = handler(scheduledEvent);

    // Assess
    await expect(run).rejects.toThrow(/alarm reconcile failed for 1 of 3 group\(s\): workers: cloudwatch:PutMetricAlarm failed: Throttling/);
    // The other named group was still synced.
    expect(cw.commandCalls(PutMetricAlarmCommand).map((call) => call.args[0].input.AlarmName)).toContain(`${prefix}${a}`);
  });
});

describe('the alarm sync function, given anything else', () => {
  it('refuses it, naming what it takes, and touches no alarm', async () => {
    givenAccount(new Map());
    const { handler } = handlerUnderTest();
    await expect(handler({ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change' })).rejects.toThrow(
      /alarm sync: takes an EventBridge "Scheduled Event" or the Terraform module's invocation .*got source "aws.cloudwatch", detail-type "CloudWatch Alarm State Change"/,
    );
    expect(cw.calls()).toHaveLength(0);
  });
});

describe("the Terraform module's invocation (aws_lambda_invocation, lifecycle_scope CRUD)", () => {
  /** The module's input (deploy/terraform/alarms.tf) with the key the provider adds. */
  const invocation = (action: string) => ({
    source: 'autoheal.terraform',
    'detail-type': 'Alarm Sync',
    groups: 'web',
    opt_in_tag: 'autoheal:enabled=true',
    alarm: { prefix, mode: 'per-instance' },
    tf: { action, prev_input: null },
  });

  it.each<[string, unknown, ReturnType<typeof terraformAction>]>([
    ['create', invocation('create'), 'create'],
    ['update', invocation('update'), 'update'],
    ['delete', invocation('delete'), 'delete'],
    ['an unknown tf.action', invocation('read'), undefined],
    ['no tf key', { ...invocation('create'), tf: undefined }, undefined],
    ['tf not an object', { ...invocation('create'), tf: 'delete' }, undefined],
    ['another source', { ...invocation('delete'), source: 'aws.events' }, undefined],
    ['the scheduled event', scheduledEvent, undefined],
    ['null', null, undefined],
  ])('recognises %s', (_name, event, action) => {
    // Act / Assess
    expect(terraformAction(event)).toBe(action);
  });

  it('syncs like the schedule on create and update, and returns a failed sync instead of failing the apply', async () => {
    // Prepare
    givenAccount(new Map());
    const { handler, lines } = handlerUnderTest();

    // Act
    const created = await handler(invocation('create'));
    cw.on(PutMetricAlarmCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const updated = await handler(invocation('update'));

    // Assess
    expect(created).toEqual({
      action: 'create',
      sync: {
        groups: [
          { group: 'web', created: 2, updated: 0, deleted: 0, unchanged: 0 },
          { group: 'workers', created: 1, updated: 0, deleted: 0, unchanged: 0 },
        ],
        missing: [],
        orphans: 0,
      },
    });
    expect(updated).toMatchObject({ action: 'update', syncError: expect.stringMatching(/alarm reconcile failed for 2 of 2 group\(s\): web: cloudwatch:PutMetricAlarm failed: Throttling/) });
    expect(lines.filter((l) => l.msg === 'alarms: deploy-time sync failed; the schedule rule repeats it')).toHaveLength(1);
  });

  it('deletes every alarm of the prefix on delete, in batches of 100, and no other alarm', async () => {
    // Prepare: 150 instance alarms of the prefix, a group alarm of the prefix, and someone else's alarm.
    const ids = Array.from({ length: 150 }, (_, n) => `i-0e${String(n).padStart(15, '0')}`);
    const alarms = new Map<string, MetricAlarm>(ids.map((id) => [`${prefix}${id}`, alarmOf(id)]));
    alarms.set(`${prefix}group-web`, { AlarmName: `${prefix}group-web` });
    alarms.set('billing-too-high', { AlarmName: 'billing-too-high' });
    givenAccount(alarms);
    const { handler } = handlerUnderTest();

    // Act
    const out = await handler(invocation('delete'));

    // Assess
    expect(out).toEqual({ action: 'delete', deletedAlarms: 151 });
    expect(cw.commandCalls(DeleteAlarmsCommand).map((call) => call.args[0].input.AlarmNames?.length)).toEqual([100, 51]);
    expect([...alarms.keys()]).toEqual(['billing-too-high']);
  });

  it('throws when the clean-up fails, so terraform destroy says so instead of leaving alarms behind', async () => {
    // Prepare
    givenAccount(new Map([[`${prefix}${a}`, alarmOf(a)]]));
    cw.on(DeleteAlarmsCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const { handler } = handlerUnderTest();

    // Act
    const run = handler(invocation('delete'));

    // Assess
    await expect(run).rejects.toThrow(/cloudwatch:DeleteAlarms/);
  });
});
