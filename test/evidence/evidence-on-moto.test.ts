/**
 * Evidence before termination, on the AWS path, against moto (an independent implementation of
 * Auto Scaling, EC2 and S3): the Lambda healer keeps a mark's evidence in the bucket before it
 * marks; the evidence function, given the termination lifecycle action Auto Scaling would send,
 * adds the console output (EC2 GetConsoleOutput, which moto answers) and the group's state, then
 * continues the termination; `autoheal evidence` prints it.
 *
 * moto runs no lifecycle hooks and has no CompleteLifecycleAction: the test sends the event the
 * hook would make EventBridge deliver, and stands in for CompleteLifecycleAction at the SDK
 * boundary (aws-sdk-client-mock on the evidence function's Auto Scaling client, every other
 * Auto Scaling call passed through to moto). S3 and EC2 are signed with that client's parts and
 * reach moto by AWS_ENDPOINT_URL, as they reach AWS.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  type DescribeAutoScalingGroupsCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { createEvidenceHandler, type CaptureOutcome } from '../../src/evidence/capture.js';
import { createHandler } from '../../src/lambda/handler.js';
import { parseEvidence, s3EvidenceStore, type EvidenceRecord } from '../../src/operate/evidence.js';
import type { Notice } from '../../src/operate/notices.js';
import { isolatedAwsEnv, runCli } from '../helpers/cli.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let cloudWatch: CloudWatchClient;
let s3: S3Client;
const saved = { ...process.env };
const bucket = 'autoheal-evidence-test';

beforeAll(async () => {
  moto = await startMoto();
  // EC2 and S3 calls resolve their endpoint as every SDK client does: from the environment.
  Object.assign(process.env, moto.env);
  autoScaling = new AutoScalingClient(moto.clientConfig);
  cloudWatch = new CloudWatchClient(moto.clientConfig);
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
});
afterAll(async () => {
  autoScaling?.destroy();
  cloudWatch?.destroy();
  s3?.destroy();
  process.env = saved;
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

/** The Lambda healer with the evidence bucket set, as the stack configures it; notices are kept. */
function healerUnderTest(evidenceBucket = bucket) {
  const { logger, lines } = capturedLogger();
  const notices: Notice[] = [];
  const handler = createHandler({
    config: resolveSettings({}, { AUTOHEAL_EVIDENCE_BUCKET: evidenceBucket }),
    autoScaling,
    cloudWatch,
    alarmOptions: {},
    logger,
    publishNotice: async (n) => void notices.push(n),
  });
  return { handler, lines, notices };
}

/** The evidence function, its CompleteLifecycleAction stood in for (moto has none); returns the calls it got. */
function evidenceFunctionUnderTest(evidenceBucket = bucket) {
  const { logger, lines } = capturedLogger();
  const client = new AutoScalingClient(moto.clientConfig);
  const boundary = mockClient(client);
  boundary.on(CompleteLifecycleActionCommand).resolves({});
  boundary.on(DescribeAutoScalingGroupsCommand).callsFake((input: DescribeAutoScalingGroupsCommandInput) => autoScaling.send(new DescribeAutoScalingGroupsCommand(input)));
  const handle = createEvidenceHandler({ autoScaling: client, store: s3EvidenceStore(client, evidenceBucket), logger });
  return { handle, lines, completed: () => boundary.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input) };
}

