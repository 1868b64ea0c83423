/**
 * The original SNS → SQS path (`legacyQueue`): the alert topic's queue, accepting SendMessage only
 * from the topic, with a dead-letter queue; consumed by a small intake function that hands each
 * record to the healer (intakeHandlerSource says why the healer itself is not the event source),
 * or by `autoheal bridge` on a host the user runs, with its managed policy.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { intakeHandlerSource } from './cleanup-handler.js';
import type { HealerRef } from './healer.js';
import { inlineFunction } from './inline-function.js';
import type { Resolved } from './resolve.js';

export interface LegacyQueueInput {
  readonly legacy: NonNullable<Resolved['legacy']>;
  readonly healer: HealerRef;
  /** The healer's timeout: the queue's visibility timeout follows it. */
  readonly healerTimeout: Duration;
  /** The queue's only sender. */
  readonly alertTopic: sns.ITopic;
}

export function legacyQueue(scope: Construct, { legacy, healer, healerTimeout, alertTopic }: LegacyQueueInput): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const deadLetterQueue = new sqs.Queue(scope, 'LegacyDeadLetterQueue', { retentionPeriod: Duration.days(14), enforceSSL: true });
  const queue = new sqs.Queue(scope, 'LegacyQueue', {
    // Lambda's SQS trigger needs at least the function timeout; six times lets retries finish.
    visibilityTimeout: Duration.seconds(healerTimeout.toSeconds() * 6),
    retentionPeriod: Duration.days(4),
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: legacy.maxReceiveCount },
  });
  // Adds the queue policy: sqs:SendMessage from sns.amazonaws.com only with aws:SourceArn = the topic.
  alertTopic.addSubscription(new subscriptions.SqsSubscription(queue));
  if (legacy.consumer === 'lambda') {
    legacyIntake(scope, queue, healer);
  } else {
    const bridge = new iam.ManagedPolicy(scope, 'BridgePolicy', {
      description: 'autoheal bridge host: consume the legacy queue, invoke the healer',
      statements: [
        new iam.PolicyStatement({
          sid: 'ConsumeQueue',
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
          resources: [queue.queueArn],
        }),
        new iam.PolicyStatement({ sid: 'InvokeHealer', actions: ['lambda:InvokeFunction'], resources: [healer.fn.functionArn] }),
      ],
    });
    new CfnOutput(scope, 'BridgePolicyArn', { value: bridge.managedPolicyArn });
  }
  new CfnOutput(scope, 'LegacyQueueUrl', { value: queue.queueUrl });
  return { queue, deadLetterQueue };
}

/** The legacy queue's consumer: a small intake function that hands each record to the healer's asynchronous queue. */
function legacyIntake(scope: Construct, queue: sqs.IQueue, healer: HealerRef): void {
  const { fn } = inlineFunction(scope, 'LegacyIntake', {
    description: 'autoheal: hands each legacy-queue record to the healer as an asynchronous invocation',
    source: intakeHandlerSource,
    timeout: Duration.seconds(30),
    logRetention: logs.RetentionDays.ONE_MONTH,
    statements: [new iam.PolicyStatement({ sid: 'HandToHealer', actions: ['lambda:InvokeFunction'], resources: [healer.fn.functionArn] })],
    environment: { HEALER_FUNCTION: healer.fn.functionName },
  });
  fn.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
}
