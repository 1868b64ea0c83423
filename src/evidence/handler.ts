/**
 * The evidence function: bundled by scripts/build.mjs into dist/evidence.mjs (handler
 * `evidence.handler`), started by EventBridge for each termination lifecycle action of the
 * stack's hook on the managed groups (./event.ts), doing ./capture.ts. Settings come from the
 * environment at init (AUTOHEAL_EVIDENCE_BUCKET; with quarantine `retain` also
 * AUTOHEAL_RETAIN_AT_MOST and AUTOHEAL_LEDGER_TABLE, where the retention slots are counted, and
 * AUTOHEAL_NOTICE_TOPIC_ARN, where a retained instance is announced): a
 * missing setting fails the cold start, and the hook's default result lets every termination go
 * on meanwhile.
 *
 * One Auto Scaling client: EC2 GetConsoleOutput and S3 are signed with its parts (src/aws/query.ts,
 * src/aws/s3.ts), so the bundle carries neither the EC2 nor the S3 client. DynamoDB (the slots of
 * `retain`) goes through its own client.
 *
 * It returns what it did, and throws only when completing the action failed in a way a retry may
 * fix (Lambda retries asynchronous events), so the instance is not held until the hook times out.
 */
import { autoScalingClient } from '../aws/autoscaling.js';
import { dynamoDbClient } from '../aws/dynamodb.js';
import { autohealEnv, resolveSettings } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { s3EvidenceStore } from '../operate/evidence.js';
import { snsNoticePublisher } from '../operate/sns-notices.js';
import { createEvidenceHandler } from './capture.js';
import type { RetainDeps } from './retain.js';
import { dynamoSlotStore } from './retention.js';

const settings = resolveSettings();
if (settings.evidenceBucket === undefined) throw new ConfigError(`${autohealEnv.evidenceBucket}: required by the evidence function (the stack sets it)`);
if (settings.retainAtMost !== undefined && settings.ledgerTable === undefined) {
  throw new ConfigError(`${autohealEnv.ledgerTable}: required by the evidence function with ${autohealEnv.retainAtMost} (quarantine "retain" counts retained instances there; the stack sets it)`);
}
const logger = createLogger({ component: 'evidence', level: settings.logLevel, fd: 1 });
const autoScaling = autoScalingClient();
const retain: RetainDeps | undefined =
  settings.retainAtMost !== undefined && settings.ledgerTable !== undefined
    ? { atMost: settings.retainAtMost, slots: dynamoSlotStore(dynamoDbClient(), settings.ledgerTable), ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}) }
    : undefined;

// With retain, a kept instance is announced on the stack's alert topic (AUTOHEAL_NOTICE_TOPIC_ARN), with how to release it.
const publish = retain && settings.noticeTopicArn !== undefined ? { publish: snsNoticePublisher(autoScaling, settings.noticeTopicArn) } : {};

export const handler = createEvidenceHandler({ autoScaling, store: s3EvidenceStore(autoScaling, settings.evidenceBucket), logger, ...(retain ? { retain } : {}), ...publish });
