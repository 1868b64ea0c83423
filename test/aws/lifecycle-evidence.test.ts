/**
 * The wing's calls for evidence at their boundaries, where moto does not go: EC2 GetConsoleOutput
 * on an instance that keeps no latest output (EC2 refuses `Latest=true` for it: asked once more for
 * the buffered output), and CompleteLifecycleAction when the action is gone (its heartbeat passed
 * and the hook continued by itself), which Auto Scaling refuses with a ValidationError.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { autoScalingClient, completeLifecycleAction } from '../../src/aws/autoscaling.js';
import { getConsoleOutput } from '../../src/aws/ec2.js';
import { RemoteError } from '../../src/errors.js';
import { ec2ErrorXml, startQueryStandIn, type QueryStandIn } from '../helpers/query-stand-in.js';

const client = autoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const id = 'i-0123456789abcdef0';
let ec2: QueryStandIn;

beforeAll(async () => {
  // An instance type without the latest output: EC2 refuses Latest=true, answers without it.
  ec2 = await startQueryStandIn((request) =>
    request.params.Latest === 'true'
      ? { status: 400, body: ec2ErrorXml('UnsupportedOperation', 'The latest console output is not supported for this instance type.') }
      : {
          body: `<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceId>${id}</instanceId><timestamp>2026-12-03T10:00:00.000Z</timestamp><output>${Buffer.from('boot ok\nkernel: Out of memory: Killed process 1234 (app)\n').toString('base64')}</output></GetConsoleOutputResponse>`,
        },
  );
});
afterAll(() => ec2.close());
afterEach(() => vi.unstubAllEnvs());

describe('GetConsoleOutput', () => {
  it('falls back to the buffered output when EC2 keeps no latest output for the instance, and says so', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);

    // Act
    const output = await getConsoleOutput(client, id);

    // Assess
    expect(output).toEqual({ instanceId: id, text: 'boot ok\nkernel: Out of memory: Killed process 1234 (app)\n', takenAt: '2026-12-03T10:00:00.000Z', latest: false });
    expect(ec2.requests.map((r) => r.params.Latest)).toEqual(['true', undefined]);
  });
});

describe('CompleteLifecycleAction', () => {
  const asg = mockClient(AutoScalingClient);
  afterEach(() => asg.reset());
  const action = { groupName: 'web', hookName: 'autoheal-evidence-AutoHeal', instanceId: id, token: 'tok' };

  it('is gone, not failed, when Auto Scaling has no such action waiting any more', async () => {
    // Prepare: Auto Scaling's refusal after the heartbeat (its words).
    asg.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error(`No active Lifecycle Action found with instance ID ${id}`), { name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 } }));

    // Act
    const result = await completeLifecycleAction(new AutoScalingClient({ region: 'us-east-1' }), action);

    // Assess
    expect(result).toBe('gone');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({ AutoScalingGroupName: 'web', LifecycleHookName: 'autoheal-evidence-AutoHeal', InstanceId: id, LifecycleActionToken: 'tok', LifecycleActionResult: 'CONTINUE' });
  });

  it('fails as a RemoteError naming the action for any other refusal', async () => {
    // Prepare
    asg.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error('User is not authorized to perform: autoscaling:CompleteLifecycleAction'), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }));

    // Act
    const act = completeLifecycleAction(new AutoScalingClient({ region: 'us-east-1' }), action);

    // Assess
    await expect(act).rejects.toBeInstanceOf(RemoteError);
    await expect(act).rejects.toThrow(/autoscaling:CompleteLifecycleAction/);
  });
});
