/**
 * Where the prober's signals go: the healer in this process, or an SNS topic that a CloudWatch
 * alarm would publish to (the message is the alarm JSON of toAlarmMessage, so everything behind
 * the topic — queue, bridge, Lambda — handles it exactly like a real alarm).
 */
import type { SigningClient } from '../aws/query.js';
import { publish } from '../aws/sns.js';
import { RemoteError } from '../errors.js';
import type { Healer } from '../healer/types.js';
import type { HealthSignal } from '../signals/types.js';
import { probeAlarmName, toAlarmMessage } from '../signals/alarm-message.js';
import type { ProbeSink } from './prober.js';

/**
 * Hands signals to the healer, one batch at a time: signals that arrive while a batch is being
 * handled wait and go together in the next one, so a burst (many targets failing in the same
 * instant) costs one read of the fleet per batch, not one per signal, and one call into the healer
 * at a time. The budget does not rest on it: the healer serializes decide-and-mark per group itself.
 * A retryable failure of a signal rejects its send, so the prober sends it again.
 */
export function healerSink(healer: Pick<Healer, 'handleSignals'>): ProbeSink {
  type Pending = { signal: HealthSignal; resolve: () => void; reject: (error: unknown) => void };
  let queue: Pending[] = [];
  let running = false;

  async function flush(abort: AbortSignal): Promise<void> {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        try {
          const records = await healer.handleSignals(
            batch.map((p) => p.signal),
            { signal: abort },
          );
          batch.forEach((p, i) => {
            const r = records[i];
            if (r?.error !== undefined && r.retryable === true) {
              p.reject(new RemoteError('autoheal:handleSignals', r.error, { retryable: true }));
            } else p.resolve();
          });
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      running = false;
    }
  }

  return (signal, { signal: abort }) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ signal, resolve, reject });
      if (!running) void flush(abort);
    });
}

/** Options of {@link snsSink}. */
export interface SnsSinkOptions {
  /** Any client of the process: the publish is signed with its parts (src/aws/sns.ts) and goes to the topic's region. */
  client: SigningClient;
  topicArn: string;
  /** Written into the alarm message (`AWSAccountId`, and with a region `AlarmArn`). */
  accountId?: string;
  /** Called with the SNS MessageId of each published signal. */
  onPublished?: (signal: HealthSignal, messageId: string) => void;
}

/** Publishes each signal to the topic as a CloudWatch alarm state change. */
export function snsSink(options: SnsSinkOptions): ProbeSink {
  return async (signal, { signal: abort }) => {
    const state = signal.state === 'unhealthy' ? 'ALARM' : 'OK';
    const messageId = await publish(
      options.client,
      {
        topicArn: options.topicArn,
        // CloudWatch's own subject; SNS caps subjects at 100 characters.
        subject: `${state}: "${probeAlarmName(signal.instanceId)}"`.slice(0, 100),
        body: toAlarmMessage(signal, options.accountId !== undefined ? { accountId: options.accountId } : {}),
      },
      abort,
    );
    options.onPublished?.(signal, messageId);
  };
}
