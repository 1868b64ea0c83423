/**
 * SNS: Publish (an observer's verdicts, the healer's notices) and, for the demo's emulator,
 * CreateTopic and Subscribe. Every call is one signed Query call (./query.ts) with the parts of a
 * client the process already has, so neither Lambda bundle that publishes carries the SNS client
 * (~20-30 ms of init). A publish goes to its topic's region, read from the ARN, whatever the
 * signing client's region. {@link snsClient} is only for an emulator given in code (the demo):
 * a client of SNS is the one whose own endpoint a call honours.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { callAws } from './call.js';
import { sendQuery, xmlNode as node, xmlText as text, type SigningClient } from './query.js';
import { clientSettings, type ClientOptions } from './settings.js';

const apiVersion = '2010-03-31';

/** A standard topic's ARN: partition, region, account and name (what `--publish` and the observers take). */
const topicArnShape = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$/;

/** The parts of a topic ARN, or undefined when it is not one. */
export function parseTopicArn(arn: string): { region: string; accountId: string; name: string } | undefined {
  const match = topicArnShape.exec(arn);
  return match ? { region: match[1] as string, accountId: match[2] as string, name: match[3] as string } : undefined;
}

/** An SNS client for an emulator set in code (`endpoint`, `credentials`); see the file comment. */
export function snsClient(options: ClientOptions = {}): SNSClient {
  return new SNSClient(clientSettings(options));
}

/** One message to publish. */
export interface SnsMessage {
  topicArn: string;
  /** At most 100 characters (SNS's limit). */
  subject?: string;
  body: string;
  /** String message attributes. */
  attributes?: Record<string, string>;
}

/** Publishes the message; resolves with SNS's MessageId. */
export async function publish(client: SigningClient, message: SnsMessage, signal?: AbortSignal): Promise<string> {
  const params: Record<string, string> = { TopicArn: message.topicArn, Message: message.body };
  if (message.subject !== undefined) params.Subject = message.subject;
  Object.entries(message.attributes ?? {}).forEach(([name, value], i) => {
    const entry = `MessageAttributes.entry.${i + 1}`;
    params[`${entry}.Name`] = name;
    params[`${entry}.Value.DataType`] = 'String';
    params[`${entry}.Value.StringValue`] = value;
  });
  const region = parseTopicArn(message.topicArn)?.region;
  const body = await callAws('sns:Publish', signal, (abortSignal) =>
    sendQuery(client, { service: 'sns', serviceId: 'SNS', action: 'Publish', version: apiVersion, params, ...(region ? { region } : {}) }, abortSignal),
  );
  return text(node(node(node(body, 'PublishResponse'), 'PublishResult'), 'MessageId')) ?? '';
}

/** Creates the topic (or finds it: CreateTopic is idempotent); resolves with its ARN. */
export async function createTopic(client: SigningClient, name: string, signal?: AbortSignal): Promise<string> {
  const body = await callAws('sns:CreateTopic', signal, (abortSignal) =>
    sendQuery(client, { service: 'sns', serviceId: 'SNS', action: 'CreateTopic', version: apiVersion, params: { Name: name } }, abortSignal),
  );
  return text(node(node(node(body, 'CreateTopicResponse'), 'CreateTopicResult'), 'TopicArn')) ?? '';
}

/** Subscribes an endpoint (an SQS queue's ARN) to the topic; resolves with the subscription's ARN. */
export async function subscribe(client: SigningClient, subscription: { topicArn: string; protocol: string; endpoint: string }, signal?: AbortSignal): Promise<string> {
  const region = parseTopicArn(subscription.topicArn)?.region;
  const params = { TopicArn: subscription.topicArn, Protocol: subscription.protocol, Endpoint: subscription.endpoint };
  const body = await callAws('sns:Subscribe', signal, (abortSignal) =>
    sendQuery(client, { service: 'sns', serviceId: 'SNS', action: 'Subscribe', version: apiVersion, params, ...(region ? { region } : {}) }, abortSignal),
  );
  return text(node(node(node(body, 'SubscribeResponse'), 'SubscribeResult'), 'SubscriptionArn')) ?? '';
}
