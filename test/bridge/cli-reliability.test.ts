/**
 * What the user of `autoheal bridge` sees when an edge does not answer or refuses: the real CLI
 * (built by `npm run build`) against fauxqs, a fake Lambda endpoint, a fake Auto Scaling endpoint,
 * loopback sockets that never answer, and a proxy that holds chosen SQS calls. Each case asserts the
 * exit code, the log lines and the summary's counters (the same numbers as the metrics).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAutoScaling, type FakeAutoScaling } from '../fleet/aws/fake-auto-scaling-server.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { eventually, startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { startHangingProxy, type HangingProxy } from '../helpers/hanging-proxy.js';
import { startSilentServer } from '../helpers/silent-server.js';
import { requireBuiltCli, runBridgeCli } from './bridge-cli.js';
import { startFakeLambda, type FakeInvokeResult, type FakeLambda, type Invocation } from './fake-lambda.js';

const children: ChildProcess[] = [];
const closers: Array<() => Promise<void>> = [];
let q: FauxqsFixture;
let lambda: FakeLambda;
let answer: (invocation: Invocation) => Promise<FakeInvokeResult>;

const runCli = (args: readonly string[], env: Record<string, string>) => runBridgeCli(args, env, children);
const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...q.env, AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint, ...extra });
const summaryOf = (stdout: string): { reason: string; unfinished: number; counts: Record<string, number> } =>
  JSON.parse(stdout) as { reason: string; unfinished: number; counts: Record<string, number> };
const consumed = (): number => q.server.spy.getAllMessages().filter((m) => m.service === 'sqs' && m.status === 'consumed').length;

const instances = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', 'i-0aaaaaaaaaaaaaaa3'];
const alarm = (id: string): string => statusCheckAlarmMessage(id, { region: 'US East (N. Virginia)' });
async function fakeAutoScaling(options: Parameters<typeof startFakeAutoScaling>[1] = {}): Promise<FakeAutoScaling> {
  const fake = await startFakeAutoScaling(
    { name: 'web', desiredCapacity: 3, tags: { 'autoheal:enabled': 'true' }, instances: instances.map((instanceId) => ({ instanceId })) },
    options,
  );
  closers.push(() => fake.close());
  return fake;
}

beforeAll(requireBuiltCli);

beforeEach(async () => {
  q = await startFauxqs({ deadLetter: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 3, messageSpies: true });
  answer = async () => ({ payload: 'null' });
  lambda = await startFakeLambda(['autoheal'], (invocation) => answer(invocation));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const close of closers.splice(0)) await close();
  await lambda.close();
  await q.stop();
});

describe('autoheal bridge when an edge does not answer', () => {
  it('a function that never answers: the delivery fails at --delivery-timeout-seconds, the messages behind it are delivered, --once exits 1', async () => {
    // Prepare: one slot; the function holds "hang" for good.
    answer = (invocation) => (invocation.body === 'hang' ? new Promise(() => {}) : Promise.resolve({ payload: 'null' }));
    const [hung] = await q.send(['hang']);
    await q.send(['next-1', 'next-2']);

    // Act
    const run = runCli(
      ['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--once', '--wait-seconds', '1', '--concurrency', '1', '--batch-size', '1', '--delivery-timeout-seconds', '1', '--retry-base-seconds', '60'],
      env(),
    );
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(run.logs.find((l) => l.msg === 'bridge stage timed out: deliver')).toMatchObject({ level: 'warn', stage: 'deliver', timeoutMs: 1000, messageIds: [hung] });
    expect(run.logs.find((l) => l.msg === 'message' && l.messageId === hung)).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/deliver to lambda:autoheal: no answer within 1000 ms \(--delivery-timeout-seconds\)/),
      retryInSeconds: expect.any(Number),
    });
    expect(summaryOf(run.stdout()).counts).toMatchObject({ received: 3, succeeded: 2, failed: 1, deliveryTimeouts: 1 });
    expect(consumed()).toBe(2);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
  });

  it('--local with an Auto Scaling endpoint that never answers: the mark fails with the bound named, nothing is deleted, --once exits 1', async () => {
    // Prepare
    const silent = await startSilentServer();
    closers.push(() => silent.close());
    await q.publish(alarm(instances[0] ?? ''));

    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--local', '--once', '--wait-seconds', '1', '--retry-base-seconds', '60'], {
      ...env(),
      AWS_ENDPOINT_URL_AUTO_SCALING: silent.url,
      AWS_ENDPOINT_URL_EC2: silent.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: silent.url,
      AUTOHEAL_AWS_TIMEOUT_MS: '200',
    });
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(run.logs.find((l) => l.msg === 'message')).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/autoscaling:DescribeAutoScalingInstances: no answer within 600 ms \(AUTOHEAL_AWS_TIMEOUT_MS=200/),
    });
    expect(summaryOf(run.stdout()).counts).toMatchObject({ received: 1, failed: 1, succeeded: 0 });
    expect(consumed()).toBe(0);
    expect(silent.connections).toBeGreaterThan(0);
  });

  it('--local when SetInstanceHealth is denied: the message is kept for retry and the log names the IAM action; --once exits 1', async () => {
    // Prepare
    const fake = await fakeAutoScaling({ fail: { SetInstanceHealth: { code: 'AccessDenied', message: 'User is not authorized to perform: autoscaling:SetInstanceHealth', status: 403 } } });
    await q.publish(alarm(instances[0] ?? ''));

    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--local', '--once', '--wait-seconds', '1', '--retry-base-seconds', '60'], {
      ...env(),
      AWS_ENDPOINT_URL_AUTO_SCALING: fake.url,
      AWS_ENDPOINT_URL_EC2: fake.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: fake.url,
    });
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(fake.requests.filter((r) => r.action === 'SetInstanceHealth')).toHaveLength(1);
    expect(run.logs.find((l) => l.msg === 'message')).toMatchObject({
      outcome: 'failed',
      retryable: false,
      error: expect.stringContaining('access denied: the IAM policy of this role must allow "autoscaling:SetInstanceHealth"'),
      hint: expect.stringMatching(/IAM action/),
    });
    expect(run.logs.some((l) => l.outcome === 'succeeded')).toBe(false);
    expect(summaryOf(run.stdout())).toMatchObject({ reason: 'drained', counts: { failed: 1, succeeded: 0 } });
    expect(consumed()).toBe(0);
  });

  it('a DeleteMessageBatch that never answers is abandoned and retried: the message is deleted once, --once exits 0', async () => {
    // Prepare: SQS through a proxy that holds the first five DeleteMessageBatch requests for good:
    // every attempt the SDK makes within the first call's bound, so the call itself times out.
    let deletes = 0;
    const proxy: HangingProxy = await startHangingProxy(q.endpoint, (action) => action === 'DeleteMessageBatch' && deletes++ < 5);
    closers.push(() => proxy.close());
    const [id] = await q.send(['{"n":1}']);

    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--once', '--wait-seconds', '1'], {
      ...env(),
      AWS_ENDPOINT_URL_SQS: proxy.url,
      AUTOHEAL_AWS_TIMEOUT_MS: '300',
    });
    const code = await run.exit;

    // Assess
    expect(code).toBe(0);
    expect(proxy.held.length).toBeGreaterThanOrEqual(2);
    expect(run.logs.find((l) => l.msg === 'bridge stage timed out: delete')).toMatchObject({
      level: 'warn',
      messageIds: [id],
      error: expect.stringMatching(/sqs:DeleteMessageBatch: no answer within 900 ms/),
    });
    const counts = summaryOf(run.stdout()).counts;
    expect(counts).toMatchObject({ succeeded: 1, deleteFailed: 0 });
    expect(counts.deleteTimeouts).toBeGreaterThanOrEqual(1);
    expect(consumed()).toBe(1);
  });

  it('SIGTERM while a DeleteMessageBatch hangs: exits 0 within the drain bound, the message undeleted', async () => {
    // Prepare: every delete is held, with a call bound far past the shutdown timeout.
    const proxy = await startHangingProxy(q.endpoint, (action) => action === 'DeleteMessageBatch');
    closers.push(() => proxy.close());
    await q.send(['{"n":1}']);
    const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--wait-seconds', '0', '--shutdown-timeout-seconds', '1'], {
      ...env(),
      AWS_ENDPOINT_URL_SQS: proxy.url,
      AUTOHEAL_AWS_TIMEOUT_MS: '600000',
    });
    await eventually(() => proxy.held.length > 0, 'the delete to be held');

    // Act
    run.child.kill('SIGTERM');
    const code = await run.exit;

    // Assess
    expect(code).toBe(0);
    expect(summaryOf(run.stdout())).toMatchObject({ reason: 'stopped', unfinished: 1, counts: { released: 1, succeeded: 0 } });
    expect(consumed()).toBe(0);
  });
});

describe('autoheal bridge retries and start-up', () => {
  it('with no dead-letter queue and --retry-base-seconds 0, a failing message waits the minimum retry delay', async () => {
    // Prepare
    answer = async () => ({ functionError: 'Unhandled', payload: '{"errorMessage":"boom"}' });
    const plain = q.server.createQueue('no-dlq', { attributes: { VisibilityTimeout: '3' } });
    await q.send(['{"n":1}'], plain.queueUrl);

    // Act
    const run = runCli(['--queue-url', plain.queueUrl, '--function-name', 'autoheal', '--once', '--wait-seconds', '1', '--retry-base-seconds', '0'], env());
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(lambda.invocations).toHaveLength(1);
    expect(run.logs.find((l) => String(l.msg).includes('no redrive policy'))).toBeDefined();
    expect(run.logs.find((l) => l.msg === 'message')).toMatchObject({ outcome: 'failed', retryInSeconds: 10 });
  });

  describe('a metrics port in use', () => {
    let holder: Server;
    beforeEach(async () => {
      holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', resolve));
    });
    afterEach(() => new Promise<void>((resolve) => holder.close(() => resolve())));

    it('exits 2 naming the port and the flag', async () => {
      // Prepare
      const port = (holder.address() as AddressInfo).port;

      // Act
      const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--metrics-port', String(port)], env());
      const code = await run.exit;

      // Assess
      expect(code).toBe(2);
      expect(run.logs.map((l) => l.text ?? '').join('\n')).toContain(
        `autoheal bridge: metrics port ${port} (--metrics-port) on 0.0.0.0: cannot listen: the address is in use by another process`,
      );
    });
  });
});
