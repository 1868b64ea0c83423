/**
 * The real CLI (`node bin/autoheal.js bridge …`, built by `npm run build`) against fauxqs and a
 * fake Lambda endpoint, reached only through standard SDK settings: AWS_ENDPOINT_URL for SQS
 * (whose queue URLs, `sqs.us-east-1.127.0.0.1:PORT`, do not resolve) and AWS_ENDPOINT_URL_LAMBDA.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAutoScaling } from '../fleet/aws/fake-auto-scaling-server.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { eventually, startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { requireBuiltCli, runBridgeCli } from './bridge-cli.js';
import { startFakeLambda, type FakeInvokeResult, type FakeLambda, type Invocation } from './fake-lambda.js';

const runCli = (args: readonly string[], env: Record<string, string>) => runBridgeCli(args, env, children);

const children: ChildProcess[] = [];
let q: FauxqsFixture;
let lambda: FakeLambda | undefined;
let answer: (invocation: Invocation) => Promise<FakeInvokeResult>;

function env(): Record<string, string> {
  return { ...q.env, AWS_ENDPOINT_URL_LAMBDA: lambda?.endpoint ?? 'http://127.0.0.1:9' };
}

beforeAll(requireBuiltCli);

beforeEach(async () => {
  q = await startFauxqs({ deadLetter: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 3, messageSpies: true });
  answer = async () => ({ payload: 'null' });
  lambda = await startFakeLambda(['autoheal'], (invocation) => answer(invocation));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await lambda?.close();
  await q.stop();
});

describe('autoheal bridge (CLI)', () => {
  it('runs unchanged with the original sqs-to-lambda flags: --queueUrl, --functionName, --region', async () => {
    // Prepare
    await q.publish('{"AlarmName":"original"}');

    // Act
    const run = runCli(['--queueUrl', q.queueUrl, '--functionName', 'autoheal', '--region', 'us-east-1', '--once', '--wait-seconds', '1'], env());
    const code = await run.exit;

    // Assess
    expect(code).toBe(0);
    expect(lambda?.invocations).toHaveLength(1);
    expect(JSON.parse(lambda?.invocations[0]?.body ?? '{}')).toMatchObject({ Type: 'Notification', Message: '{"AlarmName":"original"}' });
    expect(JSON.parse(run.stdout())).toMatchObject({ reason: 'drained', counts: { received: 1, succeeded: 1 } });
    const line = run.logs.find((l) => l.msg === 'message');
    expect(line).toMatchObject({ outcome: 'succeeded', receiveCount: 1, messageId: expect.any(String), ms: expect.any(Number) });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('on SIGTERM deletes nothing unfinished, exits 0, and a restart processes the rest', async () => {
    // Prepare: every invocation is held until the test answers it.
    const held = new Map<string, (result: FakeInvokeResult) => void>();
    answer = (invocation) => new Promise((resolve) => held.set(invocation.body, resolve));
    const bodies = ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'];
    const ids = await q.send(bodies);
    const run = runCli(
      ['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--wait-seconds', '1', '--concurrency', '4', '--shutdown-timeout-seconds', '1'],
      env(),
    );
    await eventually(() => held.size === 4, 'four invocations in flight');

    // Act: stop; two invocations finish within the shutdown timeout, two never do.
    run.child.kill('SIGTERM');
    await eventually(() => run.logs.some((l) => String(l.msg).startsWith('draining')), 'the drain to start');
    held.get(bodies[0] ?? '')?.({ payload: 'null' });
    held.get(bodies[1] ?? '')?.({ payload: 'null' });
    const code = await run.exit;
    const consumedBeforeRestart = q.server.spy
      .getAllMessages()
      .flatMap((m) => (m.service === 'sqs' && m.status === 'consumed' ? [m.messageId] : []));

    answer = async () => ({ payload: 'null' });
    const restart = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--once', '--wait-seconds', '1'], env());
    const restartCode = await restart.exit;

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(run.stdout())).toMatchObject({ reason: 'stopped', unfinished: 2, counts: { succeeded: 2, released: 2 } });
    expect(consumedBeforeRestart.sort()).toEqual([ids[0], ids[1]].sort());
    expect(restartCode).toBe(0);
    expect(JSON.parse(restart.stdout())).toMatchObject({ reason: 'drained', counts: { succeeded: 2, failed: 0 } });
    const consumed = q.server.spy.getAllMessages().flatMap((m) => (m.service === 'sqs' && m.status === 'consumed' ? [m.messageId] : []));
    expect(consumed.sort()).toEqual([...ids].sort());
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('heals from a queue with --local: an alarm marks its instance Unhealthy, a bad body is rejected and deleted', async () => {
    // Prepare: a tagged group of three behind a local Auto Scaling (and CloudWatch) endpoint.
    const instances = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', 'i-0aaaaaaaaaaaaaaa3'];
    const autoScaling = await startFakeAutoScaling({
      name: 'web',
      desiredCapacity: 3,
      tags: { 'autoheal:enabled': 'true' },
      instances: instances.map((instanceId) => ({ instanceId })),
    });
    await q.publish(statusCheckAlarmMessage(instances[0] ?? '', { region: 'US East (N. Virginia)' }));
    await q.send(['not json']);

    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--local', '--once', '--wait-seconds', '1'], {
      ...env(),
      AWS_ENDPOINT_URL_AUTO_SCALING: autoScaling.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: autoScaling.url,
      AWS_ENDPOINT_URL_EC2: autoScaling.url,
    });
    const code = await run.exit;
    await autoScaling.close();

    // Assess
    expect(code).toBe(0);
    expect(autoScaling.requests.filter((r) => r.action === 'SetInstanceHealth').map((r) => r.params)).toEqual([
      expect.objectContaining({ InstanceId: instances[0], HealthStatus: 'Unhealthy' }),
    ]);
    expect(JSON.parse(run.stdout())).toMatchObject({ reason: 'drained', counts: { received: 2, succeeded: 1, rejected: 1, failed: 0 } });
    const lines = run.logs.filter((l) => l.msg === 'message');
    expect(lines.map((l) => l.outcome).sort()).toEqual(['rejected', 'succeeded']);
    expect(lines.find((l) => l.outcome === 'rejected')).toMatchObject({ receiveCount: 1, reason: expect.any(String) });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('on a second signal exits at once, deleting nothing unfinished', async () => {
    // Prepare: the function never answers.
    answer = () => new Promise(() => {});
    await q.send(['{"n":1}', '{"n":2}']);
    const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--wait-seconds', '1', '--shutdown-timeout-seconds', '600'], env());
    await eventually(() => lambda?.invocations.length === 2, 'two invocations in flight');

    // Act
    run.child.kill('SIGTERM');
    await eventually(() => run.logs.some((l) => String(l.msg).startsWith('draining')), 'the drain to start');
    run.child.kill('SIGTERM');
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(run.logs.some((l) => String(l.msg).startsWith('second signal'))).toBe(true);
    expect(q.server.spy.getAllMessages().filter((m) => m.service === 'sqs' && m.status === 'consumed')).toHaveLength(0);
    expect((await q.depth()).inFlight).toBe(2);
  });

  it('leaves a message the function failed on for a retry and exits 1 with --once', async () => {
    // Prepare
    answer = async () => ({ functionError: 'Unhandled', payload: '{"errorMessage":"boom"}' });
    await q.send(['{"n":1}']);

    // Act
    const run = runCli(
      ['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--once', '--wait-seconds', '1', '--retry-base-seconds', '60'],
      env(),
    );
    const code = await run.exit;

    // Assess
    expect(code).toBe(1);
    expect(run.logs.find((l) => l.msg === 'message')).toMatchObject({ outcome: 'failed', receiveCount: 1 });
    expect((await q.depth()).inFlight).toBe(1);
  });

  it('exits 2 with a clear message when the function does not exist', async () => {
    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'missing', '--once'], env());
    const code = await run.exit;

    // Assess
    expect(code).toBe(2);
    expect(run.logs.map((l) => l.text ?? '').join('\n')).toMatch(/function "missing" is not usable.*Function not found/);
  });

  it('exits 2 with a clear message when the queue does not exist', async () => {
    // Act
    const run = runCli(['--queue-url', `${q.queueUrl}-nope`, '--function-name', 'autoheal', '--once'], env());
    const code = await run.exit;

    // Assess
    expect(code).toBe(2);
    expect(run.logs.map((l) => l.text ?? '').join('\n')).toMatch(/queue .*-nope is not readable/);
  });

  it('exits 2 on bad flags, naming the flag', async () => {
    // Act
    const run = runCli(['--queue-url', q.queueUrl, '--function-name', 'autoheal', '--batch-size', '11'], env());
    const code = await run.exit;

    // Assess
    expect(code).toBe(2);
    expect(run.logs.map((l) => l.text ?? '').join('\n')).toMatch(/--batch-size: .*10/);
  });
});
