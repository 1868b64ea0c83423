/**
 * fauxqs (the npm SNS/SQS emulator) for integration tests: started in-process on a free loopback
 * port, with a topic, a queue subscribed to it, and optionally a dead-letter queue behind a
 * redrive policy; real AWS SDK v3 clients configured for it; stopped afterwards.
 *
 * fauxqs hands out queue URLs such as `http://sqs.us-east-1.127.0.0.1:PORT/000000000000/name`,
 * whose host does not resolve. The SDK sends each SQS call to the QueueUrl's host unless an
 * `endpoint` is set in code, so the clients here set it. A child process (the real CLI) gets the
 * same through {@link FauxqsFixture.env}: AWS_ENDPOINT_URL, which src/aws/settings.ts honours.
 *
 *   const q = await startFauxqs({ deadLetter: { maxReceiveCount: 3 } });
 *   try { await q.publish('{"hello":1}'); … } finally { await q.stop(); }
 *
 * or `await withFauxqs({}, async (q) => { … })`.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { startFauxqs as startServer, type FauxqsServer } from 'fauxqs';

/** Options for {@link startFauxqs}; every field has a default that keeps tests fast. */
export interface FauxqsOptions {
  /** Default `alarms`. */
  queueName?: string;
  /** Default `instance-alert`. */
  topicName?: string;
  /** The queue's VisibilityTimeout; default 5 (short, so redelivery in tests is quick). */
  visibilityTimeoutSeconds?: number;
  /** Create `${queueName}-dlq` and a RedrivePolicy with this maxReceiveCount; default none. */
  deadLetter?: { maxReceiveCount: number };
  /** Subscribe the queue with RawMessageDelivery (the body is the message, no SNS envelope); default false. */
  rawMessageDelivery?: boolean;
  /** Enable fauxqs's message spy (`fixture.server.spy`); default false. */
  messageSpies?: boolean;
  /** Default `us-east-1`. */
  region?: string;
}

/** A running fauxqs with its resources and clients. */
export interface FauxqsFixture {
  server: FauxqsServer;
  /** `http://127.0.0.1:PORT`: the endpoint every client must use. */
  endpoint: string;
  region: string;
  sqs: SQSClient;
  sns: SNSClient;
  topicArn: string;
  queueUrl: string;
  queueArn: string;
  queueName: string;
  dlqUrl?: string;
  dlqArn?: string;
  /** Environment for a child process (the real CLI) to reach this fauxqs through standard SDK settings. */
  env: Record<string, string>;
  /** Publishes to the topic; resolves with the SNS MessageId. */
  publish(message: string): Promise<string>;
  /** Sends bodies straight to the queue (batches of 10); resolves with the SQS MessageIds in order. */
  send(bodies: readonly string[], queueUrl?: string): Promise<string[]>;
  /** Visible + in flight + delayed messages, as GetQueueAttributes reports them. */
  depth(queueUrl?: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  /** Receives and hides up to 10 messages (for checking a DLQ's contents). */
  receive(queueUrl?: string, max?: number): Promise<Message[]>;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Starts fauxqs on a free loopback port and creates topic, queue, subscription (and DLQ). */
export async function startFauxqs(options: FauxqsOptions = {}): Promise<FauxqsFixture> {
  const region = options.region ?? 'us-east-1';
  const queueName = options.queueName ?? 'alarms';
  const topicName = options.topicName ?? 'instance-alert';
  const server = await startServer({
    port: 0,
    logger: false,
    host: '127.0.0.1',
    defaultRegion: region,
    ...(options.messageSpies ? { messageSpies: true } : {}),
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const sqs = new SQSClient({ region, endpoint, credentials, useQueueUrlAsEndpoint: false });
  const sns = new SNSClient({ region, endpoint, credentials });

  let dlq: { queueUrl: string; queueArn: string } | undefined;
  if (options.deadLetter) dlq = server.createQueue(`${queueName}-dlq`);
  const attributes: Record<string, string> = {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 5),
  };
  if (dlq && options.deadLetter) {
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlq.queueArn,
      maxReceiveCount: options.deadLetter.maxReceiveCount,
    });
  }
  const queue = server.createQueue(queueName, { attributes });
  const { topicArn } = server.createTopic(topicName);
  server.subscribe({
    topic: topicName,
    queue: queueName,
    ...(options.rawMessageDelivery ? { attributes: { RawMessageDelivery: 'true' } } : {}),
  });

  const fixture: FauxqsFixture = {
    server,
    endpoint,
    region,
    sqs,
    sns,
    topicArn,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    queueName,
    ...(dlq ? { dlqUrl: dlq.queueUrl, dlqArn: dlq.queueArn } : {}),
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async publish(message) {
      const out = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: message }));
      return out.MessageId ?? '';
    },
    async send(bodies, queueUrl = queue.queueUrl) {
      const ids: string[] = [];
      for (let start = 0; start < bodies.length; start += 10) {
        const chunk = bodies.slice(start, start + 10);
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((body, i) => ({ Id: `m${start + i}`, MessageBody: body })),
          }),
        );
        if (out.Failed && out.Failed.length > 0) {
          throw new Error(`SendMessageBatch failed for ${out.Failed.map((f) => `${f.Id}: ${f.Message}`).join(', ')}`);
        }
        const byId = new Map((out.Successful ?? []).map((s) => [s.Id, s.MessageId ?? '']));
        chunk.forEach((_, i) => ids.push(byId.get(`m${start + i}`) ?? ''));
      }
      return ids;
    },
    async depth(queueUrl = queue.queueUrl) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      const n = (key: string): number => Number(out.Attributes?.[key as keyof typeof out.Attributes] ?? 0);
      return {
        visible: n('ApproximateNumberOfMessages'),
        inFlight: n('ApproximateNumberOfMessagesNotVisible'),
        delayed: n('ApproximateNumberOfMessagesDelayed'),
      };
    },
    async receive(queueUrl = queue.queueUrl, max = 10) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return out.Messages ?? [];
    },
    async stop() {
      sqs.destroy();
      sns.destroy();
      await server.stop();
    },
  };
  return fixture;
}

/** Runs `fn` with a fresh fauxqs and always stops it afterwards. */
export async function withFauxqs<T>(options: FauxqsOptions, fn: (fixture: FauxqsFixture) => Promise<T>): Promise<T> {
  const fixture = await startFauxqs(options);
  try {
    return await fn(fixture);
  } finally {
    await fixture.stop();
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
