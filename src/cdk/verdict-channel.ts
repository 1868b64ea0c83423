/**
 * The verdict channel (detection `probe`): an SQS queue that only the observers may write, taken by
 * the healer in batches like the evidence queue (./intake.ts). Nothing else rides it: no alarms,
 * no notices.
 *
 * - Its policy denies sqs:SendMessage to every principal but the observers' roles and the roles
 *   of the hosts the user names (`probe.hosts`). An explicit Deny binds principals of the same
 *   account too, whatever their own policies allow; an Allow in the queue policy would not.
 *   `aws:PrincipalArn` is a role session's role ARN, and is absent for a service principal (which
 *   the Deny then covers as well).
 * - Each observer has a role of its own, so a message's SenderId (`AROA…:session`, the role's
 *   unique id) proves which observer sent it. The healer is told every voter with its role's
 *   unique id in AUTOHEAL_OBSERVERS (`name=AROA…,name2=AROA…`) and counts a vote for the observer
 *   the channel proves, not for the name in the body.
 * - A verdict in its dead-letter queue is stale by the time anyone reads it (a vote counts for the
 *   quorum window): read it for the cause, and do not redrive it (the channel would refuse it).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { intakeQueue, type IntakeQueue, type IntakeQueueInput } from './intake.js';

/** A voter as the channel knows it: the observer name the healer counts, its role and the role's unique id. */
export interface VerdictSender {
  readonly name: string;
  readonly roleArn: string;
  readonly roleId: string;
}

/** Creates `VerdictQueue` and `VerdictDeadLetterQueue`, taken by the healer; {@link admitOnly} closes it to all but its senders. */
export function verdictChannel(scope: Construct, input: IntakeQueueInput): IntakeQueue {
  return intakeQueue(scope, 'Verdict', input);
}

/** The channel's policy: sqs:SendMessage denied to every principal whose role is not one of `senders`. */
export function admitOnly(channel: sqs.IQueue, senders: readonly VerdictSender[]): void {
  channel.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyObserversSend',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [channel.queueArn],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': senders.map((s) => s.roleArn) } },
    }),
  );
}

/** AUTOHEAL_OBSERVERS: every voter's name with its role's unique id, `name=AROA…,name2=AROA…`. */
export function observersValue(senders: readonly VerdictSender[]): string {
  return senders.map((s) => `${s.name}=${s.roleId}`).join(',');
}
