// Every AWS call ends: the bounds of src/aws/settings.ts, enforced by callAws (src/aws/call.ts)
// through withDeadline (src/deadline.ts), against a real socket that never answers.
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callAws } from '../src/aws/call.js';
import { awsClientSettings, awsTimeouts } from '../src/aws/settings.js';
import { backoffMs } from '../src/backoff.js';
import { withDeadline } from '../src/deadline.js';
import { ConfigError, DeadlineError, isRetryable, RemoteError } from '../src/errors.js';
import { startSilentServer, type SilentServer } from './helpers/silent-server.js';

describe('awsTimeouts', () => {
  it('defaults to 10 s per attempt, 3 s to connect, three attempts per call', () => {
    // Act
    const timeouts = awsTimeouts({});

    // Assess
    expect(timeouts).toMatchObject({ attemptTimeoutMs: 10_000, connectionTimeoutMs: 3_000, callTimeoutMs: 30_000 });
    expect(awsClientSettings(undefined, timeouts).requestHandler).toEqual({ connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true });
  });

  it('reads AUTOHEAL_AWS_TIMEOUT_MS; connecting never gets more than an attempt', () => {
    expect(awsTimeouts({ AUTOHEAL_AWS_TIMEOUT_MS: ' 500 ' })).toMatchObject({ attemptTimeoutMs: 500, connectionTimeoutMs: 500, callTimeoutMs: 1_500 });
  });

  it.each(['abc', '0', '99', '1.5', '900001', '-1'])('rejects AUTOHEAL_AWS_TIMEOUT_MS=%s, naming the variable and the range', (value) => {
    expect(() => awsTimeouts({ AUTOHEAL_AWS_TIMEOUT_MS: value })).toThrow(ConfigError);
    expect(() => awsTimeouts({ AUTOHEAL_AWS_TIMEOUT_MS: value })).toThrow(/AUTOHEAL_AWS_TIMEOUT_MS: expected .*(100 to 900000|a number)/);
  });
});

describe('withDeadline', () => {
  it('fails with a DeadlineError even when the work ignores its signal, and aborts the signal', async () => {
    // Prepare
    let seen: AbortSignal | undefined;

    // Act
    const run = withDeadline('test:Work', 20, (signal) => {
      seen = signal;
      return new Promise<never>(() => {});
    }, { setBy: 'TEST_BOUND' });

    // Assess
    await expect(run).rejects.toThrow(DeadlineError);
    await expect(run).rejects.toThrow('test:Work: no answer within 20 ms (TEST_BOUND)');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(DeadlineError);
  });

  it('passes the work\'s own result and error through', async () => {
    await expect(withDeadline('a', 1_000, async () => 7)).resolves.toBe(7);
    await expect(withDeadline('a', 1_000, () => Promise.reject(new Error('own')))).rejects.toThrow('own');
    await expect(withDeadline('a', 1_000, () => { throw new Error('sync'); })).rejects.toThrow('sync');
  });

  it('stops at once when the caller aborts, with the caller\'s reason', async () => {
    const controller = new AbortController();
    const run = withDeadline('a', 60_000, () => new Promise<never>(() => {}), { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(run).rejects.toThrow('shutting down');
  });
});

describe('callAws against an endpoint that accepts connections and never answers', () => {
  let silent: SilentServer;
  const saved = process.env.AUTOHEAL_AWS_TIMEOUT_MS;
  beforeEach(async () => {
    silent = await startSilentServer();
    process.env.AUTOHEAL_AWS_TIMEOUT_MS = '200';
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.AUTOHEAL_AWS_TIMEOUT_MS;
    else process.env.AUTOHEAL_AWS_TIMEOUT_MS = saved;
    await silent.close();
  });

  it('fails with a retryable DeadlineError naming the action and the variable that bounds it', async () => {
    // Prepare
    const client = new AutoScalingClient({
      ...awsClientSettings('us-east-1'),
      endpoint: silent.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });

    // Act
    const call = callAws('autoscaling:DescribeAutoScalingInstances', undefined, (abortSignal) =>
      client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }), { abortSignal }),
    );
    const error = await call.then(() => undefined, (e: unknown) => e);
    client.destroy();

    // Assess
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toMatch(
      /^autoscaling:DescribeAutoScalingInstances: no answer within 600 ms \(AUTOHEAL_AWS_TIMEOUT_MS=200 per attempt, 3 attempts' worth per call\)$/,
    );
    expect(isRetryable(error)).toBe(true);
    // The SDK retried within the bound: more than one connection was made.
    expect(silent.connections).toBeGreaterThanOrEqual(2);
  });

  it('lets a call that waits on purpose have its own bound', async () => {
    // Prepare
    const client = new AutoScalingClient({ ...awsClientSettings('us-east-1'), endpoint: silent.url, credentials: { accessKeyId: 't', secretAccessKey: 't' } });

    // Act
    const call = callAws(
      'autoscaling:DescribeAutoScalingInstances',
      undefined,
      (abortSignal) => client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }), { abortSignal }),
      { timeoutMs: 50, setBy: '--some-flag' },
    );

    // Assess
    await expect(call).rejects.toThrow('no answer within 50 ms (--some-flag)');
    client.destroy();
  });
});

describe('backoffMs', () => {
  it('doubles per attempt from the base, capped, jittered into the upper half', () => {
    const at = (attempt: number, random: number): number => backoffMs({ attempt, baseMs: 1_000, maxMs: 5_000, random: () => random });
    expect([1, 2, 3, 4, 5].map((n) => at(n, 0))).toEqual([500, 1_000, 2_000, 2_500, 2_500]);
    expect([1, 2, 3, 4, 5].map((n) => at(n, 0.999999))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000].map((ms) => expect.closeTo(ms, 0)));
  });

  it('never goes below its floor, even with a base of 0 (no hot loop)', () => {
    expect(backoffMs({ attempt: 3, baseMs: 0, maxMs: 300_000, minMs: 10_000, random: () => 0.5 })).toBe(10_000);
  });

  it('stays finite for any attempt count', () => {
    expect(backoffMs({ attempt: 10_000, baseMs: 100, maxMs: 20_000, random: () => 0 })).toBe(10_000);
  });
});
