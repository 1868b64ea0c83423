/**
 * Where the bridge delivers messages, behind one interface: a Lambda function (Invoke), the
 * autoheal core in this process (a {@link Healer}), or any async function (tests, benchmarks).
 * A target reports an outcome per message; the bridge alone deletes, retries and releases.
 */
import { getFunction, invoke, type InvokeResult, type LambdaClient } from '../aws/lambda.js';
import { ConfigError, describeError, isRetryable } from '../errors.js';
import type { Healer } from '../healer/types.js';
import type { ReceivedMessage } from './queue.js';

/** What became of one message at the target. */
export type DeliveryOutcome =
  /** The work is done: delete the message. */
  | { messageId: string; status: 'succeeded' }
  /**
   * The work failed: leave the message for redelivery with backoff (the redrive policy dead-letters
   * it after maxReceiveCount). `retryable: false` when only a change on the operator's side (an IAM
   * permission) can make it succeed; it is still retried, and the log says what to change.
   */
  | { messageId: string; status: 'failed'; error: string; retryable?: boolean }
  /** The message can never succeed (not JSON, not an alarm): delete it, logging why. */
  | { messageId: string; status: 'rejected'; reason: string };

/** Context a target may need to build its payload. */
export interface DeliveryContext {
  queueArn: string;
  /** Aborted when the bridge gives up on the work (its delivery deadline, a forced shutdown); the outcome is then ignored. */
  signal: AbortSignal;
  /** The delivery deadline: a call that waits for the work (an Invoke) may take up to this long. */
  timeoutMs: number;
}

export interface BridgeTarget {
  /** For logs: `lambda:my-function`, `local`. */
  readonly description: string;
  /** `message`: one delivery per message; `batch`: the whole receive batch in one delivery. */
  readonly unit: 'message' | 'batch';
  /** Start-up check (the function exists); throws {@link ConfigError} with a clear message. */
  check?(signal?: AbortSignal): Promise<void>;
  /** Delivers; may throw, in which case every message of the delivery failed. */
  deliver(messages: readonly ReceivedMessage[], context: DeliveryContext): Promise<DeliveryOutcome[]>;
}

/** How the Lambda target invokes: RequestResponse waits for the result, Event only for acceptance. */
export type InvocationType = 'RequestResponse' | 'Event';
/** `body`: the message body is the event (the original sqs-to-lambda); `sqs-event`: a Lambda SQS event. */
export type PayloadFormat = 'body' | 'sqs-event';

export interface LambdaTargetOptions {
  client: LambdaClient;
  functionName: string;
  invocationType?: InvocationType;
  payload?: PayloadFormat;
}

/** The region in an ARN (`arn:aws:sqs:REGION:…`), or '' when it has none. */
function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** A record exactly as Lambda's own SQS trigger sends it. */
export function toLambdaSqsRecord(message: ReceivedMessage, queueArn: string): Record<string, unknown> {
  const messageAttributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    messageAttributes[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: value.DataType,
    };
  }
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: message.attributes,
    messageAttributes,
    md5OfBody: message.md5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: regionOf(queueArn),
  };
}

/** Reads `batchItemFailures` from a function's response; undefined when the response has none. */
function batchItemFailures(payload: Uint8Array | undefined): Set<string> | undefined {
  if (!payload || payload.length === 0) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(payload).toString('utf8')) as { batchItemFailures?: unknown };
    if (!Array.isArray(parsed?.batchItemFailures)) return undefined;
    const ids = new Set<string>();
    for (const item of parsed.batchItemFailures as Array<{ itemIdentifier?: unknown }>) {
      if (typeof item?.itemIdentifier === 'string') ids.add(item.itemIdentifier);
    }
    return ids;
  } catch {
    return undefined;
  }
}

