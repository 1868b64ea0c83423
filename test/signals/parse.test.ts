import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/signals/index.js';
import type { HealthSignal, LifecycleSignal } from '../../src/signals/types.js';

const fixtures = new URL('../fixtures/events/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8');

interface Case {
  file: string;
  signals?: Array<Partial<HealthSignal>>;
  lifecycle?: Array<Partial<LifecycleSignal>>;
  rejected?: Array<{ reason: RegExp; recordId?: string }>;
}

const statusAlarm: Partial<HealthSignal> = {
  instanceId: 'i-0a1b2c3d4e5f60718',
  state: 'unhealthy',
  source: 'cloudwatch-alarm',
  instanceIdFrom: 'dimension',
  observedAt: '2024-03-14T09:15:02.517Z',
  alarmName: 'autoheal-status-check-i-0a1b2c3d4e5f60718',
  region: 'eu-west-1',
};

// Each fixture's AWS source is noted in test/fixtures/events/SOURCES.md.
const cases: Case[] = [
  {
    file: 'sns-message.status-check-alarm.json',
    signals: [{ ...statusAlarm, eventId: 'autoheal-status-check-i-0a1b2c3d4e5f60718@2024-03-14T09:15:02.517Z' }],
  },
  { file: 'sns-message.status-check-ok.json', signals: [{ instanceId: 'i-0a1b2c3d4e5f60718', state: 'healthy', observedAt: '2024-03-14T09:21:40.003Z' }] },
  { file: 'sns-message.insufficient-data.json', rejected: [{ reason: /^NewStateValue: INSUFFICIENT_DATA, no action$/ }] },
  { file: 'sns-message.metric-math.json', signals: [{ instanceId: 'i-0fedcba9876543210', state: 'unhealthy', instanceIdFrom: 'dimension' }] },
  {
    file: 'sns-message.instance-in-alarm-name.json',
    signals: [{ instanceId: 'i-0abc12345', state: 'unhealthy', instanceIdFrom: 'alarm-name', alarmName: 'StatusCheckFailed-Alarm-for-i-0abc12345' }],
  },
  { file: 'sns-message.group-metric.json', rejected: [{ reason: /^Trigger\.Dimensions: no InstanceId$/ }] },
  { file: 'sns-envelope.status-check-alarm.json', signals: [{ ...statusAlarm, eventId: '6f3c1a52-8d2e-5b41-9e7a-0c4d5e6f7a81' }] },
  { file: 'lambda-sns-event.status-check-alarm.json', signals: [{ ...statusAlarm, eventId: '6f3c1a52-8d2e-5b41-9e7a-0c4d5e6f7a81' }] },
  {
    file: 'lambda-sqs-event.mixed-batch.json',
    signals: [
      { ...statusAlarm, eventId: '6f3c1a52-8d2e-5b41-9e7a-0c4d5e6f7a81', recordId: '0a9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c' },
      { instanceId: 'i-0123456789abcdef0', state: 'healthy', eventId: '1b0a9f8e-7d6c-4b5a-9e3f-2c1b0a9f8e7d', recordId: '1b0a9f8e-7d6c-4b5a-9e3f-2c1b0a9f8e7d' },
    ],
    rejected: [
      { reason: /^Records\[2\]\.body: not JSON$/, recordId: '2c1b0a9f-8e7d-4c6b-a5f4-3d2c1b0a9f8e' },
      { reason: /^Records\[3\]\.body\.Message\.Trigger\.Dimensions: no InstanceId$/, recordId: '3d2c1b0a-9f8e-4d7c-b6a5-4e3d2c1b0a9f' },
    ],
  },
  {
    file: 'sqs-receive-message.status-check-alarm.json',
    signals: [{ ...statusAlarm, eventId: '6f3c1a52-8d2e-5b41-9e7a-0c4d5e6f7a81', recordId: '4e3d2c1b-0a9f-4e8d-c7b6-5f4e3d2c1b0a' }],
  },
  {
    file: 'legacy-2014.status-check-alarm.json',
    signals: [
      {
        instanceId: 'i-0abc1234',
        state: 'unhealthy',
        source: 'legacy-escaped-alarm',
        instanceIdFrom: 'alarm-name',
        observedAt: '2014-09-02T11:20:31.742Z',
        eventId: 'd2e5c8a1-3f47-5b69-8e0a-4c1b2d3e4f50',
        region: 'eu-west-1',
      },
    ],
  },
  {
    file: 'eventbridge.alarm-state-change.ok.json',
    signals: [
      {
        instanceId: 'i-0a1b2c3d4e5f60718',
        state: 'healthy',
        source: 'eventbridge-alarm',
        eventId: '5b8e4f21-7c3d-2a19-6e0f-9d8c7b6a5f4e',
        observedAt: '2024-03-14T09:21:40.003Z',
        region: 'eu-west-1',
      },
    ],
  },
  {
    file: 'eventbridge.alarm-contributor-state-change.json',
    signals: [{ instanceId: 'i-0b1c2d3e4f5a6b7c8', state: 'unhealthy', instanceIdFrom: 'contributor', eventId: '8c1f5a32-4d6e-7b80-9a1c-2e3f4a5b6c7d' }],
  },
  {
    file: 'lambda-alarm-action.single-metric.json',
    signals: [
      {
        instanceId: 'i-0c1d2e3f4a5b6c7d8',
        state: 'unhealthy',
        source: 'alarm-lambda-action',
        eventId: 'autoheal-status-check-i-0c1d2e3f4a5b6c7d8@2024-03-14T09:15:02.517Z',
        region: 'us-east-1',
      },
    ],
  },
  {
    file: 'lambda-alarm-action.contributor.json',
    signals: [
      {
        instanceId: 'i-0b1c2d3e4f5a6b7c8',
        instanceIdFrom: 'contributor',
        source: 'alarm-lambda-action',
        eventId: 'fleet-status-check:6d442278dba546f6@2025-12-01T13:42:04.919Z',
      },
    ],
  },
  {
    file: 'sns-envelope.asg-launch.json',
    lifecycle: [
      { instanceId: 'i-0d1e2f3a4b5c6d7e8', groupName: 'web-asg', change: 'launched', observedAt: '2024-03-14T09:18:44.102Z', eventId: '9e6f3c74-0a4b-5d63-9a9c-2e6f7a8b9ca3' },
    ],
  },
  {
    file: 'lambda-sqs-event.verdict-envelope.json',
    signals: [
      {
        instanceId: 'i-0a1b2c3d4e5f60718',
        state: 'unhealthy',
        source: 'probe',
        instanceIdFrom: 'probe-target',
        observer: 'observer-us-east-1a',
        sender: 'AROAEXAMPLEOBSERVERA:autoheal-observer-us-east-1a',
        eventId: 'probe:observer-us-east-1a:i-0a1b2c3d4e5f60718:4',
        observedAt: '2024-03-14T09:15:03.512Z',
        recordId: '5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c',
      },
      { instanceId: 'i-0123456789abcdef0', state: 'healthy', observer: 'observer-us-east-1a', eventId: 'probe:observer-us-east-1a:i-0123456789abcdef0:7' },
    ],
  },
  {
    file: 'eventbridge.asg-terminate-successful.json',
    lifecycle: [{ instanceId: 'i-0a1b2c3d4e5f60718', groupName: 'web-asg', change: 'terminated', observedAt: '2024-03-14T09:19:30.000Z' }],
  },
];

