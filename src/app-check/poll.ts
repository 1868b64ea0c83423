/**
 * One read of AWS's application status check, sent as the verdicts of the observer `aws-app-check`:
 * the named groups' InService instances (DescribeAutoScalingGroups), their application status
 * (EC2 DescribeApplicationStatus, 100 ids a call, signed with the Auto Scaling client's parts), and
 * the verdicts of the stack's check, one envelope to the verdict queue (src/signals/verdicts.ts),
 * split only at SQS's message size. A read that finds no passed or failed check sends nothing: an
 * empty envelope would say nothing the healer can count.
 */
import { describeAutoScalingGroups, type AutoScalingClient } from '../aws/autoscaling.js';
import { describeApplicationStatus } from '../aws/ec2.js';
import { sendMessage, type SQSClient } from '../aws/sqs.js';
import { verdictMessages } from '../signals/verdicts.js';
import { appCheckObserver, appCheckVerdicts } from './verdicts.js';

export interface AppCheckPollInput {
  autoscaling: AutoScalingClient;
  sqs: SQSClient;
  queueUrl: string;
  groups: readonly string[];
  /** The stack's application status check (`asc-…`). */
  checkId: string;
  /** When the read happens (the clock is the caller's). */
  now: () => Date;
  signal?: AbortSignal;
}

/** What one read did. */
export interface AppCheckPollResult {
  instances: number;
  unhealthy: string[];
  healthy: number;
  messages: number;
}

export async function pollAppCheck(input: AppCheckPollInput): Promise<AppCheckPollResult> {
  const groups = await describeAutoScalingGroups(input.autoscaling, { names: input.groups }, input.signal);
  const ids = groups.flatMap((g) => g.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.instanceId));
  // Never DescribeApplicationStatus without ids: that would describe every instance of the account.
  if (ids.length === 0) return { instances: 0, unhealthy: [], healthy: 0, messages: 0 };
  const statuses = await describeApplicationStatus(input.autoscaling, ids, input.signal);
  const sentAt = input.now().toISOString();
  const verdicts = appCheckVerdicts(statuses, input.checkId, sentAt);
  const result = { instances: ids.length, unhealthy: verdicts.filter((v) => v.state === 'unhealthy').map((v) => v.instanceId), healthy: verdicts.filter((v) => v.state === 'healthy').length, messages: 0 };
  if (verdicts.length === 0) return result;
  for (const body of verdictMessages({ observer: appCheckObserver, sentAt, verdicts })) {
    await sendMessage(input.sqs, input.queueUrl, body, input.signal);
    result.messages++;
  }
  return result;
}
