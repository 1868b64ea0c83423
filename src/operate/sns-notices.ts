/**
 * Notices published to an SNS topic (the stack's alert topic) with one signed Query API call
 * (src/aws/query.ts) over the healer's Auto Scaling client: the SNS client would add ~20-30 ms to
 * the Lambda's init for a call most invocations never make. Errors are converted at the SDK
 * boundary naming the IAM action. Standard endpoint settings apply (AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL).
 */
import { callAws } from '../aws/call.js';
import { sendQuery, type SigningClient } from '../aws/query.js';
import type { NoticePublisher } from './notices.js';

/** Publishes each notice with its subject and its message attributes (String). */
export function snsNoticePublisher(client: SigningClient, topicArn: string): NoticePublisher {
  return async (notice, signal) => {
    const params: Record<string, string> = { TopicArn: topicArn, Subject: notice.subject, Message: notice.body };
    Object.entries(notice.attributes).forEach(([name, value], i) => {
      const entry = `MessageAttributes.entry.${i + 1}`;
      params[`${entry}.Name`] = name;
      params[`${entry}.Value.DataType`] = 'String';
      params[`${entry}.Value.StringValue`] = value;
    });
    await callAws('sns:Publish', signal, () => sendQuery(client, { service: 'sns', endpointId: 'SNS', action: 'Publish', version: '2010-03-31', params }, signal));
  };
}
