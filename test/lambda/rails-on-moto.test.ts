/**
 * The safety rails on the AWS path, against moto (an independent implementation of the Auto
 * Scaling, EC2 and CloudWatch APIs): the Lambda handler built from src/lambda/handler.ts with
 * real SDK clients pointed at moto, as the deployed function runs. moto never replaces an
 * Unhealthy instance and creates alarms OK: the tests terminate marked instances themselves (moto
 * then launches replacements) and set alarm states with SetAlarmState.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instanceAlarmInput } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { resolveSettings } from '../../src/config.js';
import { createHandler, type HealSummary, type ScheduledSummary } from '../../src/lambda/handler.js';
import { dynamoLedger, ensureLedgerTable } from '../../src/runtime/dynamodb-ledger.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let cloudWatch: CloudWatchClient;
const saved = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  // The EC2 facts reader resolves its endpoint as every SDK client does: from the environment.
  Object.assign(process.env, moto.env);
  autoScaling = new AutoScalingClient(moto.clientConfig);
  cloudWatch = new CloudWatchClient(moto.clientConfig);
});
afterAll(async () => {
  autoScaling?.destroy();
  cloudWatch?.destroy();
  process.env = saved;
  await moto?.stop();
});
beforeEach(async () => moto.reset());

function handlerUnderTest(env: Record<string, string> = {}) {
  const { logger, lines } = capturedLogger();
  const handler = createHandler({ config: resolveSettings({}, env), autoScaling, cloudWatch, alarmOptions: {}, logger });
  return { handler, lines };
}

/** An EventBridge "CloudWatch Alarm State Change" into ALARM for the instance's autoheal alarm, as the rule delivers it. */
function snsAlarm(instanceId: string) {
  return { Type: 'Notification', MessageId: `m-${instanceId}`, Timestamp: new Date().toISOString(), Message: statusCheckAlarmMessage(instanceId) };
}

async function unhealthy(ids: readonly string[]): Promise<string[]> {
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [...ids] }));
  return (out.AutoScalingInstances ?? []).filter((i) => i.HealthStatus?.toUpperCase() === 'UNHEALTHY').map((i) => i.InstanceId as string);
}

const scheduledEvent = { version: '0', id: 'sched', 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date().toISOString(), resources: [], detail: {} };

