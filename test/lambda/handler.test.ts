import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DeleteAlarmsCommand, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { instanceAlarmInput } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { resolveSettings } from '../../src/config.js';
import { createHandler, type HealSummary, type SqsBatchResponse } from '../../src/lambda/handler.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';

const topic = 'arn:aws:sns:eu-west-1:111122223333:autoheal-alarms';
const [a, b, c] = ['i-0a1b2c3d4e5f60718', 'i-0b1b2c3d4e5f60718', 'i-0c1b2c3d4e5f60718'] as const;

// Instance-level mocks: the module's own clients (built at import) stay untouched.
const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
const cloudWatch = new CloudWatchClient({ region: 'eu-west-1' });
const asg = mockClient(autoScaling);
const cw = mockClient(cloudWatch);
// EC2 knows each instance: launched long ago, untagged (test/fleet/aws covers EC2 on moto). Facts it
// did not know would be missing, and missing facts are never read as "no grace, no suppression".
const instanceFacts = async (ids: readonly string[]) => new Map(ids.map((id) => [id, { launchedAt: new Date('2024-01-01T00:00:00Z'), tags: {} }]));
afterEach(() => {
  asg.reset();
  cw.reset();
});

/** A group of ten InService instances (budget 4), opted in by tag; a, b and c among them. */
function givenGroup(): void {
  const ids = [a, b, c, ...Array.from({ length: 7 }, (_, i) => `i-0f${String(i).padStart(15, '0')}`)];
  asg.on(DescribeAutoScalingInstancesCommand).callsFake((input: { InstanceIds: string[] }) => ({
    AutoScalingInstances: input.InstanceIds.filter((id) => ids.includes(id)).map((id) => ({
      InstanceId: id,
      AutoScalingGroupName: 'workers',
      AvailabilityZone: 'eu-west-1a',
      LifecycleState: 'InService',
      HealthStatus: 'HEALTHY',
      ProtectedFromScaleIn: false,
    })),
  }));
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'workers',
        MinSize: 0,
        MaxSize: 20,
        DesiredCapacity: 10,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        HealthCheckGracePeriod: 300,
        CreatedTime: new Date('2024-01-01T00:00:00Z'),
        Tags: [{ Key: 'autoheal:enabled', Value: 'true', ResourceId: 'workers', ResourceType: 'auto-scaling-group', PropagateAtLaunch: false }],
        Instances: ids.map((id) => ({
          InstanceId: id,
          AvailabilityZone: 'eu-west-1a',
          LifecycleState: 'InService',
          HealthStatus: 'Healthy',
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  });
}

/** A handler with the mocked clients, the default configuration, and a logger whose lines are captured. */
function handlerUnderTest() {
  const { logger, lines } = capturedLogger();
  const handler = createHandler({
    config: resolveSettings({}, {}),
    autoScaling,
    instanceFacts,
    cloudWatch,
    alarmOptions: { alarmActions: [topic] },
    logger,
  });
  return { handler, lines };
}

const alarmMessage = (instanceId: string): string => statusCheckAlarmMessage(instanceId);

function snsEvent(instanceId: string) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topic}:0b8c6f8e-1d2c-4b5a-9e8f-7a6b5c4d3e2f`,
        Sns: {
          Type: 'Notification',
          MessageId: '5b2f0d3a-8b8e-5d3c-9f63-000000000001',
          TopicArn: topic,
          Subject: `ALARM: "autoheal-status-check-${instanceId}" in EU (Ireland)`,
          Message: alarmMessage(instanceId),
          Timestamp: new Date().toISOString(),
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-example.pem',
          UnsubscribeUrl: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}

function sqsRecord(messageId: string, body: string) {
  return {
    messageId,
    receiptHandle: `AQEB${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1710407702517', SenderId: 'AIDAEXAMPLE', ApproximateFirstReceiveTimestamp: '1710407702600' },
    messageAttributes: {},
    md5OfBody: '00000000000000000000000000000000',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:111122223333:instance-failed',
    awsRegion: 'eu-west-1',
  };
}

function lifecycleEvent(change: 'Launch' | 'Terminate', instanceId: string) {
  return {
    version: '0',
    id: `evt-${change.toLowerCase()}-${instanceId}`,
    'detail-type': `EC2 Instance ${change} Successful`,
    source: 'aws.autoscaling',
    account: '111122223333',
    time: new Date().toISOString(),
    region: 'eu-west-1',
    resources: [],
    detail: { StatusCode: 'InProgress', AutoScalingGroupName: 'workers', EC2InstanceId: instanceId },
  };
}

