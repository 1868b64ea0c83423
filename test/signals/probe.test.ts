import { describe, expect, it } from 'vitest';
import { parseEvent, probeAlarmName, probeSignal, toAlarmMessage, type ProbeObservation } from '../../src/signals/index.js';

const down: ProbeObservation = {
  instanceId: 'i-0a1b2c3d4e5f60718',
  healthy: false,
  target: 'http://127.0.0.1:41234/health',
  observedAt: '2024-03-14T09:15:02.517Z',
  detail: '3 consecutive failures: timeout after 1000 ms',
  sequence: 4,
};

describe('probeSignal', () => {
  it('turns a failed probe into an unhealthy signal with a unique event id', () => {
    // Act
    const signal = probeSignal(down);

    // Assess
    expect(signal).toEqual({
      instanceId: 'i-0a1b2c3d4e5f60718',
      state: 'unhealthy',
      source: 'probe',
      observedAt: '2024-03-14T09:15:02.517Z',
      eventId: 'probe:i-0a1b2c3d4e5f60718:4',
      reason: 'http://127.0.0.1:41234/health: 3 consecutive failures: timeout after 1000 ms',
      instanceIdFrom: 'probe-target',
    });
  });

  it('turns a recovered probe into a healthy signal, and keeps the target as reason without detail', () => {
    // Act
    const signal = probeSignal({ ...down, healthy: true, detail: '', sequence: 5 });

    // Assess
    expect(signal).toMatchObject({ state: 'healthy', eventId: 'probe:i-0a1b2c3d4e5f60718:5', reason: 'http://127.0.0.1:41234/health' });
  });
});

describe('toAlarmMessage', () => {
  it('writes what CloudWatch publishes to SNS for an alarm state change', () => {
    // Act
    const message = JSON.parse(toAlarmMessage({ ...probeSignal(down), region: 'eu-west-2' }, { accountId: '111122223333' })) as Record<string, unknown>;

    // Assess
    expect(message).toMatchObject({
      AlarmName: 'autoheal-probe-i-0a1b2c3d4e5f60718',
      AWSAccountId: '111122223333',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      NewStateReason: 'http://127.0.0.1:41234/health: 3 consecutive failures: timeout after 1000 ms',
      StateChangeTime: '2024-03-14T09:15:02.517+0000',
      Region: 'EU (London)',
      AlarmArn: 'arn:aws:cloudwatch:eu-west-2:111122223333:alarm:autoheal-probe-i-0a1b2c3d4e5f60718',
      Trigger: { Dimensions: [{ value: 'i-0a1b2c3d4e5f60718', name: 'InstanceId' }] },
    });
    expect(probeAlarmName('i-1')).toBe('autoheal-probe-i-1');
  });

  it.each([
    ['unhealthy, no region, an observer', { ...probeSignal({ ...down, observer: 'observer-a' }) }],
    ['healthy, region', { ...probeSignal({ ...down, healthy: true, detail: 'answered 200 in 3 ms' }), region: 'us-east-1' }],
    ['unlisted region, time without milliseconds', { ...probeSignal({ ...down, observedAt: '2024-03-14T09:15:02Z' }), region: 'me-central-1' }],
  ])('round-trips through parseEvent (%s), bare and in an SNS envelope', (_name, signal) => {
    // Prepare
    const message = toAlarmMessage(signal);
    const envelope = { Type: 'Notification', MessageId: 'b6f1d3a2-0c4e-5f68-9a7b-1c2d3e4f5a6b', Message: message, Timestamp: '2024-03-14T09:15:02.600Z' };

    // Act
    const bare = parseEvent(message);
    const wrapped = parseEvent(JSON.stringify(envelope));

    // Assess
    for (const result of [bare, wrapped]) {
      expect(result.rejected).toEqual([]);
      expect(result.signals).toHaveLength(1);
      expect(result.signals[0]).toMatchObject({
        instanceId: signal.instanceId,
        state: signal.state,
        reason: signal.reason,
        observedAt: new Date(signal.observedAt).toISOString(),
        alarmName: `autoheal-probe-${signal.instanceId}`,
        source: 'probe',
        instanceIdFrom: 'dimension',
      });
      expect(result.signals[0]?.observer).toBe(signal.observer);
      if (signal.region !== undefined) expect(result.signals[0]?.region).toBe(signal.region);
    }
    expect(wrapped.signals[0]?.eventId).toBe('b6f1d3a2-0c4e-5f68-9a7b-1c2d3e4f5a6b');
  });

  it.each([
    ['in namespace AWS/EC2', (t: Record<string, unknown>) => ({ ...t, Namespace: 'AWS/EC2' }), /Trigger\.Namespace: "AWS\/EC2" for alarm "autoheal-probe-i-0a1b2c3d4e5f60718"/],
    ['without a namespace', (t: Record<string, unknown>) => ({ Dimensions: t.Dimensions }), /Trigger\.Namespace: missing for alarm/],
  ])('refuses an alarm named like a probe verdict %s: it is no verdict, and as an alarm it would mark alone', (_name, trigger, reason) => {
    // Prepare
    const message = JSON.parse(toAlarmMessage({ ...probeSignal({ ...down, observer: 'observer-a' }) })) as { Trigger: Record<string, unknown> };
    const lookAlike = JSON.stringify({ ...message, Trigger: trigger(message.Trigger) });

    // Act
    const result = parseEvent(lookAlike);

    // Assess
    expect(result.signals).toEqual([]);
    expect(result.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(reason)]);
  });

  it('keeps an unparseable time as it is', () => {
    // Act
    const message = JSON.parse(toAlarmMessage({ ...probeSignal(down), observedAt: 'later' })) as { StateChangeTime: string };

    // Assess
    expect(message.StateChangeTime).toBe('later');
  });
});
