import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/signals/index.js';

const folder = new URL('../../../shared/fixtures/aws-events/', import.meta.url);
const present = existsSync(fileURLToPath(folder));
const files = present ? readdirSync(folder).filter((name) => name.endsWith('.json')).sort() : [];

/** What each real published sample must yield: [instanceId, state] per signal, or lifecycle changes. */
const expected: Record<string, { signals?: Array<[string, 'healthy' | 'unhealthy']>; lifecycle?: Array<[string, 'launched' | 'terminated']> }> = {
  'cw-alarm-sns-message.ec2-statuscheckfailed-instance.real-2021.json': { signals: [['i-0bb9ca09aa2d09012', 'unhealthy']] },
  'lambda-sns-event.cw-alarm-ec2-statuscheckfailed-instance.real-2021.json': { signals: [['i-0bb9ca09aa2d09012', 'unhealthy']] },
  'eventbridge.cloudwatch-alarm-state-change.single-metric.awsdocs.json': { signals: [['i-12345678901234567', 'unhealthy']] },
  'eventbridge.cloudwatch-alarm-state-change.metric-math.awsdocs.json': { signals: [['i-12345678901234567', 'unhealthy']] },
  'eventbridge.cloudwatch-alarm-state-change.anomaly-detection.awsdocs.json': { signals: [['i-12345678901234567', 'unhealthy']] },
  'asg-sns-message.ec2-instance-launch.real-2015.qurd.json': { lifecycle: [['i-b57d975a', 'launched']] },
  'asg-sns-message.ec2-instance-terminate.real-2015.qurd.json': { lifecycle: [['i-b57d975a', 'terminated']] },
  'sqs-body.sns-envelope.asg-ec2-instance-launch.real-2015.qurd.json': { lifecycle: [['i-b57d975a', 'launched']] },
  'sqs-body.sns-envelope.asg-ec2-instance-terminate.real-2015.qurd.json': { lifecycle: [['i-b57d975a', 'terminated']] },
  'eventbridge.asg.ec2-instance-launch-successful.aws-lambda-go.json': { lifecycle: [['i-1234567890abcdef0', 'launched']] },
  'eventbridge.asg.ec2-instance-terminate-successful.aws-lambda-go.json': { lifecycle: [['i-1234567890abcdef0', 'terminated']] },
};

describe('parseEvent over the real published samples in ../shared/fixtures/aws-events', () => {
  if (!present) {
    it.skip('skipped: ../shared/fixtures/aws-events is not there (it is in CI)', () => undefined);
    return;
  }

  it('rejects the aws-lambda-go samples whose InstanceId is "TestInstance": not an EC2 instance id', () => {
    for (const name of files.filter((f) => f.includes('aws-lambda-go') && (f.includes('cw-alarm')))) {
      const result = parseEvent(readFileSync(new URL(name, folder), 'utf8'));
      expect(result.signals, name).toEqual([]);
      expect(result.rejected.map((r) => r.reason).join('\n'), name).toMatch(/"TestInstance" is not an EC2 instance id/);
    }
  });

  it('knows every sample it checks by name', () => {
    expect(Object.keys(expected).filter((name) => !files.includes(name))).toEqual([]);
  });

  it.each(files)('%s', (name) => {
    // Prepare
    const text = readFileSync(new URL(name, folder), 'utf8');
    const want = expected[name] ?? {};

    // Act
    const result = parseEvent(text);

    // Assess: the named samples yield exactly these; every other one is rejected with a reason.
    expect(result.signals.map((s) => [s.instanceId, s.state])).toEqual(want.signals ?? []);
    expect(result.lifecycle.map((s) => [s.instanceId, s.change])).toEqual(want.lifecycle ?? []);
    if (want.signals === undefined && want.lifecycle === undefined) {
      expect(result.rejected.length).toBeGreaterThan(0);
      for (const rejection of result.rejected) expect(rejection.reason).toMatch(/^\S+: \S/);
    } else {
      expect(result.rejected).toEqual([]);
    }
    for (const signal of result.signals) expect(new Date(signal.observedAt).toISOString()).toBe(signal.observedAt);
  });

  it('reads the 2014 !! body back into the alarm it was made from', () => {
    // Prepare
    const legacy = readFileSync(new URL('seed-2014-escaped.json', folder), 'utf8');
    const original = readFileSync(new URL('sqs-body.sns-envelope.cw-alarm-sqs-queue.real-2020.milkbot.json', folder), 'utf8');

    // Act
    const fromLegacy = parseEvent(legacy);
    const fromOriginal = parseEvent(original);

    // Assess: both are the same queue alarm (no instance), rejected at the same place.
    expect(fromLegacy.rejected).toEqual(fromOriginal.rejected);
    expect(fromLegacy.rejected[0]?.reason).toBe('Message.Trigger.Dimensions: no InstanceId');
  });
});