describe('the Lambda handler', () => {
  it('marks the instance of an SNS-delivered alarm with the exact SetInstanceHealth input', async () => {
    // Prepare
    givenGroup();
    asg.on(SetInstanceHealthCommand).resolves({});
    const { handler } = handlerUnderTest();

    // Act
    const out = (await handler(snsEvent(a), { getRemainingTimeInMillis: () => 30_000 })) as HealSummary;

    // Assess
    expect(asg.commandCalls(SetInstanceHealthCommand).map((call) => call.args[0].input)).toEqual([
      { InstanceId: a, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: true },
    ]);
    expect(out).toEqual({ verdicts: [{ instanceId: a, group: 'workers', action: 'mark', reason: 'unhealthy' }], rejected: [] });
    // A fresh alarm needs no CloudWatch call.
    expect(cw.calls()).toHaveLength(0);
  });

  it('returns exactly the SQS record whose SetInstanceHealth failed; the others succeed, a malformed one is acknowledged', async () => {
    // Prepare
    givenGroup();
    asg.on(SetInstanceHealthCommand).resolves({});
    asg
      .on(SetInstanceHealthCommand, { InstanceId: b })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    const { handler, lines } = handlerUnderTest();
    const event = {
      Records: [
        sqsRecord('msg-a', alarmMessage(a)),
        sqsRecord('msg-b', alarmMessage(b)),
        sqsRecord('msg-bad', '{"Type":"Notification","Message":"not json'),
        sqsRecord('msg-c', alarmMessage(c)),
      ],
    };

    // Act
    const out = (await handler(event)) as SqsBatchResponse;

    // Assess
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-b' }] });
    expect(asg.commandCalls(SetInstanceHealthCommand).map((call) => call.args[0].input.InstanceId)).toEqual([a, b, c]);
    expect(lines).toContainEqual(expect.objectContaining({ recordId: 'msg-bad', reason: expect.stringMatching(/^Records\[2\]\.body/) }));
    expect(lines).toContainEqual(
      expect.objectContaining({ instanceId: b, action: 'mark', error: expect.stringMatching(/SetInstanceHealth failed: Throttling/), retryable: true }),
    );
  });

  it('writes one JSON log line per verdict with instance, group, action, reason, source, event id (the SQS message id) and ms', async () => {
    // Prepare
    givenGroup();
    asg.on(SetInstanceHealthCommand).resolves({});
    const { handler, lines } = handlerUnderTest();

    // Act
    await handler({ Records: [sqsRecord('m1', alarmMessage(a)), sqsRecord('m2', alarmMessage(a))] });

    // Assess
    const verdicts = lines.filter((l) => l.msg === 'verdict');
    expect(verdicts).toEqual([
      expect.objectContaining({ instanceId: a, group: 'workers', action: 'mark', reason: 'unhealthy', source: 'cloudwatch-alarm', eventId: 'm1' }),
      expect.objectContaining({ instanceId: a, group: 'workers', action: 'skip', reason: 'duplicate', source: 'cloudwatch-alarm', eventId: 'm2' }),
    ]);
    for (const line of verdicts) expect(line.ms).toEqual(expect.any(Number));
  });

  it('creates exactly the launched instance its alarm, and deletes exactly the terminated one its alarm', async () => {
    // Prepare
    givenGroup();
    cw.on(PutMetricAlarmCommand).resolves({});
    cw.on(DeleteAlarmsCommand).resolves({});
    const { handler } = handlerUnderTest();

    // Act
    await handler(lifecycleEvent('Launch', a));
    const afterLaunch = { put: cw.commandCalls(PutMetricAlarmCommand).length, deleted: cw.commandCalls(DeleteAlarmsCommand).length };
    await handler(lifecycleEvent('Terminate', b));

    // Assess
    expect(afterLaunch).toEqual({ put: 1, deleted: 0 });
    expect(cw.commandCalls(PutMetricAlarmCommand).map((call) => call.args[0].input)).toEqual([
      instanceAlarmInput(parseAlarmOptions({ alarmActions: [topic] }), a),
    ]);
    expect(cw.commandCalls(DeleteAlarmsCommand).map((call) => call.args[0].input)).toEqual([{ AlarmNames: [`autoheal-status-check-${b}`] }]);
    expect(asg.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });

  it('returns a failed lifecycle record in batchItemFailures when CloudWatch throttles', async () => {
    // Prepare
    givenGroup();
    cw.on(PutMetricAlarmCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    const { handler } = handlerUnderTest();

    // Act
    const out = await handler({ Records: [sqsRecord('launch-1', JSON.stringify(lifecycleEvent('Launch', a)))] });

    // Assess
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'launch-1' }] });
  });

  it('re-checks stale alarm evidence with DescribeAlarms and skips an alarm that is OK again', async () => {
    // Prepare
    givenGroup();
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: `autoheal-status-check-${a}`, StateValue: 'OK' }] });
    const { handler } = handlerUnderTest();
    const stale = JSON.parse(alarmMessage(a)) as Record<string, unknown>;
    stale.StateChangeTime = new Date(Date.now() - 3_600_000).toISOString();

    // Act
    const out = (await handler(stale)) as HealSummary;

    // Assess
    expect(out.verdicts).toEqual([{ instanceId: a, group: 'workers', action: 'skip', reason: 'stale' }]);
    expect(asg.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });
});

describe('the built bundle', () => {
  const bundle = fileURLToPath(new URL('../../dist/lambda.mjs', import.meta.url));
  const built = existsSync(bundle);
  if (!built) console.warn(`skipping the bundle test: ${bundle} is missing (run \`npm run build\` first)`);

  it.skipIf(!built)('dist/lambda.mjs is one self-contained file exporting handler (lambda.handler)', async () => {
    // Act
    const mod = (await import(pathToFileURL(bundle).href)) as Record<string, unknown>;

    // Assess
    expect(typeof mod.handler).toBe('function');
    // Only lambda.mjs ships: no import of a package or another file of dist/.
    expect(readFileSync(bundle, 'utf8')).not.toMatch(/\bfrom\s*["'](?!node:)[^"']+["']/);
  });
});
