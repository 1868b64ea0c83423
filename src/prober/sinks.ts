/**
 * Where the prober's signals go: the healer in this process, or an SNS topic that a CloudWatch
 * alarm would publish to (the message is the alarm JSON of toAlarmMessage, so everything behind
 * the topic — queue, bridge, Lambda — handles it exactly like a real alarm).
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { RemoteError, toRemoteError } from '../errors.js';
import type { Healer } from '../healer/types.js';
import { probeAlarmName, toAlarmMessage } from '../signals/alarm-message.js';
import type { ProbeSink } from './prober.js';

/** Hands each signal to the healer. A retryable failure throws, so the prober sends it again. */
export function healerSink(healer: Pick<Healer, 'handleSignals'>): ProbeSink {
  return async (signal, { signal: abort }) => {
    const records = await healer.handleSignals([signal], { signal: abort });
    const failed = records.find((r) => r.error !== undefined && r.retryable === true);
    if (failed) {
      throw new RemoteError('autoheal:handleSignals', failed.error ?? 'failed', { retryable: true });
    }
  };
}

/** Options of {@link snsSink}. */
export interface SnsSinkOptions {
  client: SNSClient;
  topicArn: string;
  /** Written into the alarm message (`AWSAccountId`, and with a region `AlarmArn`). */
  accountId?: string;
  /** Called with the SNS MessageId of each published signal. */
  onPublished?: (signal: Parameters<ProbeSink>[0], messageId: string) => void;
}

/** Publishes each signal to the topic as a CloudWatch alarm state change. */
export function snsSink(options: SnsSinkOptions): ProbeSink {
  return async (signal, { signal: abort }) => {
    const state = signal.state === 'unhealthy' ? 'ALARM' : 'OK';
    const command = new PublishCommand({
      TopicArn: options.topicArn,
      // CloudWatch's own subject; SNS caps subjects at 100 characters.
      Subject: `${state}: "${probeAlarmName(signal.instanceId)}"`.slice(0, 100),
      Message: toAlarmMessage(signal, options.accountId !== undefined ? { accountId: options.accountId } : {}),
    });
    try {
      const out = await options.client.send(command, { abortSignal: abort });
      options.onPublished?.(signal, out.MessageId ?? '');
    } catch (error) {
      throw toRemoteError('sns:Publish', error);
    }
  };
}
