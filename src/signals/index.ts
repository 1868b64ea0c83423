/**
 * signals: every way evidence about an instance reaches autoheal, turned into plain
 * {@link HealthSignal}s. Pure: no AWS SDK, no I/O, no clock. `parseEvent` never throws; what
 * it cannot use comes back in `rejected` with a reason that names the failing place.
 */
import { alarmData, alarmMessage } from './alarm.js';
import { Collector, inside, maxDepth, type Place } from './context.js';
import { decodeLegacy, isLegacyEscaped } from './legacy.js';
import { autoScalingEvent, autoScalingNotification } from './lifecycle.js';
import { arr, has, isoTime, isRecord, kindOf, quote, rec, regionFromArn, str } from './read.js';
import type { ParseResult } from './types.js';
import { isVerdictEnvelope, verdictEnvelope } from './verdicts.js';

export type { HealthSignal, HealthState, InstanceIdOrigin, LifecycleSignal, ObserverReport, ParseResult, Rejection, SignalSource } from './types.js';
export { verdictEntryOf, verdictMessages, type UnreachableEntry, type VerdictBatch, type VerdictEntry } from './verdicts.js';
export { probeSignal, type ProbeObservation } from './probe.js';
export { toAlarmMessage, probeAlarmName, type AlarmMessageOptions } from './alarm-message.js';

/**
 * Turns one input into signals: an event object as Lambda passes it, or a message body as
 * text (SQS body, SNS envelope, raw alarm JSON, the 2014 `!!` form). Never throws.
 */
export function parseEvent(input: unknown): ParseResult {
  const col = new Collector();
  const at: Place = { path: '', depth: 0 };
  try {
    dispatch(col, at, input);
  } catch (error) {
    // Unreachable by design (every reader is total); kept so a bug cannot break the contract.
    col.reject(at, '', `internal error: ${error instanceof Error ? error.message : 'unknown'}`);
  }
  return col.result;
}

/** JSON text to a value, or a rejection. Legacy `!!` text is decoded first. */
function parseText(col: Collector, at: Place, text: string): { value: unknown; legacy: boolean } | undefined {
  if (text.trim() === '') {
    col.reject(at, '', 'empty');
    return undefined;
  }
  const legacy = isLegacyEscaped(text);
  try {
    return { value: JSON.parse(legacy ? decodeLegacy(text) : text), legacy };
  } catch {
    col.reject(at, '', legacy ? 'not JSON after undoing the legacy !! escaping' : 'not JSON');
    return undefined;
  }
}

function dispatch(col: Collector, at: Place, input: unknown): void {
  if (at.depth > maxDepth) {
    col.reject(at, '', `more than ${maxDepth} envelopes deep`);
    return;
  }
  let value = input;
  if (typeof value === 'string') {
    const parsed = parseText(col, at, value);
    if (parsed === undefined) return;
    value = parsed.value;
    if (parsed.legacy) at = { ...at, legacy: true };
  }
  if (!isRecord(value)) {
    col.reject(at, '', `expected an event object, got ${kindOf(value)}`);
    return;
  }
  const event = value;
  const records = arr(event, 'Records');
  if (records !== undefined) return eachRecord(col, at, records);
  if (has(event, 'Message') && (str(event, 'Type') !== undefined || has(event, 'MessageId') || has(event, 'TopicArn'))) {
    return snsEnvelope(col, at, event);
  }
  if (has(event, 'Body') && (has(event, 'ReceiptHandle') || has(event, 'MessageId'))) return sqsMessage(col, at, event, 'MessageId', 'Body');
  const messages = arr(event, 'Messages');
  if (messages !== undefined) return eachMessage(col, at, messages);
  if (has(event, 'AlarmName')) return alarmMessage(col, at, event);
  if (isVerdictEnvelope(event)) return verdictEnvelope(col, at, event);
  const asgEvent = str(event, 'Event');
  if (asgEvent !== undefined && asgEvent.startsWith('autoscaling:')) return autoScalingNotification(col, at, event, asgEvent);
  const detailType = str(event, 'detail-type');
  if (detailType !== undefined) return eventBridge(col, at, event, detailType);
  if (has(event, 'alarmData')) return alarmAction(col, at, event);
  const keys = Object.keys(event).slice(0, 6).map((key) => quote(key, 30));
  col.reject(at, '', keys.length === 0 ? 'empty object, not an event' : `not an event autoheal knows (keys ${keys.join(', ')})`);
}

/** Lambda event `Records[]`: SNS records (`Sns`) or SQS records (`body`, `messageId`). */
function eachRecord(col: Collector, at: Place, records: unknown[]): void {
  if (records.length === 0) {
    col.reject(at, 'Records', 'empty');
    return;
  }
  records.forEach((record, index) => {
    const here = `Records[${index}]`;
    if (!isRecord(record)) {
      col.reject(at, here, `expected a record object, got ${kindOf(record)}`);
      return;
    }
    const sns = rec(record, 'Sns');
    if (sns !== undefined) return snsEnvelope(col, inside(at, `${here}.Sns`), sns);
    if (has(record, 'body') || record.eventSource === 'aws:sqs') return sqsMessage(col, inside(at, here, { depth: at.depth }), record, 'messageId', 'body');
    col.reject(at, here, 'neither an SNS record (Sns) nor an SQS record (body)');
  });
}

