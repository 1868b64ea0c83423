import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/signals/index.js';
import { decodeLegacy, isLegacyEscaped } from '../../src/signals/legacy.js';
import { instanceIdFromName, isoTime, kindOf, quote, regionFromArn, shortReason, maxReasonChars, str } from '../../src/signals/read.js';
import { regionFromName } from '../../src/signals/regions.js';

const t = '2024-03-14T09:15:02.517+0000';
const alarm = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  AlarmName: 'status-i-0abc1234',
  NewStateValue: 'ALARM',
  NewStateReason: 'down',
  StateChangeTime: t,
  Trigger: { Dimensions: [{ name: 'InstanceId', value: 'i-0abc1234' }] },
  ...extra,
});
const eventBridge = (detail: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'eb-1',
  'detail-type': 'CloudWatch Alarm State Change',
  source: 'aws.cloudwatch',
  time: '2024-03-14T09:15:02Z',
  region: 'eu-west-1',
  detail,
  ...extra,
});
const state = { value: 'ALARM', reason: 'down', timestamp: t };

/** Inputs that must be rejected, and the reason each must give. */
const rejections: Array<[string, unknown, string]> = [
  ['empty text', '  ', 'input: empty'],
  ['a number', 42, 'input: expected an event object, got number'],
  ['an array', [], 'input: expected an event object, got array'],
  ['null', null, 'input: expected an event object, got null'],
  ['an empty object', {}, 'input: empty object, not an event'],
  ['an unknown object', { hello: 1 }, 'input: not an event autoheal knows (keys "hello")'],
  ['legacy text that stays broken', '{!!AlarmName!!:', 'input: not JSON after undoing the legacy !! escaping'],
  ['no Records', { Records: [] }, 'Records: empty'],
  ['a record that is not an object', { Records: ['x'] }, 'Records[0]: expected a record object, got string'],
  ['a record of another service', { Records: [{ eventSource: 'aws:s3' }] }, 'Records[0]: neither an SNS record (Sns) nor an SQS record (body)'],
  ['an SQS record without body', { Records: [{ eventSource: 'aws:sqs' }] }, 'Records[0].body: missing'],
  ['an SQS record with an object body', { Records: [{ body: {} }] }, 'Records[0].body: expected a string, got object'],
  ['an SNS record whose Message is not JSON', { Records: [{ Sns: { Message: 'Hello from SNS!' } }] }, 'Records[0].Sns.Message: not JSON'],
  ['no Messages', { Messages: [] }, 'Messages: empty'],
  ['a message that is not an object', { Messages: [null] }, 'Messages[0]: expected a message object, got null'],
  ['an SNS subscription confirmation', { Type: 'SubscriptionConfirmation', Message: 'x' }, 'Type: "SubscriptionConfirmation" is not a Notification, no action'],
  ['an SNS envelope without Message', { Type: 'Notification', MessageId: 'm', Message: undefined }, 'Message: missing'],
  ['an SNS envelope with a numeric Message', { Type: 'Notification', Message: 3 }, 'Message: expected a string, got number'],
  ['an alarm without name', alarm({ AlarmName: '' }), 'AlarmName: missing'],
  ['INSUFFICIENT_DATA', alarm({ NewStateValue: 'INSUFFICIENT_DATA' }), 'NewStateValue: INSUFFICIENT_DATA, no action'],
  ['an unknown state', alarm({ NewStateValue: 'BROKEN' }), 'NewStateValue: "BROKEN" is not ALARM, OK or INSUFFICIENT_DATA'],
  ['no state', alarm({ NewStateValue: undefined }), 'NewStateValue: missing'],
  ['no Trigger and no id in the name', alarm({ AlarmName: 'cpu', Trigger: undefined }), 'Trigger: missing, and the alarm name ends with no instance id'],
  ['no usable time', alarm({ StateChangeTime: 'yesterday' }), 'StateChangeTime: not an ISO 8601 timestamp'],
  [
    'metrics on two instances',
    alarm({
      Trigger: {
        Metrics: [
          { MetricStat: { Metric: { Dimensions: [{ name: 'InstanceId', value: 'i-0abc1234' }] } } },
          { MetricStat: { Metric: { Dimensions: [{ name: 'InstanceId', value: 'i-0def5678' }] } } },
          { Expression: 'm1+m2' },
          'junk',
        ],
      },
    }),
    'Trigger.Metrics: several instances ("i-0abc1234", "i-0def5678"), cannot tell which one',
  ],
  [
    'an InstanceId of 22 characters (not EC2-shaped)',
    alarm({ Trigger: { Dimensions: [{ name: 'InstanceId', value: 'i-0123456789abcdef01234' }] } }),
    'Trigger.Dimensions: "i-0123456789abcdef01234" is not an EC2 instance id (i- and 8 or 17 hex digits)',
  ],
  [
    'an InstanceId of 5,000 characters',
    alarm({ Trigger: { Dimensions: [{ name: 'InstanceId', value: `i-${'a'.repeat(4998)}` }] } }),
    `Trigger.Dimensions: "i-${'a'.repeat(28)}…" is not an EC2 instance id (i- and 8 or 17 hex digits)`,
  ],
  ['odd dimensions', alarm({ AlarmName: 'cpu', Trigger: { Dimensions: ['x', { name: 'InstanceId', value: '  ' }, { name: 'Other', value: 'i-0abc1234' }] } }), 'Trigger.Dimensions: no InstanceId'],
  ['an alarm name too long to search', alarm({ AlarmName: `${'x'.repeat(300)}-i-0abc1234`, Trigger: {} }), 'Trigger.Dimensions: no InstanceId'],
  ['EventBridge alarm without detail', eventBridge(undefined), 'detail: missing'],
  ['EventBridge alarm without name', eventBridge({ state }), 'detail.alarmName: missing'],
  ['EventBridge alarm without configuration', eventBridge({ alarmName: 'cpu', state }), 'detail.configuration.metrics: missing'],
  [
    'EventBridge contributor without InstanceId',
    eventBridge({ alarmName: 'tables', state, alarmContributor: { id: 'c1', attributes: { TableName: 't' } } }),
    'detail.alarmContributor.attributes: no InstanceId',
  ],
  ['EC2 state change', { 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2', detail: {} }, 'detail-type: "EC2 Instance State-change Notification" from "aws.ec2" is not an alarm state change or instance launch/terminate, no action'],
  ['an event without source', { 'detail-type': 'Scheduled Event' }, 'detail-type: "Scheduled Event" from "" is not an alarm state change or instance launch/terminate, no action'],
  ['alarm action without alarmData object', { source: 'aws.cloudwatch', alarmData: 'x' }, 'alarmData: expected an object, got string'],
  ['ASG launch error', { Event: 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR' }, 'Event: "autoscaling:EC2_INSTANCE_LAUNCH_ERROR" is not a launch or terminate, no action'],
  ['ASG launch without instance', { Event: 'autoscaling:EC2_INSTANCE_LAUNCH', AutoScalingGroupName: 'g', Time: t }, 'EC2InstanceId: missing'],
  ['ASG launch without group', { Event: 'autoscaling:EC2_INSTANCE_LAUNCH', EC2InstanceId: 'i-0abc1234', Time: t }, 'AutoScalingGroupName: missing'],
  ['ASG launch without time', { Event: 'autoscaling:EC2_INSTANCE_LAUNCH', EC2InstanceId: 'i-0abc1234', AutoScalingGroupName: 'g' }, 'Time: not an ISO 8601 timestamp'],
  ['ASG EventBridge event without detail', { 'detail-type': 'EC2 Instance Launch Successful', source: 'aws.autoscaling', time: t }, 'detail: missing'],
];

describe('parseEvent rejects, naming the place', () => {
  it.each(rejections)('%s', (_name, input, reason) => {
    // Act
    const result = parseEvent(input);

    // Assess
    expect(result.signals).toEqual([]);
    expect(result.lifecycle).toEqual([]);
    expect(result.rejected).toEqual([{ reason }]);
  });

  it('reports an internal error instead of throwing when the input object itself throws', () => {
    // Prepare: a proxy whose every property lookup throws.
    const hostile = new Proxy({}, { getOwnPropertyDescriptor: () => { throw new Error('boom'); } });

    // Act
    const result = parseEvent(hostile);

    // Assess
    expect(result.rejected).toEqual([{ reason: 'input: internal error: boom' }]);
  });
});

describe('parseEvent accepts', () => {
  it('dimensions written Name/Value, a missing reason, and the envelope time when the alarm has none', () => {
    // Prepare
    const message = alarm({ NewStateReason: undefined, StateChangeTime: undefined, Trigger: { Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc1234' }] } });
    const envelope = { Type: 'Notification', MessageId: 'm-1', Timestamp: '2024-03-14T09:15:03.000Z', Message: message };

    // Act
    const { signals } = parseEvent(envelope);

    // Assess
    expect(signals).toEqual([
      {
        instanceId: 'i-0abc1234',
        state: 'unhealthy',
        source: 'cloudwatch-alarm',
        observedAt: '2024-03-14T09:15:03.000Z',
        eventId: 'm-1',
        reason: 'alarm status-i-0abc1234 is ALARM',
        instanceIdFrom: 'dimension',
        alarmName: 'status-i-0abc1234',
      },
    ]);
  });

  it('an SDK ReceiveMessage output, and a message without id', () => {
    // Act
    const { signals } = parseEvent({ Messages: [{ MessageId: 'q-1', Body: JSON.stringify(alarm()) }, { Body: JSON.stringify(alarm()), ReceiptHandle: 'h' }] });

    // Assess
    expect(signals.map((s) => [s.recordId, s.eventId])).toEqual([
      ['q-1', 'q-1'],
      [undefined, 'status-i-0abc1234@2024-03-14T09:15:02.517Z'],
    ]);
  });

  it('an EventBridge alarm without resources (region from the event), and an instance found by name', () => {
    // Act
    const { signals } = parseEvent(eventBridge({ alarmName: 'StatusCheckFailed-Alarm-for-i-0abc12345', state: { value: 'OK' }, configuration: { metrics: [{ id: 'm1' }, 7] } }));

    // Assess
    expect(signals).toEqual([
      {
        instanceId: 'i-0abc12345',
        state: 'healthy',
        source: 'eventbridge-alarm',
        observedAt: '2024-03-14T09:15:02.000Z',
        eventId: 'eb-1',
        reason: 'alarm StatusCheckFailed-Alarm-for-i-0abc12345 is OK',
        instanceIdFrom: 'alarm-name',
        alarmName: 'StatusCheckFailed-Alarm-for-i-0abc12345',
        region: 'eu-west-1',
      },
    ]);
  });

  it('a contributor without id, and a composite alarm whose name ends with an instance id', () => {
    // Act
    const contributor = parseEvent(eventBridge({ alarmName: 'fleet', state, alarmContributor: { attributes: { InstanceId: 'i-0abc1234' } } }, { id: undefined }));
    const composite = parseEvent({ source: 'aws.cloudwatch', time: t, alarmData: { alarmName: 'any-i-0abc1234', state, configuration: { alarmRule: 'ALARM(a)' } } });

    // Assess
    expect(contributor.signals[0]).toMatchObject({ instanceId: 'i-0abc1234', instanceIdFrom: 'contributor', eventId: 'fleet@2024-03-14T09:15:02.517Z' });
    expect(composite.signals[0]).toMatchObject({ instanceId: 'i-0abc1234', instanceIdFrom: 'alarm-name', source: 'alarm-lambda-action' });
  });

  it('an EventBridge Auto Scaling event with a placeholder time but a real EndTime', () => {
    // Act
    const { lifecycle } = parseEvent({
      'detail-type': 'EC2 Instance Launch Successful',
      source: 'aws.autoscaling',
      time: 'yyyy-mm-ddThh:mm:ssZ',
      detail: { EC2InstanceId: 'i-0abc1234', AutoScalingGroupName: 'g', EndTime: t },
    });

    // Assess
    expect(lifecycle).toEqual([{ instanceId: 'i-0abc1234', groupName: 'g', change: 'launched', observedAt: '2024-03-14T09:15:02.517Z', eventId: 'g:launched:i-0abc1234@2024-03-14T09:15:02.517Z' }]);
  });

  it('a 1 MB batch of good and bad records, keeping every good one', () => {
    // Prepare
    const good = JSON.stringify(alarm());
    const records = Array.from({ length: 400 }, (_, i) => ({ messageId: `r${i}`, body: i % 2 === 0 ? good : `${'x'.repeat(2000)}` }));

    // Act
    const result = parseEvent(JSON.stringify({ Records: records }));

    // Assess
    expect(result.signals).toHaveLength(200);
    expect(result.rejected).toHaveLength(200);
    expect(result.rejected[0]).toEqual({ reason: 'Records[1].body: not JSON', recordId: 'r1' });
  });

  it('a long state reason, cut to a bounded length', () => {
    // Act
    const { signals } = parseEvent(alarm({ NewStateReason: 'y'.repeat(5000) }));

    // Assess
    expect(signals[0]?.reason).toHaveLength(maxReasonChars);
    expect(signals[0]?.reason.endsWith('…')).toBe(true);
  });
});

describe('readers', () => {
  it('isoTime accepts ISO 8601 and CloudWatch offsets, nothing else', () => {
    expect(isoTime('2021-12-06T14:25:39.681+0000')).toBe('2021-12-06T14:25:39.681Z');
    expect(isoTime('2021-12-06T15:25:39.681+0100')).toBe('2021-12-06T14:25:39.681Z');
    expect(isoTime('2021-12-06T14:25:39Z')).toBe('2021-12-06T14:25:39.000Z');
    expect(isoTime('2021-13-45T99:99:00Z')).toBeUndefined();
    expect(isoTime('1')).toBeUndefined();
    expect(isoTime(1)).toBeUndefined();
    expect(isoTime(`2021-12-06T14:25:39Z${' '.repeat(40)}`)).toBeUndefined();
  });

  it('instanceIdFromName wants a separator before the id', () => {
    expect(instanceIdFromName('i-0abc1234')).toBe('i-0abc1234');
    expect(instanceIdFromName('alarm-for-i-0abc1234')).toBe('i-0abc1234');
    expect(instanceIdFromName('alarmfori-0abc1234')).toBeUndefined();
    expect(instanceIdFromName('alarm-for-i-0ABC1234')).toBeUndefined();
    expect(instanceIdFromName('cpu')).toBeUndefined();
  });

  it('regions from ARNs and from CloudWatch names', () => {
    expect(regionFromArn('arn:aws:cloudwatch:eu-west-2:1:alarm:a')).toBe('eu-west-2');
    expect(regionFromArn('arn:aws:cloudwatch:REGION:1:alarm:a')).toBeUndefined();
    expect(regionFromArn('not-an-arn')).toBeUndefined();
    expect(regionFromArn(`arn:${'x'.repeat(3000)}`)).toBeUndefined();
    expect(regionFromArn(undefined)).toBeUndefined();
    expect(regionFromName('EU (Frankfurt)')).toBe('eu-central-1');
    expect(regionFromName('us-gov-west-1')).toBe('us-gov-west-1');
    expect(regionFromName('EXAMPLE')).toBeUndefined();
  });

  it('small helpers', () => {
    expect(str(Object.create({ inherited: 'x' }) as Record<string, unknown>, 'inherited')).toBeUndefined();
    expect(kindOf(undefined)).toBe('undefined');
    expect(quote('a'.repeat(100), 3)).toBe('"aaa…"');
    expect(shortReason(`  ${'z'.repeat(10_000)}`)).toHaveLength(maxReasonChars);
    expect(shortReason('  fine  ')).toBe('fine');
  });

  it('legacy !! decoding', () => {
    expect(isLegacyEscaped('\n {!!a!!:1}')).toBe(true);
    expect(isLegacyEscaped('{"a":1}')).toBe(false);
    expect(decodeLegacy('{!!a!!:!!!!,!!b!!:!!Hi!!!,!!c!!:!!x!y!!}')).toBe('{"a":"","b":"Hi!","c":"x!y"}');
    expect(JSON.parse(decodeLegacy('{!!a!!:!!!!,!!b!!:!!Hi!!!}'))).toEqual({ a: '', b: 'Hi!' });
  });
});
