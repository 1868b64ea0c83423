/**
 * Quarantine `retain` keeps at most N per group when the hooks of several marks run at once, each
 * in a fresh process (dist/evidence.mjs alone in a folder, as Lambda cold-starts it), one of them
 * delivered twice. The retention count lives in the ledger table (moto's DynamoDB, real conditional
 * writes); the processes share nothing else.
 *
 * To make the race certain rather than likely, a stand-in in front of moto holds every process's
 * first read of the group's slots until all of them have read: each then believes no instance is
 * retained yet, exactly as two Lambda environments reading at once would. Reading the group
 * cannot save the count there (every instance is still Terminating:Wait); only the conditional
 * write does. The stand-in also answers what moto lacks: CompleteLifecycleAction (recorded), and
 * the group's instance lifecycle policy (TerminateHookAbandon: retain) in DescribeAutoScalingGroups.
 *
 * What moto cannot show: Auto Scaling moving an abandoned instance to Terminating:Retained and
 * launching its replacement, or a release terminating it. The count here holds without them: it is
 * the slots, not the group's states, that refuse the N+1-th. Nor does moto apply a conditional
 * write atomically: its server checks the condition and writes on each request's own thread, with
 * no lock between the two, so on a loaded machine two writes both passed `attribute_not_exists`
 * and two instances were kept with N = 1. DynamoDB applies the writes to one item one at a time;
 * the stand-in passes the slot writes to moto one at a time to match, and holds nothing else.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTable } from '../../src/aws/dynamodb.js';
import { evidenceBundle, type EvidenceBundle } from '../helpers/evidence-bundle.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { completeLifecycleActionAnswer, startMotoFront, type FrontAnswer, type FrontRequest, type MotoFront } from '../helpers/moto-front.js';

const bucket = 'autoheal-retain-race';
const table = 'autoheal-ledger-race';
const policyXml = '<InstanceLifecyclePolicy><RetentionTriggers><TerminateHookAbandon>retain</TerminateHookAbandon></RetentionTriggers></InstanceLifecyclePolicy>';
let moto: MotoFixture;
let s3: S3Client;
let dynamo: DynamoDBClient;
let standIn: MotoFront;
let bundle: EvidenceBundle;

/** What the stand-in saw: each lifecycle answer, and each conditional write of the slots with its status. */
const seen = { completed: [] as URLSearchParams[], slotWrites: [] as number[] };
/** The slot writes, passed to moto one after another (see the file's head). */
let writesInOrder: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(write: () => Promise<T>): Promise<T> {
  const next = writesInOrder.then(write, write);
  writesInOrder = next.catch(() => undefined);
  return next;
}
/** The barrier on the first reads of the slots: released once `expected` reads are waiting. */
let barrier = { expected: 0, waiting: [] as Array<() => void> };

async function answer(request: FrontRequest, forward: () => Promise<FrontAnswer>): Promise<FrontAnswer> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const text = request.body.toString();
  if (target.endsWith('.GetItem') && text.includes('retain#') && barrier.expected > 0) {
    // Hold this read until every process has read: all of them see the same, empty, slots.
    await new Promise<void>((resolve) => {
      barrier.waiting.push(resolve);
      if (barrier.waiting.length >= barrier.expected) {
        const release = barrier.waiting;
        barrier = { expected: 0, waiting: [] };
        for (const r of release) r();
      }
    });
  }
  if (target.endsWith('.PutItem') && text.includes('retain#')) {
    const out = await oneAtATime(forward);
    seen.slotWrites.push(out.status);
    return out;
  }
  const form = new URLSearchParams(text);
  if (form.get('Action') === 'CompleteLifecycleAction') {
    seen.completed.push(form);
    return completeLifecycleActionAnswer();
  }
  const out = await forward();
  // moto stores no instance lifecycle policy: the group answers with the one the stack sets.
  if (form.get('Action') === 'DescribeAutoScalingGroups') return { ...out, body: Buffer.from(out.body.toString().replaceAll('</AutoScalingGroupName>', `</AutoScalingGroupName>${policyXml}`)) };
  return out;
}

beforeAll(async () => {
  bundle = evidenceBundle();
  moto = await startMoto();
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  dynamo = new DynamoDBClient(moto.clientConfig);
  standIn = await startMotoFront(moto.endpoint, answer);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  dynamo?.destroy();
  await standIn?.close();
  await moto?.stop();
  bundle?.remove();
});

