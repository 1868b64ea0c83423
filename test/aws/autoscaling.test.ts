/**
 * Auto Scaling's refusals become typed errors in the wing (src/aws/autoscaling.ts), so nobody
 * upstream reads message text: a mark inside the grace period Auto Scaling knows of is a
 * GracePeriodRefusedError, and the healer skips it as `inGracePeriod`. Through the real SDK
 * against a stand-in of the Auto Scaling API that refuses as Auto Scaling does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { autoScalingClient, setInstanceHealth } from '../../src/aws/autoscaling.js';
import { resolveSettings } from '../../src/config.js';
import { GracePeriodRefusedError, isRetryable, RemoteError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createAwsHealer } from '../../src/runtime/aws.js';
import { startFakeAutoScaling, type FakeAutoScaling } from '../fleet/aws/fake-auto-scaling-server.js';
import { statusCheckAlarm } from '../helpers/events.js';

const id = 'i-0a1b2c3d4e5f60718';
const group = { name: 'workers', desiredCapacity: 3, tags: { 'autoheal:enabled': 'true' }, instances: [{ instanceId: id }, { instanceId: 'i-0a1b2c3d4e5f60719' }, { instanceId: 'i-0a1b2c3d4e5f6071a' }] };
// Auto Scaling's own words (aws-cli issue 171).
const refusal = { code: 'ValidationError', message: 'The age of the instance (986 seconds) is less than the configured grace period of 1500 seconds' };
let fake: FakeAutoScaling | undefined;
afterEach(() => fake?.close());

function clientOf(f: FakeAutoScaling) {
  return autoScalingClient({ region: 'us-east-1', endpoint: f.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

describe('SetInstanceHealth refusals', () => {
  it('a mark inside the grace period is a GracePeriodRefusedError with the figures, never retried', async () => {
    // Prepare
    fake = await startFakeAutoScaling(group, { fail: { SetInstanceHealth: refusal } });

    // Act
    const failed = await setInstanceHealth(clientOf(fake), { instanceId: id, status: 'Unhealthy', respectGracePeriod: true }).catch((e: unknown) => e);

    // Assess
    expect(failed).toBeInstanceOf(GracePeriodRefusedError);
    expect(failed).toMatchObject({ instanceId: id, ageSeconds: 986, gracePeriodSeconds: 1500, action: 'autoscaling:SetInstanceHealth' });
    expect(isRetryable(failed)).toBe(false);
    expect(fake.requests.filter((r) => r.action === 'SetInstanceHealth')).toHaveLength(1);
  });

  it('any other validation error stays a RemoteError', async () => {
    // Prepare
    fake = await startFakeAutoScaling(group, { fail: { SetInstanceHealth: { code: 'ValidationError', message: 'Instance Id not found' } } });

    // Act
    const failed = await setInstanceHealth(clientOf(fake), { instanceId: id, status: 'Unhealthy', respectGracePeriod: true }).catch((e: unknown) => e);

    // Assess
    expect(failed).toBeInstanceOf(RemoteError);
    expect(failed).not.toBeInstanceOf(GracePeriodRefusedError);
    expect(String((failed as Error).message)).toMatch(/ValidationError: Instance Id not found/);
  });

  it('the healer skips a refused mark as inGracePeriod, with Auto Scaling\'s figures, and fails nothing', async () => {
    // Prepare
    fake = await startFakeAutoScaling(group, { fail: { SetInstanceHealth: refusal } });
    const { healer } = createAwsHealer({ settings: resolveSettings({}, {}), autoScaling: clientOf(fake), instanceFacts: async (ids) => new Map(ids.map((i) => [i, { launchedAt: new Date(0), tags: {} }])), logger: silentLogger });

    // Act
    const report = await healer.handle(statusCheckAlarm(id));

    // Assess
    expect(report.verdicts.map((v) => [v.verdict.action, v.verdict.reason, v.error])).toEqual([['skip', 'inGracePeriod', undefined]]);
    expect(report.verdicts[0]?.verdict.detail).toMatch(/986 s old, the group's grace period is 1500 s/);
    expect(report.retry).toBe(false);
  });
});
