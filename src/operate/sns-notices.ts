/**
 * Notices published to an SNS topic (the stack's alert topic) through the wing's SNS Publish
 * (src/aws/sns.ts: one signed Query call over the healer's Auto Scaling client, so the Lambda
 * carries no SNS client). Standard endpoint settings apply (AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL).
 */
import { publish } from '../aws/sns.js';
import type { SigningClient } from '../aws/query.js';
import type { NoticePublisher } from './notices.js';

/** Publishes each notice with its subject and its message attributes (String). */
export function snsNoticePublisher(client: SigningClient, topicArn: string): NoticePublisher {
  return async (notice, signal) => {
    await publish(client, { topicArn, subject: notice.subject, body: notice.body, attributes: notice.attributes }, signal);
  };
}
