/**
 * The Lambda's notifier: notices to AUTOHEAL_NOTICE_TOPIC_ARN, with the SNS client imported on the
 * first notice only (most invocations send none), so it stays out of the function's init time.
 */
import { awsClientSettings } from '../aws-config.js';
import type { Logger } from '../log.js';
import { createNotifier, type NoticePublisher, type Notifier } from '../operate/notices.js';

/** A publisher that loads the SNS client on first use; a failed load is not cached. */
export function lazySnsPublisher(topicArn: string): NoticePublisher {
  let loading: Promise<NoticePublisher> | undefined;
  return async (notice, signal) => {
    loading ??= import('../operate/sns-notices.js').then((m) => m.snsNoticePublisher(new m.SNSClient(awsClientSettings()), topicArn));
    loading.catch(() => (loading = undefined));
    await (await loading)(notice, signal);
  };
}

/** The notifier of the Lambda, or undefined without a topic. */
export function lambdaNotifier(topicArn: string | undefined, logger: Logger, publish?: NoticePublisher): Notifier | undefined {
  if (topicArn === undefined && publish === undefined) return undefined;
  return createNotifier({ publish: publish ?? lazySnsPublisher(topicArn as string), logger });
}
