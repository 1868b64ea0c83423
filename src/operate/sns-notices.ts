/**
 * Notices published to an SNS topic (the stack's alert topic). Loaded on first use by the Lambda, so
 * the SNS client stays out of its init time. Thin: the client injected, the abort signal passed,
 * errors converted at the SDK boundary naming the IAM action.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { callAws } from '../aws-calls.js';
import type { NoticePublisher } from './notices.js';

export { SNSClient } from '@aws-sdk/client-sns';

/** Publishes each notice with its subject and its message attributes (String). */
export function snsNoticePublisher(client: SNSClient, topicArn: string): NoticePublisher {
  return async (notice, signal) => {
    await callAws('sns:Publish', signal, () =>
      client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: notice.subject,
          Message: notice.body,
          MessageAttributes: Object.fromEntries(Object.entries(notice.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
        }),
        { abortSignal: signal },
      ),
    );
  };
}
