/**
 * `autoheal bridge --local` at its default concurrency, as a user runs it: the built CLI consuming a
 * real queue (fauxqs) and healing through moto's Auto Scaling and EC2. Eight alarms for eight of ten
 * instances arrive at once; the bridge delivers them concurrently, and the healer's per-group lock
 * keeps the budget: exactly four are marked.
 */
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let q: FauxqsFixture;

beforeAll(async () => {
  [moto, q] = await Promise.all([startMoto(), startFauxqs({ visibilityTimeoutSeconds: 5 })]);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), q?.stop()]);
});

describe('autoheal bridge --local (CLI) on moto', () => {
  it('8 alarms for 8 of 10 instances at the default concurrency: never more than the budget (4) Unhealthy', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    await q.send(group.instanceIds.slice(0, 8).map((id) => statusCheckAlarmMessage(id)));

    // Act
    const run = await runCli(['bridge', '--queue-url', q.queueUrl, '--local', '--once', '--wait-seconds', '1'], {
      env: { ...process.env, ...moto.env, AWS_ENDPOINT_URL_SQS: q.endpoint, AWS_PROFILE: '', LOG_LEVEL: 'info' },
    });

    // Assess
    expect(run.code).toBe(0);
    const asg = new AutoScalingClient(moto.clientConfig);
    const out = await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: group.instanceIds }));
    asg.destroy();
    expect(out.AutoScalingInstances?.filter((i) => i.HealthStatus?.toUpperCase() === 'UNHEALTHY')).toHaveLength(4);
    const verdicts = run.stderr.split('\n').filter((l) => l.includes('"msg":"verdict"')).map((l) => JSON.parse(l) as { reason: string });
    expect(verdicts.map((v) => v.reason).sort()).toEqual([...Array(4).fill('budgetSpent'), ...Array(4).fill('unhealthy')]);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('refuses --dry-run (and the other core flags) with --function-name: the function would mark for real', async () => {
    const run = await runCli(['bridge', '--queue-url', q.queueUrl, '--function-name', 'autoheal', '--dry-run', '--once'], {
      env: { ...process.env, ...q.env, AWS_PROFILE: '' },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--dry-run only work with --local: the function autoheal decides with its own settings \(set AUTOHEAL_DRY_RUN=true on the function/);
  });
});
