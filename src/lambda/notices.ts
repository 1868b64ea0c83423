/**
 * The Lambda's notifier: notices to AUTOHEAL_NOTICE_TOPIC_ARN, published with the healer's Auto
 * Scaling client's parts (no SNS client in the bundle: src/aws/sns.ts).
 */
import type { SigningClient } from '../aws/query.js';
import type { Logger } from '../log.js';
import { createNotifier, type NoticePublisher, type Notifier } from '../operate/notices.js';
import { snsNoticePublisher } from '../operate/sns-notices.js';

/** The notifier of the Lambda, or undefined without a topic (and without an injected publisher). */
export function lambdaNotifier(
  topicArn: string | undefined,
  client: SigningClient,
  logger: Logger,
  publish?: NoticePublisher,
  evidenceBucket?: string,
): Notifier | undefined {
  const evidence = evidenceBucket ? { evidenceBucket } : {};
  if (publish !== undefined) return createNotifier({ publish, logger, ...evidence });
  if (topicArn === undefined) return undefined;
  return createNotifier({ publish: snsNoticePublisher(client, topicArn), logger, ...evidence });
}
