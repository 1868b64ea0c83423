/**
 * `heal`, `status` and `alarms sync` against AWS that accepts connections and never answers (a
 * real loopback socket, reached through AWS_ENDPOINT_URL): each ends with a clear error naming the
 * call and the bound, and the exit code its help promises. AUTOHEAL_AWS_TIMEOUT_MS keeps it short.
 * Runs the built CLI (`npm run build` first).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isolatedAwsEnv, runCli, type CliRun } from '../helpers/cli.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';

let silent: SilentServer;
beforeEach(async () => {
  silent = await startSilentServer();
});
afterEach(async () => {
  await silent.close();
});

function run(args: string[], stdin = '', env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, {
    stdin,
    env: isolatedAwsEnv({
      AWS_ENDPOINT_URL: silent.url,
      AUTOHEAL_AWS_TIMEOUT_MS: '200',
      ...env,
    }),
  });
}

const noAnswer = /no answer within 600 ms \(AUTOHEAL_AWS_TIMEOUT_MS=200 per attempt, 3 attempts' worth per call\)/;

describe('a silent AWS endpoint', () => {
  it('heal: prints the verdict with the timeout as its error, logs it, exits 1', async () => {
    // Act
    const result = await run(['heal', '-'], statusCheckAlarmMessage('i-0a1b2c3d4e5f60718', { region: 'US East (N. Virginia)' }));

    // Assess
    expect(result.code).toBe(1);
    const out = JSON.parse(result.stdout) as { verdicts: Array<{ instanceId: string; reason: string; error?: string }> };
    expect(out.verdicts).toEqual([
      expect.objectContaining({ instanceId: 'i-0a1b2c3d4e5f60718', reason: 'unavailable', error: expect.stringMatching(noAnswer) }),
    ]);
    expect(out.verdicts[0]?.error).toMatch(/^autoscaling:DescribeAutoScalingInstances: /);
    expect(result.stderr).toMatch(/"msg":"verdict: work failed"/);
    expect(silent.connections).toBeGreaterThan(0);
  });

  it('status: says which call did not answer, exits 1', async () => {
    // Act
    const result = await run(['status', '--group', 'workers']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toMatch(new RegExp(`^autoheal status: autoscaling:DescribeAutoScalingGroups: ${noAnswer.source}$`));
  });

  it('alarms sync: says which call did not answer, exits 1', async () => {
    // Act
    const result = await run(['alarms', 'sync', '--group', 'workers']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(new RegExp(`^autoheal alarms sync: autoscaling:DescribeAutoScaling\\w+: ${noAnswer.source}$`));
  });

  it.each([
    ['heal', ['heal', '-']],
    ['status', ['status', '--group', 'workers']],
    ['alarms sync', ['alarms', 'sync', '--group', 'workers']],
  ])('%s: rejects an invalid AUTOHEAL_AWS_TIMEOUT_MS before calling anything, exit 2', async (_name, args) => {
    // Act
    const result = await run(args, '{}', { AUTOHEAL_AWS_TIMEOUT_MS: '10s' });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/AUTOHEAL_AWS_TIMEOUT_MS: expected a number, got "10s"/);
    expect(silent.connections).toBe(0);
  });
});
