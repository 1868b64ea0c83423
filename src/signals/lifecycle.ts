import type { Collector, Place } from './context.js';
import { isEc2InstanceId, isoTime, notAnInstanceId, quote, str } from './read.js';
import type { LifecycleSignal } from './types.js';

const notificationChanges: Readonly<Record<string, LifecycleSignal['change']>> = {
  'autoscaling:EC2_INSTANCE_LAUNCH': 'launched',
  'autoscaling:EC2_INSTANCE_TERMINATE': 'terminated',
};

const eventBridgeChanges: Readonly<Record<string, LifecycleSignal['change']>> = {
  'EC2 Instance Launch Successful': 'launched',
  'EC2 Instance Terminate Successful': 'terminated',
};

function emit(
  col: Collector,
  at: Place,
  fields: { instanceId: string | undefined; groupName: string | undefined; change: LifecycleSignal['change']; time: string | undefined; timeField: string; eventId: string | undefined },
  prefix: string,
): void {
  if (fields.instanceId === undefined) return col.reject(at, `${prefix}EC2InstanceId`, 'missing');
  if (!isEc2InstanceId(fields.instanceId)) return col.reject(at, `${prefix}EC2InstanceId`, notAnInstanceId(fields.instanceId));
  if (fields.groupName === undefined) return col.reject(at, `${prefix}AutoScalingGroupName`, 'missing');
  const observedAt = isoTime(fields.time) ?? at.envelopeTime;
  if (observedAt === undefined) return col.reject(at, fields.timeField, 'not an ISO 8601 timestamp');
  col.lifecycle(at, {
    instanceId: fields.instanceId,
    groupName: fields.groupName,
    change: fields.change,
    observedAt,
    eventId: fields.eventId ?? `${fields.groupName}:${fields.change}:${fields.instanceId}@${observedAt}`,
  });
}

/**
 * The Auto Scaling notification SNS publishes for a group's notification configuration
 * (`Event: autoscaling:EC2_INSTANCE_LAUNCH`, `EC2InstanceId`, `AutoScalingGroupName`, `Time`).
 */
export function autoScalingNotification(col: Collector, at: Place, msg: Record<string, unknown>, event: string): void {
  const change = Object.hasOwn(notificationChanges, event) ? notificationChanges[event] : undefined;
  if (change === undefined) {
    col.reject(at, 'Event', event === 'autoscaling:TEST_NOTIFICATION' ? `${event}, no action` : `${quote(event)} is not a launch or terminate, no action`);
    return;
  }
  const time = str(msg, 'Time') ?? str(msg, 'EndTime');
  emit(col, at, { instanceId: str(msg, 'EC2InstanceId'), groupName: str(msg, 'AutoScalingGroupName'), change, time, timeField: 'Time', eventId: at.envelopeId }, '');
}

/** EventBridge "EC2 Instance Launch Successful" / "EC2 Instance Terminate Successful" (source aws.autoscaling). */
export function autoScalingEvent(
  col: Collector,
  at: Place,
  detailType: string,
  detail: Record<string, unknown> | undefined,
  envelope: { id: string | undefined; time: string | undefined },
): boolean {
  const change = Object.hasOwn(eventBridgeChanges, detailType) ? eventBridgeChanges[detailType] : undefined;
  if (change === undefined) return false;
  if (detail === undefined) {
    col.reject(at, 'detail', 'missing');
    return true;
  }
  const time = isoTime(envelope.time) === undefined ? (str(detail, 'EndTime') ?? envelope.time) : envelope.time;
  emit(
    col,
    at,
    { instanceId: str(detail, 'EC2InstanceId'), groupName: str(detail, 'AutoScalingGroupName'), change, time, timeField: 'time', eventId: envelope.id ?? at.envelopeId },
    'detail.',
  );
  return true;
}
