/**
 * The bridge's port to its queue, and the SQS adapter behind it: every call through the wing
 * (src/aws/sqs.ts: an abort signal on every call, errors converted, every batch result's `Failed[]`
 * returned to the caller rather than ignored); this maps SQS's answers to the port's shapes.
 */
import {
  changeMessageVisibility,
  deleteMessageBatch,
  getQueueAttributes,
  receiveMessages,
  type DeleteFailure,
  type SQSClient,
  type SqsMessage,
} from '../aws/sqs.js';
import { awsTimeoutEnv, awsTimeouts, type AwsTimeouts } from '../aws/settings.js';

export type { DeleteFailure } from '../aws/sqs.js';

/** One received message (as SQS delivered it), with the system attributes the bridge uses read out. */
export interface ReceivedMessage extends SqsMessage {
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** SentTimestamp, milliseconds since the epoch, when SQS reported it. */
  sentAtMs?: number;
}

/** The queue's settings that matter to the bridge. */
export interface QueueInfo {
  queueArn: string;
  visibilityTimeoutSeconds: number;
  /** Where poison messages go; absent when the queue has no redrive policy. */
  redrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
}

export interface ReceiveRequest {
  maxMessages: number;
  waitSeconds: number;
  visibilityTimeoutSeconds?: number;
}

/** What the bridge needs from a queue. {@link SqsQueue} implements it; tests may fake it. */
export interface QueuePort {
  readonly url: string;
  describe(signal?: AbortSignal): Promise<QueueInfo>;
  receive(request: ReceiveRequest, signal?: AbortSignal): Promise<ReceivedMessage[]>;
  /** Deletes up to 10 messages; resolves with the entries that failed (none on full success). */
  deleteBatch(receiptHandles: readonly string[], signal?: AbortSignal): Promise<DeleteFailure[]>;
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The SQS adapter of {@link QueuePort}. Every call has the common AWS bound (callAws) but
 * ReceiveMessage, which waits on purpose: one attempt of WaitTimeSeconds plus
 * AUTOHEAL_AWS_TIMEOUT_MS; the bridge retries a failed receive with its own backoff.
 */
export class SqsQueue implements QueuePort {
  constructor(
    private readonly client: SQSClient,
    readonly url: string,
    private readonly timeouts: AwsTimeouts = awsTimeouts(),
  ) {}

  async describe(signal?: AbortSignal): Promise<QueueInfo> {
    const attributes = await getQueueAttributes(this.client, this.url, ['QueueArn', 'VisibilityTimeout', 'RedrivePolicy'], signal);
    const info: QueueInfo = {
      queueArn: attributes.QueueArn ?? '',
      visibilityTimeoutSeconds: Number(attributes.VisibilityTimeout ?? 30),
    };
    const redrive = parseRedrivePolicy(attributes.RedrivePolicy);
    if (redrive) info.redrivePolicy = redrive;
    return info;
  }

  async receive(request: ReceiveRequest, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    const bound = { timeoutMs: request.waitSeconds * 1000 + this.timeouts.attemptTimeoutMs, setBy: `--wait-seconds + ${awsTimeoutEnv}` };
    const messages = await receiveMessages(this.client, this.url, request, bound, signal);
    return messages.map((m) => {
      const sent = Number(m.attributes.SentTimestamp);
      return {
        ...m,
        receiveCount: Number(m.attributes.ApproximateReceiveCount ?? 1) || 1,
        ...(Number.isFinite(sent) && sent > 0 ? { sentAtMs: sent } : {}),
      };
    });
  }

  deleteBatch(receiptHandles: readonly string[], signal?: AbortSignal): Promise<DeleteFailure[]> {
    return deleteMessageBatch(this.client, this.url, receiptHandles, signal);
  }

  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    return changeMessageVisibility(this.client, this.url, receiptHandle, visibilityTimeoutSeconds, signal);
  }
}

function parseRedrivePolicy(text: string | undefined): QueueInfo['redrivePolicy'] {
  if (!text) return undefined;
  try {
    const policy = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    if (typeof policy.deadLetterTargetArn !== 'string') return undefined;
    return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: Number(policy.maxReceiveCount) };
  } catch {
    return undefined;
  }
}