/** Invokes a Lambda function, per message (`body`) or per batch (`sqs-event`). */
export function lambdaTarget(options: LambdaTargetOptions): BridgeTarget {
  const { client, functionName } = options;
  const invocationType = options.invocationType ?? 'RequestResponse';
  const payload = options.payload ?? 'body';

  async function deliverOne(body: string, context: DeliveryContext): Promise<{ error?: string; payload?: Uint8Array }> {
    let out: InvokeResult;
    try {
      // A RequestResponse invoke waits for the function: its bound is the delivery deadline.
      out = await invoke(client, { functionName, invocationType, payload: body }, { timeoutMs: context.timeoutMs, setBy: '--delivery-timeout-seconds' }, context.signal);
    } catch (error) {
      return { error: describeError(error) };
    }
    if (out.functionError) {
      const detail = out.payload ? Buffer.from(out.payload).toString('utf8').slice(0, 500) : '';
      return { error: `function error (${out.functionError})${detail ? `: ${detail}` : ''}` };
    }
    const expected = invocationType === 'Event' ? 202 : 200;
    if (out.statusCode !== expected) return { error: `unexpected status ${out.statusCode} from Invoke (expected ${expected})` };
    return out.payload ? { payload: out.payload } : {};
  }

  return {
    description: `lambda:${functionName}`,
    unit: payload === 'sqs-event' ? 'batch' : 'message',

    async check(signal) {
      try {
        await getFunction(client, functionName, signal);
      } catch (remote) {
        throw new ConfigError(`function "${functionName}" is not usable: ${describeError(remote)}`, { cause: remote });
      }
    },

    async deliver(messages, context) {
      if (payload === 'body') {
        const [message] = messages;
        if (!message) return [];
        // Bodies go on unchanged, as the original did; a body the function cannot take fails and
        // reaches the dead-letter queue through the redrive policy.
        const result = await deliverOne(message.body, context);
        return [
          result.error === undefined
            ? { messageId: message.messageId, status: 'succeeded' }
            : { messageId: message.messageId, status: 'failed', error: result.error },
        ];
      }
      const event = { Records: messages.map((m) => toLambdaSqsRecord(m, context.queueArn)) };
      const result = await deliverOne(JSON.stringify(event), context);
      if (result.error !== undefined) {
        const error = result.error;
        return messages.map((m) => ({ messageId: m.messageId, status: 'failed', error }));
      }
      // Lambda's own trigger honours a partial batch response; so does the bridge.
      const failures = invocationType === 'RequestResponse' ? batchItemFailures(result.payload) : undefined;
      return messages.map((m): DeliveryOutcome =>
        failures?.has(m.messageId)
          ? { messageId: m.messageId, status: 'failed', error: 'reported in batchItemFailures' }
          : { messageId: m.messageId, status: 'succeeded' },
      );
    },
  };
}

/**
 * Runs the autoheal core in this process. A message is done only when every verdict of its
 * report succeeded: a mark that failed — denied, throttled, timed out — fails the message, which
 * the queue redelivers with backoff and finally dead-letters, whether or not the failure is
 * retryable (a missing IAM permission can be added meanwhile; the log names it). A message that
 * yields no signal and was rejected (not JSON, not an alarm) can never succeed and is deleted
 * with the core's reason.
 */
export function healerTarget(healer: Healer): BridgeTarget {
  return {
    description: 'local',
    unit: 'message',
    async deliver(messages, context) {
      const outcomes: DeliveryOutcome[] = [];
      for (const message of messages) {
        const report = await healer.handle(message.body, { signal: context.signal });
        const failures = report.verdicts.filter((v) => v.error !== undefined);
        if (failures.length > 0 || report.retry || report.failedRecordIds.length > 0) {
          const errors = [...new Set(failures.map((v) => v.error as string))];
          outcomes.push({
            messageId: message.messageId,
            status: 'failed',
            error: errors.join('; ') || 'the healer asked for a retry',
            retryable: failures.every((v) => v.retryable !== false),
          });
        } else if (report.signals.length === 0 && report.lifecycle.length === 0 && report.rejected.length > 0) {
          outcomes.push({ messageId: message.messageId, status: 'rejected', reason: report.rejected.map((r) => r.reason).join('; ') });
        } else {
          outcomes.push({ messageId: message.messageId, status: 'succeeded' });
        }
      }
      return outcomes;
    },
  };
}

/** An in-process handler: resolves = success, throws = failure (retried). For tests and benchmarks. */
export function handlerTarget(
  handler: (message: ReceivedMessage, signal: AbortSignal) => Promise<void>,
  description = 'handler',
): BridgeTarget {
  return {
    description,
    unit: 'message',
    async deliver(messages, context) {
      const outcomes: DeliveryOutcome[] = [];
      for (const message of messages) {
        try {
          await handler(message, context.signal);
          outcomes.push({ messageId: message.messageId, status: 'succeeded' });
        } catch (error) {
          outcomes.push({ messageId: message.messageId, status: 'failed', error: describeError(error), retryable: isRetryable(error) });
        }
      }
      return outcomes;
    },
  };
}
