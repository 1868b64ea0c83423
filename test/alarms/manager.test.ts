import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAlarmLifecycle,
  createAlarmManager,
  groupAlarmInput,
  instanceAlarmInput,
  managedGroups,
  parseAlarmOptions,
} from '../../src/alarms/index.js';
import { ConfigError, RemoteError } from '../../src/errors.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { parseEvent } from '../../src/signals/index.js';
import type { LifecycleSignal } from '../../src/signals/types.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

const fixtures = new URL('../fixtures/events/', import.meta.url);
const topic = 'arn:aws:sns:eu-west-1:123456789012:autoheal-alerts';
const cw = mockClient(CloudWatchClient);

/** A DescribeAlarms record of an alarm with the default settings (as CloudWatch returns it). */
function existing(name: string, change: Partial<MetricAlarm> = {}): MetricAlarm {
  return {
    AlarmName: name,
    Namespace: 'AWS/EC2',
    MetricName: 'StatusCheckFailed',
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 2,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    AlarmActions: [topic],
    ...change,
  };
}

const id = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;

/** The lifecycle signal the parser reads from one of the project's own Auto Scaling event fixtures. */
async function lifecycleFromFixture(file: string): Promise<LifecycleSignal> {
  const [signal] = parseEvent(JSON.parse(await readFile(new URL(file, fixtures), 'utf8'))).lifecycle;
  if (!signal) throw new Error(`${file}: no lifecycle signal`);
  return signal;
}

beforeEach(() => {
  cw.reset();
  cw.on(PutMetricAlarmCommand).resolves({});
  cw.on(DeleteAlarmsCommand).resolves({});
  cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
});
afterEach(() => cw.reset());

describe('alarm options', () => {
  it('defaults to the original design: Maximum, 60 s, 2 periods, >= 1, prefix autoheal-status-check-', () => {
    // Act
    const input = instanceAlarmInput(parseAlarmOptions({ alarmActions: [topic] }), 'i-0abc12345678def00');

    // Assess
    expect(input).toEqual({
      AlarmName: 'autoheal-status-check-i-0abc12345678def00',
      AlarmDescription: expect.stringContaining('i-0abc12345678def00'),
      Namespace: 'AWS/EC2',
      MetricName: 'StatusCheckFailed',
      Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc12345678def00' }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'missing',
      ActionsEnabled: true,
      AlarmActions: [topic],
    });
  });

  it.each([
    [{ periodSeconds: 45 }, 'periodSeconds'],
    [{ evaluationPeriods: 0 }, 'evaluationPeriods'],
    [{ periodSeconds: 3600, evaluationPeriods: 25 }, '86400'],
    [{ prefx: 'x' }, 'prefx'],
  ])('rejects %o naming the problem', (input, words) => {
    // Act
    const act = (): unknown => parseAlarmOptions(input as never);

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(words);
  });

  it('builds a Metrics Insights group alarm with one contributor per instance', () => {
    // Act
    const input = groupAlarmInput(parseAlarmOptions({ mode: 'metrics-insights' }), "web's");

    // Assess
    expect(input.AlarmName).toBe("autoheal-status-check-group-web's");
    expect(input.Metrics?.[0]?.Expression).toBe(
      `SELECT MAX(StatusCheckFailed) FROM SCHEMA("AWS/EC2", InstanceId) WHERE tag."aws:autoscaling:groupName" = 'web''s' GROUP BY InstanceId`,
    );
    expect(input.MetricName).toBeUndefined();
  });
});

