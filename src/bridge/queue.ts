/**
 * The bridge's port to its queue, and the thin SQS adapter behind it: an injected client, an
 * abort signal on every call, errors converted by callAws (the one SDK boundary), and every batch
 * result's `Failed[]` returned to the caller rather than ignored.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { callAws } from '../aws/call.js';
import { awsTimeoutEnv, awsTimeouts, type AwsTimeouts } from '../aws/settings.js';

/** One received message, with the system attributes the bridge uses. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** SentTimestamp, milliseconds since the epoch, when SQS reported it. */
  sentAtMs?: number;
  md5OfBody?: string;
  /** Every system attribute as SQS sent it (ApproximateReceiveCount, SentTimestamp, …). */
  attributes: Record<string, string>;
  messageAttributes: Record<string, MessageAttributeValue>;
}

/** The queue's settings that matter to the bridge. */
export interface QueueInfo {
  queueArn: string;
  visibilityTimeoutSeconds: number;
  /** Where poison messages go; absent when the queue has no redrive policy. */
  redrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
}

/** A DeleteMessageBatch entry that failed. */
export interface DeleteFailure {
  receiptHandle: string;
  code: string;
  message: string;
  /** SQS says the request was wrong (an expired receipt handle): retrying the same entry cannot help. */
  senderFault: boolean;
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
    const out = await callAws('sqs:GetQueueAttributes', signal, (abortSignal) =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.url,
          AttributeNames: ['QueueArn', 'VisibilityTimeout', 'RedrivePolicy'],
        }),
        { abortSignal },
      ),
    );
    const attributes = out.Attributes ?? {};
    const info: QueueInfo = {
      queueArn: attributes.QueueArn ?? '',
      visibilityTimeoutSeconds: Number(attributes.VisibilityTimeout ?? 30),
    };
    const redrive = parseRedrivePolicy(attributes.RedrivePolicy);
    if (redrive) info.redrivePolicy = redrive;
    return info;
  }

  async receive(request: ReceiveRequest, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    const timeoutMs = request.waitSeconds * 1000 + this.timeouts.attemptTimeoutMs;
    const out = await callAws(
      'sqs:ReceiveMessage',
      signal,
      (abortSignal) =>
        this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.url,
            MaxNumberOfMessages: request.maxMessages,
            WaitTimeSeconds: request.waitSeconds,
            ...(request.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: request.visibilityTimeoutSeconds } : {}),
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal, requestTimeout: timeoutMs },
        ),
      { timeoutMs, setBy: `--wait-seconds + ${awsTimeoutEnv}` },
    );
    return (out.Messages ?? []).flatMap((m) => {
      if (!m.MessageId || !m.ReceiptHandle) return [];
      const attributes: Record<string, string> = { ...(m.Attributes ?? {}) };
      const sent = Number(attributes.SentTimestamp);
      const message: ReceivedMessage = {
        messageId: m.MessageId,
        receiptHandle: m.ReceiptHandle,
        body: m.Body ?? '',
        receiveCount: Number(attributes.ApproximateReceiveCount ?? 1) || 1,
        attributes,
        messageAttributes: m.MessageAttributes ?? {},
      };
      if (Number.isFinite(sent) && sent > 0) message.sentAtMs = sent;
      if (m.MD5OfBody) message.md5OfBody = m.MD5OfBody;
      return [message];
    });
  }

  async deleteBatch(receiptHandles: readonly string[], signal?: AbortSignal): Promise<DeleteFailure[]> {
    if (receiptHandles.length === 0) return [];
    // Batch entry ids only need to be unique within the request; receipt handles are too long.
    const entries = receiptHandles.map((handle, i) => ({ Id: `e${i}`, ReceiptHandle: handle }));
    const out = await callAws('sqs:DeleteMessage', signal, (abortSignal) =>
      this.client.send(new DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: entries }), { abortSignal }),
    );
    const failed: DeleteFailure[] = (out.Failed ?? []).map((f) => ({
      receiptHandle: entries.find((e) => e.Id === f.Id)?.ReceiptHandle ?? '',
      code: f.Code ?? 'Unknown',
      message: f.Message ?? '',
      senderFault: f.SenderFault ?? false,
    }));
    // An entry in neither list was not confirmed deleted: treat it as failed (retryable).
    const answered = new Set([...(out.Successful ?? []).map((s) => s.Id), ...(out.Failed ?? []).map((f) => f.Id)]);
    for (const entry of entries) {
      if (!answered.has(entry.Id)) {
        failed.push({ receiptHandle: entry.ReceiptHandle, code: 'NoResult', message: 'not in the batch result', senderFault: false });
      }
    }
    return failed;
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    await callAws('sqs:ChangeMessageVisibility', signal, (abortSignal) =>
      this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: visibilityTimeoutSeconds,
        }),
        { abortSignal },
      ),
    );
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
