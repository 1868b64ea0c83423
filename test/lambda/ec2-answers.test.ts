/**
 * The built Lambda bundle (dist/lambda.mjs, `npm run build` first) in a fresh process per event, as
 * Lambda runs it, against moto for Auto Scaling, with a stand-in in front of EC2 for the answers moto
 * cannot be made to give (test/helpers/query-stand-in.ts):
 * - EC2 answers 503 with an empty body: the healer's facts cannot be read, so the invocation fails
 *   (Lambda retries it; an SQS record goes back as a batch item failure) and nothing is marked;
 * - EC2 does not know one instance yet (InvalidInstanceID.NotFound naming it, as right after a
 *   launch): the other record of the SQS batch is still decided and its instance marked.
 */
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statusCheckAlarm, statusCheckAlarmMessage } from '../helpers/events.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { ec2ErrorXml, instanceIdsOf, startQueryStandIn, type QueryAnswer, type QueryStandIn } from '../helpers/query-stand-in.js';

const bundle = fileURLToPath(new URL('../../dist/lambda.mjs', import.meta.url));
const built = existsSync(bundle);
const region = 'US East (N. Virginia)';
let moto: MotoFixture;
let ec2: QueryStandIn;
let answerEc2: (ids: string[]) => QueryAnswer = () => ({ forward: '' });

beforeAll(async () => {
  moto = await startMoto();
  ec2 = await startQueryStandIn((request) => answerEc2(instanceIdsOf(request)));
}, 60_000);
afterAll(async () => {
  await ec2?.close();
  await moto?.stop();
});
afterEach(async () => {
  ec2.requests.length = 0;
  await moto.reset();
});

/** One invocation of the bundle in a fresh Node process: what the handler returned, or the error it threw. */
async function invoke(event: unknown): Promise<{ result?: unknown; error?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-lambda-'));
  copyFileSync(bundle, join(dir, 'lambda.mjs'));
  writeFileSync(
    join(dir, 'invoke.mjs'),
    [
      "import { handler } from './lambda.mjs';",
      'const context = { awsRequestId: "local", getRemainingTimeInMillis: () => 30_000 };',
      'try {',
      '  const result = await handler(JSON.parse(process.env.TEST_EVENT), context);',
      '  process.stdout.write("\\nRESULT " + JSON.stringify(result) + "\\n");',
      '} catch (error) {',
      '  process.stdout.write("\\nERROR " + JSON.stringify(String(error?.message ?? error)) + "\\n");',
      '}',
    ].join('\n'),
  );
  const env = { PATH: process.env.PATH ?? '', ...moto.env, AWS_ENDPOINT_URL_EC2: ec2.url, AWS_EC2_METADATA_DISABLED: 'true', TEST_EVENT: JSON.stringify(event) };
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['invoke.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  const result = /\nRESULT (.*)\n/.exec(run.stdout)?.[1];
  const error = /\nERROR (.*)\n/.exec(run.stdout)?.[1];
  if (run.code !== 0 || (result === undefined && error === undefined)) throw new Error(`the bundle did not run (${run.code}):\n${run.stderr}\n${run.stdout}`);
  return result !== undefined ? { result: JSON.parse(result) } : { error: JSON.parse(error as string) as string };
}

/** The health Auto Scaling (moto) reports for each instance, upper case (the API spells it either way). */
async function healthOf(ids: readonly string[]): Promise<Record<string, string>> {
  const asg = new AutoScalingClient(moto.clientConfig);
  try {
    const out = await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [...ids] }));
    return Object.fromEntries((out.AutoScalingInstances ?? []).map((i) => [i.InstanceId, i.HealthStatus?.toUpperCase()]));
  } finally {
    asg.destroy();
  }
}

function sqsRecord(messageId: string, instanceId: string) {
  return {
    messageId,
    receiptHandle: `r-${messageId}`,
    body: statusCheckAlarmMessage(instanceId, { region }),
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:instance-failed',
    awsRegion: 'us-east-1',
  };
}

describe.skipIf(!built)('the Lambda bundle when EC2 answers badly', () => {
  it('an EC2 answer of 503 with an empty body fails the invocation, after the SDK\'s retries, and no instance is marked', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [target] = group.instanceIds as [string];
    answerEc2 = () => ({ status: 503, body: '' });

    // Act
    const direct = await invoke(statusCheckAlarm(target, { region }));
    const batch = await invoke({ Records: [sqsRecord('m-1', target)] });

    // Assess
    expect(direct.error).toMatch(/some work failed and may succeed on retry: .*ec2:DescribeInstances failed: ServiceUnavailable/);
    expect(batch.result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    // Each invocation tried as often as the client tries (5 attempts), then gave up.
    expect(ec2.requests).toHaveLength(10);
    expect(Object.values(await healthOf(group.instanceIds))).toEqual(group.instanceIds.map(() => 'HEALTHY'));
  });

  it('in an SQS batch, an instance EC2 does not know yet does not stop the other record\'s instance from being marked', async () => {
    // Prepare: EC2 (moto behind the stand-in) has not heard of `fresh` yet, as right after a launch.
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [dead, fresh] = group.instanceIds as [string, string];
    answerEc2 = (ids) =>
      ids.includes(fresh) ? { status: 400, body: ec2ErrorXml('InvalidInstanceID.NotFound', `The instance ID '${fresh}' does not exist`) } : { forward: moto.endpoint };

    // Act
    const out = (await invoke({ Records: [sqsRecord('m-dead', dead), sqsRecord('m-fresh', fresh)] })).result as { batchItemFailures: Array<{ itemIdentifier: string }> };

    // Assess
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).not.toContain('m-dead');
    expect((await healthOf([dead]))[dead]).toBe('UNHEALTHY');
    // EC2 was asked once more without the unknown id (src/aws/ec2.ts), not once per instance.
    expect(ec2.requests.map(instanceIdsOf)).toEqual([expect.arrayContaining([dead, fresh]), [dead]]);
  });
});
