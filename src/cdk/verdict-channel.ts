/**
 * The verdict channel (detection `probe`): an SQS queue that only the observers may write, taken by
 * the healer in batches like the evidence queue (./intake.ts). Nothing else rides it: no alarms,
 * no notices. It carries OK verdicts as well as ALARM ones, so a withdrawn vote reaches the healer.
 *
 * - Its policy denies sqs:SendMessage to every principal but the observers' role and the role of
 *   the host the user names (`probe.hostRole`). An explicit Deny binds principals of the same
 *   account too, whatever their own policies allow; an Allow in the queue policy would not.
 *   `aws:PrincipalArn` is a role session's role ARN, and is absent for a service principal (which
 *   the Deny then covers as well).
 * - The observers share one role, so the channel proves a verdict came from an observer, not
 *   which one: the healer is told the deployed observers' names (AUTOHEAL_OBSERVERS) and counts
 *   only those.
 * - A verdict in its dead-letter queue is stale by the time anyone reads it (a vote counts for the
 *   quorum window): read it for the cause, and do not redrive it.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { intakeQueue, type IntakeQueue, type IntakeQueueInput } from './intake.js';

/** Creates `VerdictQueue` and `VerdictDeadLetterQueue`, taken by the healer; {@link admitOnly} closes it to all but its senders. */
export function verdictChannel(scope: Construct, input: IntakeQueueInput): IntakeQueue {
  return intakeQueue(scope, 'Verdict', input);
}

/** The channel's policy: sqs:SendMessage denied to every principal whose role is not one of `senderRoleArns`. */
export function admitOnly(channel: sqs.IQueue, senderRoleArns: readonly string[]): void {
  channel.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyObserversSend',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [channel.queueArn],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...senderRoleArns] } },
    }),
  );
}