describe('syncGroupAlarms', () => {
  it('creates the missing alarms, deletes orphans and keeps the right ones', async () => {
    // Prepare: web has a, b (InService) and c (Terminating); alarms exist for a, c, an instance
    // gone everywhere (gone), and one of another group (other) that must survive.
    const fleet = new MemoryFleet([
      { name: 'web', instances: [id(1), id(2), { instanceId: id(3), lifecycleState: 'Terminating' }] },
      { name: 'api', instances: [id(9)] },
    ]);
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [id(1), id(3), id(7), id(9)].map((i) => existing(`autoheal-status-check-${i}`)),
    });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet, options: { alarmActions: [topic] } });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report).toEqual({
      group: 'web',
      dryRun: false,
      created: [`autoheal-status-check-${id(2)}`],
      updated: [],
      deleted: [`autoheal-status-check-${id(3)}`, `autoheal-status-check-${id(7)}`],
      unchanged: [`autoheal-status-check-${id(1)}`],
    });
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNamePrefix: 'autoheal-status-check-',
      AlarmTypes: ['MetricAlarm'],
      MaxRecords: 100,
    });
    expect(cw.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input)).toEqual([
      instanceAlarmInput(manager.options, id(2)),
    ]);
    expect(cw.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input)).toEqual([
      { AlarmNames: [`autoheal-status-check-${id(3)}`, `autoheal-status-check-${id(7)}`] },
    ]);
  });

  it('is idempotent: a second sync over the result changes nothing', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: [id(1), id(2)] }]);
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [existing(`autoheal-status-check-${id(1)}`), existing(`autoheal-status-check-${id(2)}`)] });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet, options: { alarmActions: [topic] } });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report.unchanged).toHaveLength(2);
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
    expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(0);
  });

  it('updates an alarm whose settings drifted from the options', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: [id(1)] }]);
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [existing(`autoheal-status-check-${id(1)}`, { EvaluationPeriods: 5 })] });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet, options: { alarmActions: [topic] } });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report.updated).toEqual([`autoheal-status-check-${id(1)}`]);
    expect(cw.commandCalls(PutMetricAlarmCommand)[0]?.args[0].input.EvaluationPeriods).toBe(2);
  });

  it('never removes actions it was not asked to change: without alarmActions an alarm keeps its topic', async () => {
    // Prepare: one alarm wired to the alert topic, one drifted; the sync names no topic (`alarms sync` without --topic-arn).
    const fleet = new MemoryFleet([{ name: 'web', instances: [id(1), id(2)] }]);
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [existing(`autoheal-status-check-${id(1)}`), existing(`autoheal-status-check-${id(2)}`, { EvaluationPeriods: 5 })],
    });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet, options: {} });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report.unchanged).toEqual([`autoheal-status-check-${id(1)}`]);
    expect(report.updated).toEqual([`autoheal-status-check-${id(2)}`]);
    expect(cw.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input.AlarmActions)).toEqual([[topic]]);
  });

  it('reads every DescribeAlarms page and deletes in batches of 100', async () => {
    // Prepare: 250 orphans over three pages, the group empty.
    const fleet = new MemoryFleet([{ name: 'web', instances: [] }]);
    const names = Array.from({ length: 250 }, (_, n) => `autoheal-status-check-${id(n + 1)}`);
    cw.on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: names.slice(0, 100).map((n) => existing(n)), NextToken: 't1' })
      .resolvesOnce({ MetricAlarms: names.slice(100, 200).map((n) => existing(n)), NextToken: 't2' })
      .resolvesOnce({ MetricAlarms: names.slice(200).map((n) => existing(n)) });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report.deleted).toHaveLength(250);
    expect(cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 't1', 't2']);
    const batches = cw.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input.AlarmNames ?? []);
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(batches.flat()).toEqual([...names].sort());
  });

  it('with dry-run reports the same plan and writes nothing', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: [id(1)] }]);
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [existing(`autoheal-status-check-${id(5)}`)] });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet });

    // Act
    const report = await manager.syncGroupAlarms('web', { dryRun: true });

    // Assess
    expect(report).toMatchObject({ dryRun: true, created: [`autoheal-status-check-${id(1)}`], deleted: [`autoheal-status-check-${id(5)}`] });
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
    expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(0);
  });

  it('in metrics-insights mode keeps one group alarm and removes the per-instance ones', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'web', instances: [id(1)] }]);
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [existing(`autoheal-status-check-${id(1)}`)] });
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet, options: { mode: 'metrics-insights' } });

    // Act
    const report = await manager.syncGroupAlarms('web');

    // Assess
    expect(report.created).toEqual(['autoheal-status-check-group-web']);
    expect(report.deleted).toEqual([`autoheal-status-check-${id(1)}`]);
  });

  it('fails with a ConfigError for a group that does not exist', async () => {
    // Prepare
    const manager = createAlarmManager({ cloudwatch: new CloudWatchClient({}), fleet: new MemoryFleet() });

    // Act / Assess
    await expect(manager.syncGroupAlarms('nope')).rejects.toThrow(/"nope" not found/);
  });
});

describe('handleLifecycle', () => {
  it('a launch event creates exactly one alarm', async () => {
    // Prepare
    const launch = await lifecycleFromFixture('eventbridge.asg-launch-successful.json');
    const handle = createAlarmLifecycle({ cloudwatch: new CloudWatchClient({}), options: { alarmActions: [topic] } });

    // Act
    await handle([launch]);

    // Assess
    expect(cw.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input)).toEqual([
      instanceAlarmInput(parseAlarmOptions({ alarmActions: [topic] }), 'i-0f9e8d7c6b5a40312'),
    ]);
    expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(0);
  });

  it('a terminate event deletes that alarm', async () => {
    // Prepare
    const terminate = await lifecycleFromFixture('eventbridge.asg-terminate-successful.json');
    const handle = createAlarmLifecycle({ cloudwatch: new CloudWatchClient({}) });

    // Act
    await handle([terminate]);

    // Assess
    expect(cw.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input)).toEqual([
      { AlarmNames: [`autoheal-status-check-${terminate.instanceId}`] },
    ]);
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });

  it('treats an alarm that is already gone as deleted', async () => {
    // Prepare
    const notFound = Object.assign(new Error('not found'), { name: 'ResourceNotFound', $metadata: { httpStatusCode: 404 } });
    cw.on(DeleteAlarmsCommand).rejectsOnce(notFound).resolves({});
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const handle = createAlarmLifecycle({ cloudwatch: new CloudWatchClient({}) });
    const signal: LifecycleSignal = { instanceId: id(1), groupName: 'web', change: 'terminated', observedAt: '', eventId: 'e' };

    // Act / Assess
    await expect(handle([signal])).resolves.toBeUndefined();
    expect(cw.commandCalls(DeleteAlarmsCommand)).toHaveLength(1);
  });

  it('ignores launches in groups that are not managed, and throws a RemoteError when CloudWatch fails', async () => {
    // Prepare
    const fleet = new MemoryFleet([
      { name: 'web', instances: [id(1)] },
      { name: 'batch', instances: [id(2)], tags: {} },
    ]);
    const policy = policyOptionsSchema.parse({});
    const handle = createAlarmLifecycle({ cloudwatch: new CloudWatchClient({}), isManaged: managedGroups(fleet, policy) });
    const launch = (instanceId: string, groupName: string): LifecycleSignal => ({
      instanceId,
      groupName,
      change: 'launched',
      observedAt: '',
      eventId: instanceId,
    });

    // Act
    await handle([launch(id(2), 'batch')]);
    cw.on(PutMetricAlarmCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const failed = handle([launch(id(1), 'web')]);

    // Assess
    await expect(failed).rejects.toBeInstanceOf(RemoteError);
    await expect(failed).rejects.toMatchObject({ action: 'cloudwatch:PutMetricAlarm', retryable: true });
    expect(cw.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input.AlarmName)).toEqual([
      `autoheal-status-check-${id(1)}`,
    ]);
  });
});