/** The event Auto Scaling's termination hook makes EventBridge deliver (AWS documentation sample, ids ours). */
function terminateAction(groupName: string, instanceId: string) {
  return {
    version: '0',
    id: `lc-${instanceId}`,
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${groupName}`],
    detail: {
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: groupName,
      LifecycleHookName: 'autoheal-evidence',
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
  };
}

const alarmFor = (instanceId: string) => ({ Type: 'Notification', MessageId: `m-${instanceId}`, Timestamp: new Date().toISOString(), Message: statusCheckAlarmMessage(instanceId) });

async function storedEvidence(instanceId: string): Promise<EvidenceRecord | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `evidence/${instanceId}.json` }));
    const parsed = parseEvidence(await (out.Body as { transformToString(): Promise<string> }).transformToString());
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.record;
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

async function healthOf(instanceId: string): Promise<string | undefined> {
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  return out.AutoScalingInstances?.[0]?.HealthStatus?.toUpperCase();
}

describe('evidence before termination (moto)', () => {
  it('the healer keeps the verdict and the group as it saw them before it marks, and the notice says where', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 3 });
    const victim = group.instanceIds[0] as string;
    const { handler, notices } = healerUnderTest();

    // Act
    await handler(alarmFor(victim));

    // Assess
    expect(await healthOf(victim)).toBe('UNHEALTHY');
    const kept = await storedEvidence(victim);
    expect(kept).toMatchObject({ kind: 'autoheal.evidence', instanceId: victim, groupName: 'workers', verdict: { action: 'mark', reason: 'unhealthy', source: 'cloudwatch-alarm' } });
    expect(kept?.verdict.evidence).toContain('Threshold Crossed');
    // The group before the mark: every instance InService and Healthy, the victim among them.
    expect(kept?.groupAtMark.instances.map((i) => [i.instanceId, i.lifecycleState, i.healthStatus]).sort()).toEqual(
      [...group.instanceIds].sort().map((id) => [id, 'InService', 'Healthy']),
    );
    expect(kept?.capture).toBeUndefined();
    const mark = notices.find((n) => n.kind === 'mark');
    expect(mark?.body).toContain(`s3://${bucket}/evidence/${victim}.json`);
    expect(mark?.body).toContain(`autoheal evidence ${victim} --bucket ${bucket}`);
  });

  it('holding the termination of an instance autoheal marked: adds the console output and the group then, and continues', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 3 });
    const victim = group.instanceIds[1] as string;
    await healerUnderTest().handler(alarmFor(victim));
    const fn = evidenceFunctionUnderTest();

    // Act
    const outcome = (await fn.handle(terminateAction('workers', victim))) as CaptureOutcome;

    // Assess
    expect(outcome).toEqual({ instanceId: victim, outcome: 'captured', location: `s3://${bucket}/evidence/${victim}.json`, completed: 'completed' });
    const kept = await storedEvidence(victim);
    expect(kept?.verdict.reason).toBe('unhealthy');
    expect(kept?.capture).toMatchObject({ hookName: 'autoheal-evidence', result: 'CONTINUE', consoleOutput: { latest: true } });
    expect(kept?.capture?.lastOutput.length).toBeGreaterThan(0);
    expect(kept?.capture?.group?.instances.find((i) => i.instanceId === victim)?.healthStatus).toBe('Unhealthy');
    expect(fn.completed()).toEqual([
      { AutoScalingGroupName: 'workers', LifecycleHookName: 'autoheal-evidence', InstanceId: victim, LifecycleActionToken: '87654321-4321-4321-4321-210987654321', LifecycleActionResult: 'CONTINUE' },
    ]);
  });

  it('a termination autoheal did not cause (scale-in) continues at once, and nothing is written', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 2 });
    const scaledIn = group.instanceIds[0] as string;
    const fn = evidenceFunctionUnderTest();

    // Act
    const outcome = (await fn.handle(terminateAction('workers', scaledIn))) as CaptureOutcome;

    // Assess
    expect(outcome).toEqual({ instanceId: scaledIn, outcome: 'notMarked', completed: 'completed' });
    expect(await storedEvidence(scaledIn)).toBeUndefined();
    expect(fn.completed().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('a bucket it cannot read never holds a termination: the action is completed, and the log says why', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 2 });
    const fn = evidenceFunctionUnderTest('no-such-evidence-bucket');

    // Act
    const outcome = (await fn.handle(terminateAction('workers', group.instanceIds[0] as string))) as CaptureOutcome;

    // Assess
    expect(outcome).toMatchObject({ outcome: 'notKept', completed: 'completed' });
    expect(fn.completed()).toHaveLength(1);
    expect(fn.lines.some((l) => l.msg === 'evidence: could not read the mark; termination continues')).toBe(true);
  });

  it('an event that is not a termination action is ignored with its reason, and nothing is completed', async () => {
    // Prepare
    const fn = evidenceFunctionUnderTest();
    const launch = { ...terminateAction('workers', 'i-0123456789abcdef0'), 'detail-type': 'EC2 Instance-launch Lifecycle Action' };

    // Act
    const summary = await fn.handle(launch);

    // Assess
    expect(summary).toEqual({ rejected: 'detail-type: expected "EC2 Instance-terminate Lifecycle Action", got "EC2 Instance-launch Lifecycle Action"' });
    expect(fn.completed()).toEqual([]);
  });

  it('the healer marks even when the evidence cannot be kept: evidence never holds up healing', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 3 });
    const victim = group.instanceIds[2] as string;
    const { handler, lines } = healerUnderTest('no-such-evidence-bucket');

    // Act
    await handler(alarmFor(victim));

    // Assess
    expect(await healthOf(victim)).toBe('UNHEALTHY');
    expect(lines.find((l) => l.msg === 'evidence: not kept before the mark; marking anyway')).toMatchObject({ instanceId: victim, group: 'workers' });
  });

  it('autoheal evidence prints what was kept (text and --json), exit 1 when none was kept, 2 without a bucket', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 3 });
    const victim = group.instanceIds[0] as string;
    const other = group.instanceIds[1] as string;
    await healerUnderTest().handler(alarmFor(victim));
    await evidenceFunctionUnderTest().handle(terminateAction('workers', victim));
    const env = isolatedAwsEnv({ AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });

    // Act
    const text = await runCli(['evidence', victim, '--bucket', bucket], { env });
    const json = await runCli(['evidence', victim, '--json'], { env: { ...env, AUTOHEAL_EVIDENCE_BUCKET: bucket } });
    const none = await runCli(['evidence', other, '--bucket', bucket], { env });
    const noBucket = await runCli(['evidence', victim], { env });

    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`instance ${victim} of group workers`);
    expect(text.stdout).toContain('termination held by hook autoheal-evidence');
    expect(text.stdout).toMatch(/console output \(latest/);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ found: true, location: `s3://${bucket}/evidence/${victim}.json`, evidence: { instanceId: victim, capture: { result: 'CONTINUE' } } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no evidence for ${other}`);
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toContain('--bucket');
  });
});