beforeEach(async () => {
  await moto.reset();
  seen.completed.length = 0;
  seen.slotWrites.length = 0;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await createTable(dynamo, table, 'pk');
});

const invoke = (event: unknown, env: Record<string, string>) => bundle.invoke<{ instanceId: string; outcome: string }>(event, env);

const event = (group: string, instanceId: string) => ({
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  source: 'aws.autoscaling',
  detail: { LifecycleActionToken: `token-${instanceId}`, AutoScalingGroupName: group, LifecycleHookName: 'autoheal-evidence-AutoHeal', EC2InstanceId: instanceId, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
});

/** The document the healer writes at a mark. */
async function markedByAutoheal(group: string, instanceId: string): Promise<void> {
  const now = new Date().toISOString();
  const doc = { kind: 'autoheal.evidence', version: 1, instanceId, groupName: group, markedAt: now, verdict: { action: 'mark', reason: 'unhealthy', source: 'probe', evidence: 'connect ECONNREFUSED', observedAt: now, eventId: `e-${instanceId}` }, groupAtMark: { name: group, desiredCapacity: 6, healthCheckGracePeriodSeconds: 0, suspendedProcesses: [], instances: [] } };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `evidence/${instanceId}.json`, Body: JSON.stringify(doc) }));
}

describe('quarantine retain, marks\' hooks at once in fresh processes (moto, the first slot reads held together)', () => {
  it.each([1, 2])('keeps exactly %i of four marked instances, one of its events delivered twice; the others are continued', async (atMost) => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'race', size: 6 });
    const marked = group.instanceIds.slice(0, 4);
    for (const id of marked) await markedByAutoheal('race', id);
    const events = [...marked.map((id) => event('race', id)), event('race', marked[0] as string)];
    barrier = { expected: events.length, waiting: [] };
    const env = { ...moto.env, AWS_ENDPOINT_URL: standIn.url, AWS_REGION: 'us-east-1', AUTOHEAL_EVIDENCE_BUCKET: bucket, AUTOHEAL_RETAIN_AT_MOST: String(atMost), AUTOHEAL_LEDGER_TABLE: table, LOG_LEVEL: 'warn' };

    // Act
    const runs = await Promise.all(events.map((e) => invoke(e, env)));

    // Assess
    for (const run of runs) expect(run.result, run.stderr).toBeDefined();
    const abandoned = new Set(seen.completed.filter((f) => f.get('LifecycleActionResult') === 'ABANDON').map((f) => f.get('InstanceId')));
    const continued = new Set(seen.completed.filter((f) => f.get('LifecycleActionResult') === 'CONTINUE').map((f) => f.get('InstanceId')));
    expect(abandoned.size).toBe(atMost);
    expect(continued.size).toBe(marked.length - atMost);
    expect([...abandoned].filter((id) => continued.has(id))).toEqual([]);
    expect(new Set([...abandoned, ...continued])).toEqual(new Set(marked));
    // Every process read the empty slots, so all but the winners' writes were refused at least once.
    expect(seen.slotWrites.filter((status) => status !== 200).length).toBeGreaterThanOrEqual(1);
    const item = await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'retain#race' } }, ConsistentRead: true }));
    const slots = JSON.parse(item.Item?.slots?.S ?? '[]') as Array<{ instanceId: string }>;
    expect(new Set(slots.map((s) => s.instanceId))).toEqual(abandoned);
    expect(runs.filter((r) => r.result?.outcome === 'retained').every((r) => abandoned.has(r.result?.instanceId ?? null))).toBe(true);
  }, 120_000);

  it('refuses to start with N but without the ledger table, naming it: the hook\'s default then continues every termination', async () => {
    // Act
    const run = await bundle.invoke(event('race', 'i-0123456789abcdef0'), { ...moto.env, AWS_ENDPOINT_URL: standIn.url, AUTOHEAL_EVIDENCE_BUCKET: bucket, AUTOHEAL_RETAIN_AT_MOST: '1' });

    // Assess
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('AUTOHEAL_LEDGER_TABLE: required by the evidence function with AUTOHEAL_RETAIN_AT_MOST');
    expect(seen.completed).toEqual([]);
  });
});
