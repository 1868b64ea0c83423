/**
 * The app-check bundle (dist/app-check.mjs, `npm run build` first), run in a child process from a
 * folder of its own as Lambda runs it: against moto (Auto Scaling, DynamoDB, SQS) and a stand-in
 * for EC2's application status calls (moto has none). A run takes its lease, reads the check every
 * poll interval, sends each read's verdicts as aws-app-check to the verdict queue, and releases the
 * lease; the Terraform module's invocation associates the check instead; a bad setting fails the
 * cold start naming the variable.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCheckEnv } from '../../src/app-check/settings.js';
import { dynamoDbClient } from '../../src/aws/dynamodb.js';
import { ensureLedgerTable } from '../../src/runtime/dynamodb-ledger.js';
import { parseEvent } from '../../src/signals/index.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { instanceIdsOf, startQueryStandIn, type QueryStandIn } from '../helpers/query-stand-in.js';

const bundle = fileURLToPath(new URL('../../dist/app-check.mjs', import.meta.url));
const checkId = 'asc-0123456789abcdef0';
let moto: MotoFixture;
let ec2: QueryStandIn;

beforeAll(async () => {
  moto = await startMoto();
  // Every instance asked about fails the stack's check.
  ec2 = await startQueryStandIn((request) => {
    if (request.action !== 'DescribeApplicationStatus') {
      return { body: `<${request.action}Response><successfulResultSet><item><associationValue>${request.params['TargetTagAssociation.1.Key']}=${request.params['TargetTagAssociation.1.Value']}</associationValue></item></successfulResultSet><unsuccessfulResultSet/></${request.action}Response>` };
    }
    const items = instanceIdsOf(request)
      .map((id) => `<item><instanceId>${id}</instanceId><applicationStatus><detailSet><item><applicationStatusCheckId>${checkId}</applicationStatusCheckId><aggregation>excluded</aggregation><status>failed</status></item></detailSet></applicationStatus></item>`)
      .join('');
    return { body: `<DescribeApplicationStatusResponse><applicationStatusesResponseType><instanceSet>${items}</instanceSet></applicationStatusesResponseType></DescribeApplicationStatusResponse>` };
  });
}, 60_000);
afterAll(async () => {
  await ec2?.close();
  await moto?.stop();
});

/** Runs the handler once in a child process, as the Lambda runtime would. */
function invoke(env: Record<string, string>, event: unknown = {}): Promise<{ code: number | null; result: Record<string, unknown> | undefined; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-app-check-'));
  copyFileSync(bundle, join(dir, 'app-check.mjs'));
  const script =
    "const m = await import('./app-check.mjs');" +
    `const out = await m.handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000, awsRequestId: 'run-1' });` +
    "process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ code, result: line ? (JSON.parse(line.slice(7)) as Record<string, unknown>) : undefined, stdout, stderr });
    });
  });
}

describe('app-check Lambda bundle (moto, EC2 stand-in)', () => {
  it('reads the check every poll, sends each read as aws-app-check to the verdict queue, and releases its lease', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'web', size: 2 });
    const sqs = new SQSClient(moto.clientConfig);
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'autoheal-verdicts' }));
    const dynamo = dynamoDbClient(moto.clientConfig);
    await ensureLedgerTable(dynamo, 'autoheal-ledger', { sleep: async () => undefined });
    const env = {
      ...moto.env,
      AWS_ENDPOINT_URL_EC2: ec2.url,
      [appCheckEnv.checkId]: checkId,
      [appCheckEnv.groups]: 'web',
      [appCheckEnv.verdictQueueUrl]: QueueUrl,
      [appCheckEnv.ledgerTable]: 'autoheal-ledger',
      [appCheckEnv.pollEveryMs]: '1000',
      [appCheckEnv.runForMs]: '2500',
    };

    // Act
    const run = await invoke(env);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ failedReads: 0 });
    const reads = run.result?.reads as number;
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(run.result?.messages).toBe(reads);
    const received: Message[] = [];
    for (let i = 0; i < 5 && received.length < reads; i++) received.push(...((await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))).Messages ?? []));
    expect(received).toHaveLength(reads);
    for (const message of received) {
      const parsed = parseEvent(JSON.parse(message.Body ?? 'null'));
      expect(parsed.rejected).toEqual([]);
      expect(parsed.signals.map((s) => [s.observer, s.state]).sort()).toEqual([...group.instanceIds].map(() => ['aws-app-check', 'unhealthy']));
    }
    const lease = await dynamo.send(new GetItemCommand({ TableName: 'autoheal-ledger', Key: { pk: { S: 'lease#aws-app-check' } } }));
    expect(lease.Item?.leaseUntilMs?.N).toBe('0');
    sqs.destroy();
    dynamo.destroy();
  }, 60_000);

  it("associates the check when the Terraform module invokes it, and reads nothing", async () => {
    // Prepare
    ec2.requests.length = 0;
    const env = { ...moto.env, AWS_ENDPOINT_URL_EC2: ec2.url, [appCheckEnv.checkId]: checkId, [appCheckEnv.groups]: 'web', [appCheckEnv.verdictQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/v' };

    // Act
    const run = await invoke(env, { associate: { groups: ['web'] }, tf: { action: 'create' } });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toEqual({ action: 'create', associated: ['aws:autoscaling:groupName=web'], disassociated: [], refused: [] });
    expect(ec2.requests.map((r) => r.action)).toEqual(['AssociateApplicationStatusCheck']);
  }, 60_000);

  it('fails a run whose every read failed, so its Errors alarm sees the vote gone silent', async () => {
    // Prepare: a group whose check fails, and a verdict queue that does not exist.
    await createMotoGroup(moto, { name: 'lost', size: 1 });

    // Act
    const run = await invoke({
      ...moto.env,
      AWS_ENDPOINT_URL_EC2: ec2.url,
      [appCheckEnv.checkId]: checkId,
      [appCheckEnv.groups]: 'lost',
      [appCheckEnv.verdictQueueUrl]: `${moto.endpoint}/123456789012/no-such-queue`,
      [appCheckEnv.pollEveryMs]: '1000',
      [appCheckEnv.runForMs]: '1500',
    });

    // Assess
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/app-check: every read of this run failed \(2\); the last: /);
  }, 60_000);

  it('fails its cold start naming each bad variable', async () => {
    // Act
    const run = await invoke({ ...moto.env, [appCheckEnv.checkId]: 'check-1', [appCheckEnv.verdictQueueUrl]: 'not a url' });

    // Assess
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`${appCheckEnv.checkId}: "check-1" is not an application status check id (asc-0123456789abcdef0)`);
    expect(run.stderr).toContain(`${appCheckEnv.groups}: name at least one Auto Scaling group`);
    expect(run.stderr).toContain(`${appCheckEnv.verdictQueueUrl}: not an SQS queue URL: "not a url"`);
  }, 60_000);
});
