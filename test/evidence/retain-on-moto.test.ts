/**
 * Quarantine `retain` on the AWS path, against moto (Auto Scaling, EC2, S3, DynamoDB): the Lambda
 * healer marks and keeps its evidence; the evidence function, given the termination lifecycle
 * action the hook would send, keeps up to N of a group's marked instances (ABANDON) and captures
 * and continues the rest; `autoheal evidence` shows a retained one and how to release it.
 *
 * What moto cannot do is stood in for at the SDK boundary (aws-sdk-client-mock on the evidence
 * function's Auto Scaling client), explicitly:
 * - it has no CompleteLifecycleAction: the stand-in records each answer, and an ABANDON moves the
 *   instance to Terminating:Retained in the group the function reads next, as the group's lifecycle
 *   policy would; an action answered already is "No active Lifecycle Action", as Auto Scaling says;
 * - it stores no instance lifecycle policy: DescribeAutoScalingGroups goes to moto, and the stand-in
 *   adds the policy (TerminateHookAbandon: retain) the stack sets, unless a test says the group has none;
 * - it never terminates: a release is the instance leaving the group's answer.
 * The retention slots are real conditional writes on moto's DynamoDB.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  type CompleteLifecycleActionCommandInput,
  type DescribeAutoScalingGroupsCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTable } from '../../src/aws/dynamodb.js';
import { resolveSettings } from '../../src/config.js';
import { createEvidenceHandler, type CaptureOutcome } from '../../src/evidence/capture.js';
import { dynamoSlotStore } from '../../src/evidence/retention.js';
import { createHandler } from '../../src/lambda/handler.js';
import { parseEvidence, s3EvidenceStore, type EvidenceRecord, type EvidenceStore } from '../../src/operate/evidence.js';
import type { Notice } from '../../src/operate/notices.js';
import { isolatedAwsEnv, runCli } from '../helpers/cli.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let cloudWatch: CloudWatchClient;
let s3: S3Client;
let dynamo: DynamoDBClient;
const saved = { ...process.env };
const bucket = 'autoheal-retain-test';
const table = 'autoheal-ledger-retain';

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, moto.env);
  autoScaling = new AutoScalingClient(moto.clientConfig);
  cloudWatch = new CloudWatchClient(moto.clientConfig);
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  dynamo = new DynamoDBClient(moto.clientConfig);
});
afterAll(async () => {
  for (const c of [autoScaling, cloudWatch, s3, dynamo]) c?.destroy();
  process.env = saved;
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await createTable(dynamo, table, 'pk');
});

/**
 * Marks the first instance through the Lambda healer, which keeps the evidence first; the others'
 * documents are written as the healer writes them (its rails would not mark several of a small
 * group at once, and the evidence function's decision is what is under test here).
 */
async function mark(groupName: string, ...instanceIds: string[]): Promise<void> {
  const { logger } = capturedLogger();
  const handler = createHandler({ config: resolveSettings({}, { AUTOHEAL_EVIDENCE_BUCKET: bucket }), autoScaling, cloudWatch, alarmOptions: {}, logger, publishNotice: async () => undefined });
  const [first, ...rest] = instanceIds;
  await handler({ Type: 'Notification', MessageId: `m-${first}`, Timestamp: new Date().toISOString(), Message: statusCheckAlarmMessage(first as string) });
  const store = s3EvidenceStore(autoScaling, bucket);
  const written = await store.get(first as string);
  if (written === undefined) throw new Error(`the healer kept no evidence of ${first}`);
  for (const id of rest) await store.put({ ...written, instanceId: id, groupName });
}

/** What Auto Scaling does that moto does not, for the function's client (see the file's head). */
interface GroupStandIn {
  /** The instance lifecycle policy the stack sets; false: the group has none. */
  policy: boolean;
  retained: Set<string>;
  released: Set<string>;
  answered: Set<string>;
  completed: CompleteLifecycleActionCommandInput[];
  failAbandon?: Error;
}

function evidenceFunctionUnderTest(options: { atMost?: number; table?: string; store?: EvidenceStore } = {}) {
  const { logger, lines } = capturedLogger();
  const client = new AutoScalingClient(moto.clientConfig);
  const boundary = mockClient(client);
  const aws: GroupStandIn = { policy: true, retained: new Set(), released: new Set(), answered: new Set(), completed: [] };
  boundary.on(CompleteLifecycleActionCommand).callsFake((input: CompleteLifecycleActionCommandInput) => {
    aws.completed.push(input);
    const key = `${input.InstanceId}/${input.LifecycleActionToken}`;
    if (aws.answered.has(key)) throw Object.assign(new Error(`No active Lifecycle Action found with instance ID ${input.InstanceId}`), { name: 'ValidationError' });
    if (input.LifecycleActionResult === 'ABANDON' && aws.failAbandon) throw aws.failAbandon;
    aws.answered.add(key);
    if (input.LifecycleActionResult === 'ABANDON' && aws.policy) aws.retained.add(input.InstanceId as string);
    return {};
  });
  boundary.on(DescribeAutoScalingGroupsCommand).callsFake(async (input: DescribeAutoScalingGroupsCommandInput) => {
    const out = await autoScaling.send(new DescribeAutoScalingGroupsCommand(input));
    for (const g of out.AutoScalingGroups ?? []) {
      if (aws.policy) g.InstanceLifecyclePolicy = { RetentionTriggers: { TerminateHookAbandon: 'retain' } };
      g.Instances = (g.Instances ?? []).filter((i) => !aws.released.has(i.InstanceId as string));
      for (const i of g.Instances) if (aws.retained.has(i.InstanceId as string)) i.LifecycleState = 'Terminating:Retained';
    }
    return out;
  });
  const notices: Notice[] = [];
  const handle = createEvidenceHandler({
    autoScaling: client,
    store: options.store ?? s3EvidenceStore(client, bucket),
    logger,
    retain: { atMost: options.atMost ?? 1, slots: dynamoSlotStore(dynamo, options.table ?? table), region: 'us-east-1' },
    publish: async (notice) => void notices.push(notice),
  });
  return { handle: async (event: unknown) => (await handle(event)) as CaptureOutcome, lines, aws, notices };
}