/** SDK ReceiveMessage output: `Messages[]`. */
function eachMessage(col: Collector, at: Place, messages: unknown[]): void {
  if (messages.length === 0) {
    col.reject(at, 'Messages', 'empty');
    return;
  }
  messages.forEach((message, index) => {
    const here = `Messages[${index}]`;
    if (!isRecord(message)) col.reject(at, here, `expected a message object, got ${kindOf(message)}`);
    else sqsMessage(col, inside(at, here, { depth: at.depth }), message, 'MessageId', 'Body');
  });
}

/**
 * One SQS message (Lambda record or SDK message): its body is an SNS envelope, a raw alarm, an
 * EventBridge event or a verdict envelope. Its SenderId (the Lambda record's `attributes`, the
 * SDK's `Attributes`) goes with what it carries, as the channel's word on who sent it.
 */
function sqsMessage(col: Collector, at: Place, message: Record<string, unknown>, idKey: string, bodyKey: string): void {
  const messageId = str(message, idKey);
  const here: Place = messageId === undefined ? { ...at } : { ...at, recordId: messageId, envelopeId: messageId };
  const attributes = rec(message, idKey === 'messageId' ? 'attributes' : 'Attributes');
  const sender = attributes === undefined ? undefined : str(attributes, 'SenderId');
  // A role's unique id and session name (AROA…:name), a user's id, an account: never more than this.
  if (sender !== undefined && /^[\w+=,.@:-]{1,256}$/.test(sender)) here.sender = sender;
  const body = message[bodyKey];
  if (typeof body !== 'string') {
    col.reject(here, bodyKey, body === undefined ? 'missing' : `expected a string, got ${kindOf(body)}`);
    return;
  }
  dispatch(col, inside(here, bodyKey), body);
}

/** An SNS notification: the envelope SNS delivers to SQS, or the `Sns` of a Lambda SNS record. */
function snsEnvelope(col: Collector, at: Place, envelope: Record<string, unknown>): void {
  const type = str(envelope, 'Type');
  if (type !== undefined && type !== 'Notification') {
    col.reject(at, 'Type', `${quote(type)} is not a Notification, no action`);
    return;
  }
  const messageId = str(envelope, 'MessageId');
  const time = isoTime(envelope.Timestamp);
  const here = inside(at, 'Message');
  if (messageId !== undefined) here.envelopeId = messageId;
  if (time !== undefined) here.envelopeTime = time;
  const message = envelope.Message;
  if (typeof message === 'string') {
    const parsed = parseText(col, here, message);
    if (parsed === undefined) return;
    if (parsed.legacy) here.legacy = true;
    dispatch(col, here, parsed.value);
  } else if (isRecord(message)) {
    dispatch(col, here, message);
  } else {
    col.reject(at, 'Message', message === undefined ? 'missing' : `expected a string, got ${kindOf(message)}`);
  }
}

/** An EventBridge event: alarm state changes and Auto Scaling launches/terminations are used. */
function eventBridge(col: Collector, at: Place, event: Record<string, unknown>, detailType: string): void {
  const source = str(event, 'source') ?? '';
  const detail = rec(event, 'detail');
  const id = str(event, 'id');
  if (source === 'aws.cloudwatch' && (detailType === 'CloudWatch Alarm State Change' || detailType === 'CloudWatch Alarm Contributor State Change')) {
    if (detail === undefined) {
      col.reject(at, 'detail', 'missing');
      return;
    }
    const resources = arr(event, 'resources');
    const arn = resources !== undefined && typeof resources[0] === 'string' ? resources[0] : undefined;
    const region = regionFromArn(arn) ?? str(event, 'region');
    alarmData(col, inside(at, 'detail', { depth: at.depth }), detail, { eventId: id ?? at.envelopeId, time: event.time, region, source: 'eventbridge-alarm' });
    return;
  }
  if (source === 'aws.autoscaling' && autoScalingEvent(col, at, detailType, detail, { id, time: str(event, 'time') })) return;
  col.reject(at, 'detail-type', `${quote(detailType)} from ${quote(source)} is not an alarm state change or instance launch/terminate, no action`);
}

/** The payload CloudWatch sends when an alarm invokes a Lambda function directly (`source: aws.cloudwatch`, `alarmData`). */
function alarmAction(col: Collector, at: Place, event: Record<string, unknown>): void {
  const data = rec(event, 'alarmData');
  if (data === undefined) {
    col.reject(at, 'alarmData', `expected an object, got ${kindOf(event.alarmData)}`);
    return;
  }
  const region = regionFromArn(str(event, 'alarmArn')) ?? str(event, 'region');
  alarmData(col, inside(at, 'alarmData', { depth: at.depth }), data, { eventId: at.envelopeId, time: event.time, region, source: 'alarm-lambda-action' });
}
