/**
 * The event the evidence function is started by: Auto Scaling's "EC2 Instance-terminate Lifecycle
 * Action", delivered by EventBridge (the stack's rule matches only its own hook on the managed
 * groups). Pure: a bad event gets a reason naming the failing place, never an exception.
 *
 * Shape (https://docs.aws.amazon.com/autoscaling/ec2/userguide/automating-ec2-auto-scaling-with-eventbridge.html):
 *   { "detail-type": "EC2 Instance-terminate Lifecycle Action", "source": "aws.autoscaling",
 *     "detail": { "LifecycleActionToken", "AutoScalingGroupName", "LifecycleHookName",
 *                 "EC2InstanceId", "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING", … } }
 */
import { isEc2InstanceId } from '../signals/read.js';

export const terminateActionDetailType = 'EC2 Instance-terminate Lifecycle Action';
export const terminatingTransition = 'autoscaling:EC2_INSTANCE_TERMINATING';

/**
 * How long the stack's termination hook holds an instance at most (its heartbeat); the function
 * answers within seconds. A delivery of the same action cannot come later than this.
 */
export const evidenceHeartbeatSeconds = 60;

/** One termination lifecycle action waiting for its answer. */
export interface TerminateAction {
  groupName: string;
  hookName: string;
  instanceId: string;
  token?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** The termination action of an event, or why the event is not one. */
export function parseTerminateAction(event: unknown): { ok: true; action: TerminateAction } | { ok: false; reason: string } {
  if (!isObject(event)) return { ok: false, reason: 'event: not a JSON object' };
  if (event.source !== 'aws.autoscaling') return { ok: false, reason: `source: expected "aws.autoscaling", got ${JSON.stringify(event.source) ?? 'nothing'}` };
  if (event['detail-type'] !== terminateActionDetailType) return { ok: false, reason: `detail-type: expected "${terminateActionDetailType}", got ${JSON.stringify(event['detail-type']) ?? 'nothing'}` };
  const d = event.detail;
  if (!isObject(d)) return { ok: false, reason: 'detail: not an object' };
  if (d.LifecycleTransition !== terminatingTransition) return { ok: false, reason: `detail.LifecycleTransition: expected "${terminatingTransition}"` };
  if (!nonEmpty(d.AutoScalingGroupName)) return { ok: false, reason: 'detail.AutoScalingGroupName: missing' };
  if (!nonEmpty(d.LifecycleHookName)) return { ok: false, reason: 'detail.LifecycleHookName: missing' };
  if (!nonEmpty(d.EC2InstanceId) || !isEc2InstanceId(d.EC2InstanceId)) return { ok: false, reason: 'detail.EC2InstanceId: not an EC2 instance id' };
  return {
    ok: true,
    action: {
      groupName: d.AutoScalingGroupName,
      hookName: d.LifecycleHookName,
      instanceId: d.EC2InstanceId,
      ...(nonEmpty(d.LifecycleActionToken) ? { token: d.LifecycleActionToken } : {}),
    },
  };
}
