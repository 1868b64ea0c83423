/**
 * The Lambda handler against Auto Scaling that accepts connections and never answers (a real
 * loopback socket), invoked without a Lambda context, so no deadline comes from
 * getRemainingTimeInMillis: every call still ends within its bound, and the invocation with a
 * clear error — a throw for a direct invoke (so Lambda retries), a batch item failure for SQS.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awsClientSettings, awsTimeouts } from '../../src/aws/settings.js';
import { resolveSettings } from '../../src/config.js';
import { createHandler } from '../../src/lambda/handler.js';
import { statusCheckAlarm, statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';

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

function silentHandler() {
  const settings = { ...awsClientSettings('us-east-1', awsTimeouts()), endpoint: silent.url, credentials: { accessKeyId: 't', secretAccessKey: 't' } };
  const { logger, lines } = capturedLogger();
  const autoScaling = new AutoScalingClient(settings);
  const cloudWatch = new CloudWatchClient(settings);
  const handler = createHandler({ config: resolveSettings({}, {}), autoScaling, cloudWatch, logger, onLifecycle: async () => {} });
  return { handler, lines, close: () => [autoScaling, cloudWatch].forEach((c) => c.destroy()) };
}

const instanceId = 'i-0a1b2c3d4e5f60718';
const noAnswer = /autoscaling:DescribeAutoScalingInstances: no answer within 600 ms \(AUTOHEAL_AWS_TIMEOUT_MS=200/;

describe('the Lambda handler with no context deadline and a silent Auto Scaling', () => {
  it('a direct invoke fails with the timeout named, so Lambda retries it', async () => {
    // Prepare
    const { handler, lines, close } = silentHandler();

    // Act
    const result = handler(statusCheckAlarm(instanceId, { region: 'US East (N. Virginia)' }));

    // Assess
    await expect(result).rejects.toThrow(/some work failed and may succeed on retry: /);
    await expect(result).rejects.toThrow(noAnswer);
    expect(lines.find((l) => l.msg === 'verdict: work failed')).toMatchObject({ instanceId, retryable: true, error: expect.stringMatching(noAnswer) });
    close();
  });

  it('an SQS batch reports its record as a batch item failure', async () => {
    // Prepare
    const { handler, close } = silentHandler();
    const event = {
      Records: [
        {
          messageId: 'm-1',
          receiptHandle: 'r-1',
          body: statusCheckAlarmMessage(instanceId, { region: 'US East (N. Virginia)' }),
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:instance-failed',
          awsRegion: 'us-east-1',
        },
      ],
    };

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    close();
  });
});
