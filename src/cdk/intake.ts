/**
 * How the healer takes its evidence: from SQS queues, in batches, through Lambda event source
 * mappings with partial batch responses. One builder for every queue the healer consumes (the
 * evidence queue, the verdict channel, the legacy queue's settings follow the same rules):
 *
 * - a visibility timeout of six times the healer's timeout, AWS's guidance for a queue a Lambda
 *   function consumes (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html):
 *   room for Lambda to retry a batch whose invocation was throttled;
 * - a dead-letter queue after `maxReceiveCount` receives (10 by default, above the 5 AWS advises):
 *   a throttled or failed receive counts, and a backlog must never push good evidence aside;
 * - 14 days of retention, SQS's most: a backlog never drops an event;
 * - `MaximumConcurrency` on the mapping instead of reserved concurrency: it bounds each queue's
 *   share of the account and reserves nothing, so a deploy works in an account whose concurrency
 *   quota is 10;
 * - `ReportBatchItemFailures`: the handler answers `batchItemFailures`, so only the records whose
 *   work failed come back.
 *
 * The EventBridge rules deliver to the evidence queue (./alarm-detection.ts) through
 * {@link evidenceTarget}: retried, then dead-lettered into the failure queue; the queue policy
 * that lets a rule send is scoped to that rule's ARN.
 */
import { Duration } from 'aws-cdk-lib';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { HealerRef } from './healer.js';
import type { IntakeResolved } from './resolve.js';

/** A queue the healer consumes, and where what it could not handle waits. */
export interface IntakeQueue {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

export interface IntakeQueueInput {
  readonly healer: HealerRef;
  readonly intake: IntakeResolved;
  /** The healer's timeout: the visibility timeout follows it. */
  readonly healerTimeout: Duration;
}

const retention = Duration.days(14);

/** Creates `${id}Queue` and `${id}DeadLetterQueue`, and the healer's event source mapping on the queue. */
export function intakeQueue(scope: Construct, id: string, { healer, intake, healerTimeout }: IntakeQueueInput): IntakeQueue {
  const deadLetterQueue = new sqs.Queue(scope, `${id}DeadLetterQueue`, { retentionPeriod: retention, enforceSSL: true });
  const queue = new sqs.Queue(scope, `${id}Queue`, {
    visibilityTimeout: Duration.seconds(healerTimeout.toSeconds() * 6),
    retentionPeriod: retention,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: intake.maxReceiveCount },
  });
  healer.fn.addEventSource(
    new SqsEventSource(queue, {
      batchSize: intake.batchSize,
      maxBatchingWindow: intake.batchingWindow,
      reportBatchItemFailures: true,
      maxConcurrency: intake.maxConcurrency,
    }),
  );
  return { queue, deadLetterQueue };
}

/** The evidence queue as a rule target: delivery retried for an hour, then dead-lettered into the failure queue. */
export function evidenceTarget(evidence: sqs.IQueue, failureQueue: sqs.IQueue): targets.SqsQueue {
  return new targets.SqsQueue(evidence, { retryAttempts: 8, maxEventAge: Duration.hours(1), deadLetterQueue: failureQueue });
}