describe('the rails on the AWS path (moto)', () => {
  it('8 alarms for 8 of 10 instances, handled by 8 concurrent invocations: never more than 4 Unhealthy', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const { handler } = handlerUnderTest();
    const failing = group.instanceIds.slice(0, 8);

    // Act: all at once, as EventBridge delivers one invocation per alarm.
    const results = (await Promise.all(failing.map((id) => handler(snsAlarm(id))))) as HealSummary[];

    // Assess
    expect(await unhealthy(group.instanceIds)).toHaveLength(4);
    const reasons = results.flatMap((r) => r.verdicts.map((v) => v.reason)).sort();
    expect(reasons).toEqual(['budgetSpent', 'budgetSpent', 'budgetSpent', 'budgetSpent', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy']);
  });

  it('8 alarms handled by 8 separate environments (no shared process, one ledger table): never more than 4 Unhealthy', async () => {
    // Prepare: each handler is its own Lambda environment: its own healer, its own lock, the one table.
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const dynamo = new DynamoDBClient(moto.clientConfig);
    try {
      await ensureLedgerTable(dynamo, 'autoheal-ledger', { sleep: async () => undefined });
      const environments = group.instanceIds.slice(0, 8).map((id) => {
        const { logger } = capturedLogger();
        const ledger = dynamoLedger({ client: dynamo, table: 'autoheal-ledger' });
        return { id, handler: createHandler({ config: resolveSettings({}, {}), autoScaling, cloudWatch, alarmOptions: {}, logger, ledger }) };
      });

      // Act
      const results = (await Promise.all(environments.map(({ id, handler }) => handler(snsAlarm(id))))) as HealSummary[];

      // Assess
      expect(await unhealthy(group.instanceIds)).toHaveLength(4);
      expect(results.flatMap((r) => r.verdicts.map((v) => v.reason)).sort()).toEqual(['budgetSpent', 'budgetSpent', 'budgetSpent', 'budgetSpent', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy']);
    } finally {
      dynamo.destroy();
    }
  });

  it('an alarm-path mass failure heals in waves through the scheduled run, with no new alarm transition', async () => {
    // Prepare: 8 of 10 alarms in ALARM; the first alarm events mark the budget (4).
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const options = parseAlarmOptions({});
    const failing = group.instanceIds.slice(0, 8);
    for (const id of group.instanceIds) await cloudWatch.send(new PutMetricAlarmCommand(instanceAlarmInput(options, id)));
    for (const id of failing) {
      await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: `${options.prefix}${id}`, StateValue: 'ALARM', StateReason: 'test: status check failed' }));
    }
    const { handler, lines } = handlerUnderTest();
    await Promise.all(failing.map((id) => handler(snsAlarm(id))));
    const firstWave = await unhealthy(group.instanceIds);
    expect(firstWave).toHaveLength(4);

    // Act 1: the schedule comes while the first wave is not replaced yet: nothing more is marked.
    const held = (await handler(scheduledEvent)) as ScheduledSummary;
    expect(held.reevaluated.verdicts.filter((v) => v.action === 'mark')).toEqual([]);
    expect(held.reevaluated.verdicts.map((v) => v.reason).sort()).toEqual([...Array(4).fill('alreadyUnhealthy'), ...Array(4).fill('budgetSpent')].sort());

    // The group replaces the first wave (moto needs a hand: it never replaces Unhealthy instances).
    for (const id of firstWave) await autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }));

    // Act 2: the next scheduled run heals the second wave from the alarms still in ALARM.
    const next = (await handler(scheduledEvent)) as ScheduledSummary;

    // Assess
    const secondWave = next.reevaluated.verdicts.filter((v) => v.action === 'mark').map((v) => v.instanceId);
    expect(secondWave.sort()).toEqual(failing.filter((id) => !firstWave.includes(id)).sort());
    expect(await unhealthy(secondWave)).toHaveLength(4);
    expect(lines.filter((l) => l.msg === 'held work re-evaluated').map((l) => l.marked)).toEqual([0, 4]);
  });

  it('a poison record among good ones: an SQS batch of 9 good alarms and one 22-character InstanceId marks the 9 and fails none', async () => {
    // Prepare: a budget and no freeze that let all nine be marked.
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const { handler, lines } = handlerUnderTest({ AUTOHEAL_MAX_UNHEALTHY_SHARE: '1', AUTOHEAL_SUSPICION_SHARE: '1' });
    const good = group.instanceIds.slice(0, 9);
    const bodies = [...good.map((id) => statusCheckAlarmMessage(id)), statusCheckAlarmMessage('i-0123456789abcdef01234')];
    const event = { Records: bodies.map((body, n) => ({ messageId: `m-${n}`, eventSource: 'aws:sqs', body })) };

    // Act
    const out = await handler(event);

    // Assess
    expect(out).toEqual({ batchItemFailures: [] });
    expect((await unhealthy(group.instanceIds)).sort()).toEqual([...good].sort());
    expect(lines.find((l) => l.msg === 'rejected: no signal in this input')).toMatchObject({
      recordId: 'm-9',
      reason: expect.stringContaining('"i-0123456789abcdef01234" is not an EC2 instance id'),
    });
  });

  it('an ALARM for an instance launched moments ago, in a group with a 3600 s grace period, is a skip naming the grace period', async () => {
    // Prepare: moto stamps LaunchTime at creation; EC2 DescribeInstances carries it.
    const group = await createMotoGroup(moto, { name: 'fresh', size: 2, gracePeriodSeconds: 3600 });
    const { handler } = handlerUnderTest();

    // Act
    const out = (await handler(snsAlarm(group.instanceIds[0] as string))) as HealSummary;

    // Assess
    expect(out.verdicts).toEqual([{ instanceId: group.instanceIds[0], group: 'fresh', action: 'skip', reason: 'inGracePeriod' }]);
    expect(await unhealthy(group.instanceIds)).toEqual([]);
  });

  it('an instance tag suppresses healing until its time; a group tag pauses the group', async () => {
    // Prepare
    const { EC2Client, CreateTagsCommand } = await import('@aws-sdk/client-ec2');
    const { CreateOrUpdateTagsCommand } = await import('@aws-sdk/client-auto-scaling');
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const [suppressed, other] = group.instanceIds as [string, string];
    const ec2 = new EC2Client(moto.clientConfig);
    await ec2.send(new CreateTagsCommand({ Resources: [suppressed], Tags: [{ Key: 'autoheal:suppressed-until', Value: new Date(Date.now() + 3_600_000).toISOString() }] }));
    ec2.destroy();
    const { handler } = handlerUnderTest();

    // Act
    const first = (await handler(snsAlarm(suppressed))) as HealSummary;
    await autoScaling.send(
      new CreateOrUpdateTagsCommand({ Tags: [{ ResourceId: 'workers', ResourceType: 'auto-scaling-group', Key: 'autoheal:paused', Value: 'true', PropagateAtLaunch: false }] }),
    );
    const second = (await handler(snsAlarm(other))) as HealSummary;

    // Assess
    expect(first.verdicts[0]?.reason).toBe('suppressed');
    expect(second.verdicts[0]?.reason).toBe('paused');
    expect(await unhealthy(group.instanceIds)).toEqual([]);
  });
});
