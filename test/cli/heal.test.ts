import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeAutoScaling, type FakeAutoScaling, type FakeGroup, type FakeOptions } from '../fleet/aws/fake-auto-scaling-server.js';
import { isolatedAwsEnv, runCli, type CliRun } from '../helpers/cli.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';

// Runs the built CLI (`npm run build` first, as `npm test` does) against a local stand-in of the
// Auto Scaling query API, reached through AWS_ENDPOINT_URL like any AWS SDK endpoint.
const sick = 'i-0a1b2c3d4e5f60718';
const well = 'i-0123456789abcdef0';

function run(args: string[], env: Record<string, string>, stdin = ''): Promise<CliRun> {
  return runCli(args, {
    stdin,
    env: isolatedAwsEnv({
      ...env,
    }),
  });
}

const alarm = (instanceId: string, stateChangeTime?: string): string =>
  statusCheckAlarmMessage(instanceId, { region: 'US East (N. Virginia)', ...(stateChangeTime ? { stateChangeTime } : {}) });

const group = (change: Partial<FakeGroup> = {}): FakeGroup => ({
  name: 'workers',
  desiredCapacity: 2,
  tags: { 'autoheal:enabled': 'true' },
  instances: [{ instanceId: sick }, { instanceId: well }],
  ...change,
});

let fake: FakeAutoScaling | undefined;
async function withFake(g: FakeGroup = group(), options: FakeOptions = {}): Promise<{ fake: FakeAutoScaling; env: Record<string, string> }> {
  fake = await startFakeAutoScaling(g, options);
  return { fake, env: { AWS_ENDPOINT_URL: fake.url } };
}
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const scratch = mkdtempSync(join(tmpdir(), 'autoheal-heal-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const marks = (f: FakeAutoScaling): Array<Record<string, string>> =>
  f.requests.filter((r) => r.action === 'SetInstanceHealth').map((r) => r.params);

describe('autoheal heal', () => {
  it('marks the instance of an alarm with SetInstanceHealth and prints the verdict', async () => {
    // Prepare
    const { fake, env } = await withFake();
    const file = join(scratch, 'alarm.json');
    writeFileSync(file, alarm(sick));

    // Act
    const { code, stdout, stderr } = await run(['heal', file], env);

    // Assess
    expect(code, stderr).toBe(0);
    expect(marks(fake)).toEqual([
      { Action: 'SetInstanceHealth', Version: '2011-01-01', InstanceId: sick, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: 'true' },
    ]);
    const report = JSON.parse(stdout) as { verdicts: Array<Record<string, unknown>>; rejected: unknown[] };
    expect(report.rejected).toEqual([]);
    expect(report.verdicts).toEqual([
      {
        instanceId: sick,
        group: 'workers',
        action: 'mark',
        reason: 'unhealthy',
        detail: expect.any(String),
        source: 'cloudwatch-alarm',
        eventId: expect.stringContaining(`autoheal-status-check-${sick}`),
        dryRun: false,
        ms: expect.any(Number),
      },
    ]);
    // Logs are JSON lines on stderr, one per verdict.
    expect(stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ msg: 'verdict', instanceId: sick, group: 'workers', action: 'mark' }),
    );
  });

  it('--dry-run decides from stdin but sends no SetInstanceHealth', async () => {
    // Prepare
    const { fake, env } = await withFake();

    // Act
    const { code, stdout } = await run(['heal', '--dry-run'], env, alarm(sick));

    // Assess
    expect(code).toBe(0);
    expect(marks(fake)).toEqual([]);
    expect(fake.requests.map((r) => r.action)).toEqual(['DescribeAutoScalingInstances', 'DescribeInstances', 'DescribeAutoScalingGroups']);
    expect(JSON.parse(stdout)).toMatchObject({ verdicts: [{ instanceId: sick, action: 'mark', reason: 'unhealthy', dryRun: true }] });
  });

  it('re-checks stale evidence in CloudWatch and skips an alarm that recovered; flags beat the environment', async () => {
    // Prepare: an alarm from an hour ago whose alarm is OK now; the environment's tag does not match.
    const { fake, env } = await withFake(group(), { alarmState: 'OK' });
    const stale = alarm(sick, new Date(Date.now() - 3_600_000).toISOString());

    // Act
    const { code, stdout } = await run(['heal', '-', '--opt-in-tag', 'autoheal:enabled=true'], { ...env, AUTOHEAL_OPT_IN_TAG: 'team=other' }, stale);

    // Assess
    expect(code).toBe(0);
    expect(fake.requests.find((r) => r.action === 'DescribeAlarms')?.params).toEqual({ AlarmName: `autoheal-status-check-${sick}` });
    expect(marks(fake)).toEqual([]);
    expect(JSON.parse(stdout)).toMatchObject({ verdicts: [{ instanceId: sick, action: 'skip', reason: 'stale' }] });
  });

  it('skips a group that is not opted in, and --no-respect-grace-period reaches SetInstanceHealth', async () => {
    // Prepare
    const { fake, env } = await withFake(group({ tags: {} }));

    // Act
    const skipped = await run(['heal', '-'], env, alarm(sick));
    const named = await run(['heal', '-', '--groups', 'workers', '--no-respect-grace-period'], env, alarm(sick));

    // Assess
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ verdicts: [{ action: 'skip', reason: 'notOptedIn' }] });
    expect(named.code).toBe(0);
    expect(marks(fake)).toEqual([expect.objectContaining({ InstanceId: sick, ShouldRespectGracePeriod: 'false' })]);
  });

  it('exits 1 with the error in the verdict when SetInstanceHealth fails, and when the event names no instance', async () => {
    // Prepare
    const { env } = await withFake(group(), {
      fail: { SetInstanceHealth: { code: 'ValidationError', message: `Instance Id not found - ${sick}` } },
    });

    // Act
    const [failed, none] = await Promise.all([
      run(['heal', '-'], env, alarm(sick)),
      run(['heal', '-'], env, '{"AlarmName":"queue-depth","NewStateValue":"ALARM","Trigger":{"Dimensions":[]}}'),
    ]);

    // Assess
    expect(failed.code).toBe(1);
    const [verdict] = (JSON.parse(failed.stdout) as { verdicts: Array<{ action: string; error?: string }> }).verdicts;
    expect(verdict?.action).toBe('mark');
    expect(verdict?.error).toMatch(/autoscaling:SetInstanceHealth failed: ValidationError: Instance Id not found/);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toEqual({ verdicts: [], rejected: [{ reason: 'Trigger.Dimensions: no InstanceId' }] });
  });

  it('exits 2 on unreadable input or invalid settings, naming the flag or variable, before calling AWS', async () => {
    // Prepare
    const { fake, env } = await withFake();

    // Act
    const [missing, badFlag, badEnv] = await Promise.all([
      run(['heal', join(scratch, 'missing.json')], env),
      run(['heal', '-', '--max-unhealthy-share', '2'], env, alarm(sick)),
      run(['heal', '-'], { ...env, AUTOHEAL_DRY_RUN: 'yes' }, alarm(sick)),
    ]);

    // Assess
    expect([missing.code, badFlag.code, badEnv.code]).toEqual([2, 2, 2]);
    expect(missing.stderr).toMatch(/cannot read .*missing\.json/);
    expect(badFlag.stderr).toMatch(/--max-unhealthy-share: /);
    expect(badEnv.stderr).toMatch(/AUTOHEAL_DRY_RUN: expected "true" or "false"/);
    expect(badFlag.stdout + badEnv.stdout).toBe('');
    expect(fake.requests).toEqual([]);
  });
});