describe('parseEvent over autoheal fixtures', () => {
  it.each(cases)('$file', ({ file, signals = [], lifecycle = [], rejected = [] }) => {
    // Prepare
    const text = read(file);

    // Act: the text as an SQS body would carry it, and the object as Lambda would pass it.
    const fromText = parseEvent(text);
    const fromObject = parseEvent(JSON.parse(text));

    // Assess
    for (const result of [fromText, fromObject]) {
      expect(result.signals).toHaveLength(signals.length);
      signals.forEach((expected, i) => expect(result.signals[i]).toMatchObject(expected));
      expect(result.lifecycle).toHaveLength(lifecycle.length);
      lifecycle.forEach((expected, i) => expect(result.lifecycle[i]).toMatchObject(expected));
      expect(result.rejected).toHaveLength(rejected.length);
      rejected.forEach((expected, i) => {
        expect(result.rejected[i]?.reason).toMatch(expected.reason);
        expect(result.rejected[i]?.recordId).toBe(expected.recordId);
      });
    }
  });

  it('gives every signal the fields the healer relies on', () => {
    // Prepare
    const all = cases.flatMap(({ file }) => parseEvent(read(file)).signals);

    // Assess
    expect(all.length).toBeGreaterThan(10);
    for (const signal of all) {
      expect(signal.instanceId).not.toBe('');
      expect(['healthy', 'unhealthy']).toContain(signal.state);
      expect(new Date(signal.observedAt).toISOString()).toBe(signal.observedAt);
      expect(signal.eventId).not.toBe('');
      expect(signal.reason).not.toBe('');
    }
  });
});
