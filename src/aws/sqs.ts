/**
 * SQS: the only place that talks to it. The bridge's calls (receive, delete, change visibility,
 * read the queue's attributes), the observers' verdicts (send) and the demo's set-up (create
 * queues, set their attributes). Every
 * batch result's `Failed[]` is returned, never ignored.
 */
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  type MessageAttributeValue,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { callAws, type CallOptions } from './call.js';
import { sqsClientSettings, type ClientOptions } from './settings.js';

export type { MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';

/** An SQS client with the standard settings; a configured endpoint wins over the queue URL's host (src/aws/settings.ts). */
export function sqsClient(options: ClientOptions = {}): SQSClient {
  return new SQSClient(sqsClientSettings(options));
}

/** The queue's attributes asked for, as SQS returns them (strings). */
export async function getQueueAttributes(client: SQSClient, queueUrl: string, names: readonly QueueAttributeName[], signal?: AbortSignal): Promise<Record<string, string>> {
  const out = await callAws('sqs:GetQueueAttributes', signal, (abortSignal) =>
    client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...names] }), { abortSignal }),
  );
  return { ...(out.Attributes ?? {}) };
}

/** One message as SQS delivered it, with every system attribute and message attribute. */
export interface SqsMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody?: string;
  /** Every system attribute as SQS sent it (ApproximateReceiveCount, SentTimestamp, …). */
  attributes: Record<string, string>;
  messageAttributes: Record<string, MessageAttributeValue>;
}

export interface ReceiveOptions {
  maxMessages: number;
  waitSeconds: number;
  visibilityTimeoutSeconds?: number;
}

/**
 * ReceiveMessage with every attribute. It waits on purpose (a long poll), so its bound is the
 * caller's (`bound`): the wait plus one attempt, not the common call bound.
 */
export async function receiveMessages(client: SQSClient, queueUrl: string, receive: ReceiveOptions, bound: Required<CallOptions>, signal?: AbortSignal): Promise<SqsMessage[]> {
  const out = await callAws(
    'sqs:ReceiveMessage',
    signal,
    (abortSignal) =>
      client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: receive.maxMessages,
          WaitTimeSeconds: receive.waitSeconds,
          ...(receive.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: receive.visibilityTimeoutSeconds } : {}),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal, requestTimeout: bound.timeoutMs },
      ),
    bound,
  );
  return (out.Messages ?? []).flatMap((m) =>
    m.MessageId && m.ReceiptHandle
      ? [
          {
            messageId: m.MessageId,
            receiptHandle: m.ReceiptHandle,
            body: m.Body ?? '',
            ...(m.MD5OfBody ? { md5OfBody: m.MD5OfBody } : {}),
            attributes: { ...(m.Attributes ?? {}) },
            messageAttributes: m.MessageAttributes ?? {},
          },
        ]
      : [],
  );
}

/** A DeleteMessageBatch entry that failed. */
export interface DeleteFailure {
  receiptHandle: string;
  code: string;
  message: string;
  /** SQS says the request was wrong (an expired receipt handle): retrying the same entry cannot help. */
  senderFault: boolean;
}

/** Deletes up to 10 messages; resolves with the entries that failed (none on full success). IAM: sqs:DeleteMessage. */
export async function deleteMessageBatch(client: SQSClient, queueUrl: string, receiptHandles: readonly string[], signal?: AbortSignal): Promise<DeleteFailure[]> {
  if (receiptHandles.length === 0) return [];
  // Batch entry ids only need to be unique within the request; receipt handles are too long.
  const entries = receiptHandles.map((handle, i) => ({ Id: `e${i}`, ReceiptHandle: handle }));
  const out = await callAws('sqs:DeleteMessage', signal, (abortSignal) =>
    client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal }),
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
    if (!answered.has(entry.Id)) failed.push({ receiptHandle: entry.ReceiptHandle, code: 'NoResult', message: 'not in the batch result', senderFault: false });
  }
  return failed;
}

export async function changeMessageVisibility(client: SQSClient, queueUrl: string, receiptHandle: string, visibilityTimeoutSeconds: number, signal?: AbortSignal): Promise<void> {
  await callAws('sqs:ChangeMessageVisibility', signal, (abortSignal) =>
    client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds }), { abortSignal }),
  );
}

/** Creates the queue (or finds it: CreateQueue is idempotent for the same attributes); resolves with its URL. */
export async function createQueue(client: SQSClient, name: string, signal?: AbortSignal): Promise<string> {
  const out = await callAws('sqs:CreateQueue', signal, (abortSignal) => client.send(new CreateQueueCommand({ QueueName: name }), { abortSignal }));
  return out.QueueUrl ?? '';
}

export async function setQueueAttributes(client: SQSClient, queueUrl: string, attributes: Partial<Record<QueueAttributeName, string>>, signal?: AbortSignal): Promise<void> {
  await callAws('sqs:SetQueueAttributes', signal, (abortSignal) => client.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: attributes }), { abortSignal }));
}

/** Whether `text` is an SQS queue URL: http(s), a host, and the account and the queue's name as its path. */
export function isQueueUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && /^\/\d{12}\/[\w-]{1,80}(\.fifo)?$/.test(url.pathname);
  } catch {
    return false;
  }
}

/** Sends one message; resolves with its MessageId. IAM: sqs:SendMessage on the queue. */
export async function sendMessage(client: SQSClient, queueUrl: string, body: string, signal?: AbortSignal): Promise<string> {
  const out = await callAws('sqs:SendMessage', signal, (abortSignal) => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }), { abortSignal }));
  return out.MessageId ?? '';
}