function terminateAction(groupName: string, instanceId: string, token = `token-${instanceId}`) {
  return {
    version: '0',
    id: `lc-${instanceId}`,
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: { LifecycleActionToken: token, AutoScalingGroupName: groupName, LifecycleHookName: 'autoheal-evidence-AutoHeal', EC2InstanceId: instanceId, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
  };
}

async function storedEvidence(instanceId: string): Promise<EvidenceRecord | undefined> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `evidence/${instanceId}.json` }));
  const parsed = parseEvidence(await (out.Body as { transformToString(): Promise<string> }).transformToString());
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
}

const results = (aws: GroupStandIn) => aws.completed.map((c) => [c.InstanceId, c.LifecycleActionResult]);
const release = (id: string) => `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${id} --no-should-decrement-desired-capacity --region us-east-1`;

describe('quarantine retain (moto)', () => {
  it('keeps the first marked instance of a group (ABANDON, retained: true, how to release it), and captures and continues the next', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const [first, second] = group.instanceIds as [string, string];
    await mark('workers', first, second);
    const fn = evidenceFunctionUnderTest();

    // Act
    const kept = await fn.handle(terminateAction('workers', first));
    const next = await fn.handle(terminateAction('workers', second));

    // Assess
    expect(kept).toEqual({ instanceId: first, outcome: 'retained', location: `s3://${bucket}/evidence/${first}.json`, release: release(first), completed: 'completed' });
    expect(next).toMatchObject({ instanceId: second, outcome: 'captured', completed: 'completed' });
    expect(next.outcome === 'captured' && next.notRetained).toBe(`group workers keeps 1 retained already (at most 1): ${first}`);
    expect(results(fn.aws)).toEqual([[first, 'ABANDON'], [second, 'CONTINUE']]);
    expect(fn.notices).toHaveLength(1);
    expect(fn.notices[0]).toMatchObject({ kind: 'retained', subjectOf: 'workers', attributes: { autoheal_notice: 'retained', group: 'workers' } });
    expect(fn.notices[0]?.subject).toBe(`autoheal: RETAINED ${first} in workers for inspection`);
    expect(fn.notices[0]?.body).toContain(release(first));
    expect(fn.notices[0]?.body).toContain(`s3://${bucket}/evidence/${first}.json`);
    expect((await storedEvidence(first))?.capture).toMatchObject({ result: 'ABANDON', retained: true, release: release(first), consoleOutput: { latest: true } });
    expect((await storedEvidence(second))?.capture).toMatchObject({ result: 'CONTINUE', notRetained: expect.stringContaining('at most 1') as unknown });
    expect((await storedEvidence(second))?.capture?.retained).toBeUndefined();
    expect(fn.lines.find((l) => l.instanceId === first && l.release === release(first))?.msg).toContain(`until released: ${release(first)}`);
  });

  it('keeps at most N (here 2): the N+1-th continues; another group counts its own', async () => {
    // Prepare
    const workers = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const batch = await createMotoGroup(moto, { name: 'batch', size: 2 });
    const [a, b, c] = workers.instanceIds as [string, string, string];
    const [x] = batch.instanceIds as [string];
    await mark('workers', a, b, c);
    await mark('batch', x);
    const fn = evidenceFunctionUnderTest({ atMost: 2 });

    // Act
    const outcomes = [];
    for (const [g, id] of [['workers', a], ['workers', b], ['workers', c], ['batch', x]] as const) outcomes.push((await fn.handle(terminateAction(g, id))).outcome);

    // Assess
    expect(outcomes).toEqual(['retained', 'retained', 'captured', 'retained']);
    expect(results(fn.aws)).toEqual([[a, 'ABANDON'], [b, 'ABANDON'], [c, 'CONTINUE'], [x, 'ABANDON']]);
    const slots = await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'retain#workers' } }, ConsistentRead: true }));
    expect((JSON.parse(slots.Item?.slots?.S ?? '[]') as Array<{ instanceId: string }>).map((s) => s.instanceId)).toEqual([a, b]);
  });

  it('a scale-in (no document) continues at once and touches no slot', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 2 });
    const fn = evidenceFunctionUnderTest();

    // Act
    const outcome = await fn.handle(terminateAction('workers', group.instanceIds[0] as string));

    // Assess
    expect(outcome).toEqual({ instanceId: group.instanceIds[0], outcome: 'notMarked', completed: 'completed' });
    expect(results(fn.aws)).toEqual([[group.instanceIds[0], 'CONTINUE']]);
    expect((await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'retain#workers' } } }))).Item).toBeUndefined();
  });

  it('a redelivery of the retained instance\'s action abandons again and keeps one slot; its release frees the slot for the next mark', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const [first, second] = group.instanceIds as [string, string];
    await mark('workers', first, second);
    const fn = evidenceFunctionUnderTest();
    await fn.handle(terminateAction('workers', first));

    // Act
    const redelivered = await fn.handle(terminateAction('workers', first));
    // The operator releases it (terminate-instance-in-auto-scaling-group); should its termination run the hook again, that is a new action.
    const releasedAction = await fn.handle(terminateAction('workers', first, 'token-release'));
    fn.aws.released.add(first);
    const next = await fn.handle(terminateAction('workers', second));

    // Assess
    expect(redelivered).toMatchObject({ outcome: 'retained', completed: 'gone' });
    expect(releasedAction).toEqual({ instanceId: first, outcome: 'released', completed: 'completed' });
    expect(next).toMatchObject({ outcome: 'retained', completed: 'completed' });
    expect(results(fn.aws)).toEqual([[first, 'ABANDON'], [first, 'ABANDON'], [first, 'CONTINUE'], [second, 'ABANDON']]);
    // The release left the retained instance's document as it was.
    expect((await storedEvidence(first))?.capture).toMatchObject({ retained: true });
  });

  it('any failure continues, never keeps: no ledger table, no lifecycle policy on the group, an abandon refused, a document not written', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const [a, b, c, d] = group.instanceIds as [string, string, string, string];
    await mark('workers', a, b, c, d);
    const noTable = evidenceFunctionUnderTest({ table: 'no-such-table' });
    const noPolicy = evidenceFunctionUnderTest();
    noPolicy.aws.policy = false;
    const refused = evidenceFunctionUnderTest();
    refused.aws.failAbandon = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    const real = s3EvidenceStore(new AutoScalingClient(moto.clientConfig), bucket);
    const unwritable = evidenceFunctionUnderTest({ store: { bucket, get: real.get, put: async () => Promise.reject(new Error('AccessDenied')) } });

    // Act
    const withoutTable = await noTable.handle(terminateAction('workers', a));
    const withoutPolicy = await noPolicy.handle(terminateAction('workers', b));
    const abandonRefused = await refused.handle(terminateAction('workers', c));
    const notWritten = await unwritable.handle(terminateAction('workers', d));

    // Assess
    expect(withoutTable).toMatchObject({ outcome: 'captured', notRetained: expect.stringContaining('retention count not kept') as unknown });
    expect(results(noTable.aws)).toEqual([[a, 'CONTINUE']]);
    expect(withoutPolicy).toMatchObject({ outcome: 'captured', notRetained: expect.stringContaining('TerminateHookAbandon: retain') as unknown });
    expect(results(noPolicy.aws)).toEqual([[b, 'CONTINUE']]);
    expect(abandonRefused).toMatchObject({ outcome: 'retained', completed: 'completed' });
    expect(results(refused.aws)).toEqual([[c, 'ABANDON'], [c, 'CONTINUE']]);
    expect((await storedEvidence(c))?.capture).toMatchObject({ result: 'CONTINUE', notRetained: expect.stringContaining('abandon failed') as unknown });
    expect((await storedEvidence(c))?.capture?.retained).toBeUndefined();
    expect(notWritten).toMatchObject({ outcome: 'notKept', completed: 'completed' });
    expect(results(unwritable.aws)).toEqual([[d, 'CONTINUE']]);
    // None of them was kept, so none is announced as retained.
    expect([noTable, noPolicy, refused, unwritable].flatMap((fn) => fn.notices)).toEqual([]);
    // The slots taken before the abandon was refused and before the document failed were given back: the next marks may be kept.
    const slots = await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'retain#workers' } }, ConsistentRead: true }));
    expect(JSON.parse(slots.Item?.slots?.S ?? '[]')).toEqual([]);
  });

  it('autoheal evidence shows a retained instance and the command that releases it', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 3 });
    const victim = group.instanceIds[0] as string;
    await mark('workers', victim);
    await evidenceFunctionUnderTest().handle(terminateAction('workers', victim));
    const env = isolatedAwsEnv({ AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });

    // Act
    const text = await runCli(['evidence', victim, '--bucket', bucket], { env });
    const json = await runCli(['evidence', victim, '--bucket', bucket, '--json'], { env });

    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('then ABANDON: retained for inspection (Terminating:Retained), running and billed until released');
    expect(text.stdout).toContain(`release: ${release(victim)}`);
    expect(JSON.parse(json.stdout)).toMatchObject({ found: true, evidence: { capture: { retained: true, result: 'ABANDON', release: release(victim) } } });
  });
});
