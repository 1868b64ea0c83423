/**
 * Notices: the healer's marks and holds reach the alert topic as readable notices with the
 * `autoheal_notice` attribute; the e-mail-like subscription (a queue with the stack's filter
 * policy, on fauxqs) receives notices only, never a raw alarm or a probe verdict; a mass failure
 * sends one notice per group and reason, not one per instance.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toRemoteError } from '../../src/errors.js';
import { TypedEvents } from '../../src/events.js';
import { createHealer } from '../../src/healer/healer.js';
import type { HealerEvents } from '../../src/healer/types.js';
import { createHandler } from '../../src/lambda/handler.js';
import { resolveSettings } from '../../src/config.js';
import { createNotifier, holdNotice, noticeAttribute, silentObserverOf, type Notice } from '../../src/operate/notices.js';
import { snsNoticePublisher } from '../../src/operate/sns-notices.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { parseEvent } from '../../src/signals/index.js';
import { snsSink } from '../../src/prober/sinks.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';

const ids = Array.from({ length: 10 }, (_, i) => `i-00000000000000${String(i).padStart(3, '0')}`);
const fixtures = '/work/shared/fixtures/aws-events';

/** The heartbeat alarm of observer `name` entering `state`, shaped as the real EventBridge event (fixture). */
function heartbeatAlarmEvent(name: string, state: 'ALARM' | 'OK'): unknown {
  const event = JSON.parse(readFileSync(`${fixtures}/eventbridge.cloudwatch-alarm-state-change.single-metric.awsdocs.json`, 'utf8')) as {
    detail: { alarmName: string; state: { value: string; reason: string }; configuration: { metrics: Array<{ metricStat: { metric: Record<string, unknown> } }> } };
  };
  event.detail.alarmName = `autoheal-heartbeat-${name}`;
  event.detail.state.value = state;
  event.detail.state.reason = 'Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching].';
  event.detail.configuration.metrics[0]!.metricStat.metric = { namespace: 'autoheal', name: 'ObserverHeartbeat', dimensions: { Observer: name } };
  return event;
}

describe('notices on the alert topic', () => {
  let q: FauxqsFixture;
  let mailUrl: string;

  beforeEach(async () => {
    q = await startFauxqs({ rawMessageDelivery: true });
    // The stack's e-mail subscription, played by a queue with the same filter policy.
    mailUrl = (await q.sqs.send(new CreateQueueCommand({ QueueName: 'mail' }))).QueueUrl ?? '';
    const mailArn = (await q.sqs.send(new GetQueueAttributesCommand({ QueueUrl: mailUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    await q.sns.send(
      new SubscribeCommand({
        TopicArn: q.topicArn,
        Protocol: 'sqs',
        Endpoint: mailArn,
        Attributes: { FilterPolicy: JSON.stringify({ [noticeAttribute]: [{ exists: true }] }), RawMessageDelivery: 'false' },
      }),
    );
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await q.stop();
  });

  it('a mass failure of 8 of 10 sends one mark notice and one budgetSpent hold; the mail queue gets them and no raw alarm or probe verdict', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids }]);
    const healer = createHealer({ fleet, policy: policyOptionsSchema.parse({}) });
    // The Lambda's publisher: one signed Query call over an Auto Scaling client's parts, to fauxqs by the standard variable.
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', q.endpoint);
    const signing = new AutoScalingClient({ region: q.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const notifier = createNotifier({ publish: snsNoticePublisher(signing, q.topicArn) });
    notifier.attach(healer.events);

    // Act: 8 alarms at once; then a raw alarm and a probe verdict published to the same topic.
    const records = await healer.handleSignals(ids.slice(0, 8).flatMap((id) => parseEvent(statusCheckAlarmMessage(id)).signals));
    await notifier.flush();
    await q.publish(statusCheckAlarmMessage(ids[9] as string));
    const [probed] = parseEvent(statusCheckAlarmMessage(ids[8] as string)).signals;
    await snsSink({ client: q.sns, topicArn: q.topicArn })({ ...probed!, source: 'probe', observer: 'a' }, { signal: AbortSignal.timeout(5_000) });

    // Assess: 4 marks, 4 held; two notices published, six held back by the window.
    expect(records.map((r) => r.verdict.reason)).toEqual([...Array(4).fill('unhealthy'), ...Array(4).fill('budgetSpent')]);
    expect(notifier.counts).toEqual({ published: 2, deduplicated: 6, failed: 0, unknown: 0, dropped: 0 });
    signing.destroy();
    const mail = await q.receive(mailUrl, 10);
    const bodies = mail.map((m) => JSON.parse(m.Body ?? '{}') as { Subject: string; Message: string; MessageAttributes: Record<string, { Value: string }> });
    expect(bodies.map((b) => b.Subject).sort()).toEqual([`autoheal: HOLD budgetSpent workers`, `autoheal: marked ${ids[0]} in workers`]);
    const hold = bodies.find((b) => b.Subject.includes('HOLD'));
    expect(hold?.MessageAttributes).toMatchObject({ autoheal_notice: { Value: 'hold' }, group: { Value: 'workers' }, reason: { Value: 'budgetSpent' } });
    expect(hold?.Message).toMatch(/Why: the group's unhealthy budget is spent \(reason "budgetSpent"\): 4 of budget 4/);
    expect(hold?.Message).toMatch(/What to do: /);
    // The unfiltered subscription saw everything: the two notices, the raw alarm, the probe verdict.
    expect((await q.receive(q.queueUrl, 10)).length).toBe(4);
  });

  it('a publish SNS refuses (no such topic) is an error naming sns:Publish and SNS\'s code', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', q.endpoint);
    const signing = new AutoScalingClient({ region: q.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

    // Act
    const publish = snsNoticePublisher(signing, `${q.topicArn}-missing`)(holdNotice('g', 'paused', undefined));

    // Assess
    await expect(publish).rejects.toMatchObject({ action: 'sns:Publish', cause: expect.objectContaining({ name: expect.stringMatching(/NotFound/) }) });
    signing.destroy();
  });

  it('the next notice of a key after the window says how many were held back; a failed publish is logged, never thrown', async () => {
    // Prepare
    let nowMs = 0;
    const sent: Notice[] = [];
    let fail = false;
    const { logger, lines } = capturedLogger();
    const notifier = createNotifier({
      publish: async (n) => {
        // An error answer a retry cannot fix: SNS surely did not take it.
        if (fail) throw toRemoteError('sns:Publish', Object.assign(new Error('sns down'), { name: 'InvalidParameter', $metadata: { httpStatusCode: 400 } }));
        sent.push(n);
      },
      clock: () => nowMs,
      windowMs: 1_000,
      logger,
    });

    // Act
    await notifier.notify(holdNotice('g', 'frozen', 'detail'));
    await notifier.notify(holdNotice('g', 'frozen', 'detail'));
    await notifier.notify(holdNotice('h', 'frozen', 'detail'));
    nowMs = 1_000;
    await notifier.notify(holdNotice('g', 'frozen', 'detail'));
    fail = true;
    await notifier.notify(holdNotice('g', 'paused', undefined));

    // Assess
    expect(sent.map((n) => n.subject)).toEqual(['autoheal: HOLD frozen g', 'autoheal: HOLD frozen h', 'autoheal: HOLD frozen g']);
    expect(sent[2]?.body).toMatch(/1 similar notice \(frozen, g\) held back in the previous 0 min/);
    expect(notifier.counts).toEqual({ published: 3, deduplicated: 1, failed: 1, unknown: 0, dropped: 0 });
    expect(lines.find((l) => l.msg === 'notice not published')).toMatchObject({ reason: 'paused', error: expect.stringContaining('sns down') });
  });

  it('a listener that throws cannot break the healer, and the notifier keeps working', async () => {
    // Prepare
    const events = new TypedEvents<HealerEvents>();
    const sent: Notice[] = [];
    createNotifier({ publish: async (n) => void sent.push(n) }).attach(events);
    events.on('healer:hold:started', () => {
      throw new Error('bad listener');
    });

    // Act
    events.emit('healer:hold:started', { groupName: 'g', hold: { reason: 'loopBreaker', sinceMs: 0, untilMs: 1, detail: '3 instances marked' } });

    // Assess
    expect(sent.map((n) => n.subject)).toEqual(['autoheal: HOLD loopBreaker g']);
  });
});

describe('observer silent', () => {
  it('recognizes a heartbeat alarm by its metric, only in ALARM, and nothing else', () => {
    expect(silentObserverOf(heartbeatAlarmEvent('eu-1a', 'ALARM'))).toMatchObject({ observer: 'eu-1a', alarmName: 'autoheal-heartbeat-eu-1a' });
    expect(silentObserverOf(heartbeatAlarmEvent('eu-1a', 'OK'))).toBeUndefined();
    const other = JSON.parse(readFileSync(`${fixtures}/eventbridge.cloudwatch-alarm-state-change.single-metric.awsdocs.json`, 'utf8')) as unknown;
    expect(silentObserverOf(other)).toBeUndefined();
    expect(silentObserverOf(null)).toBeUndefined();
    expect(silentObserverOf({ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', detail: { configuration: {} } })).toBeUndefined();
  });

  it('the Lambda turns the heartbeat alarm into an OBSERVER SILENT notice, published before it returns', async () => {
    // Prepare
    const sent: Notice[] = [];
    const metricLines: string[] = [];
    const handler = createHandler({
      config: resolveSettings({}, { AUTOHEAL_NOTICE_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:alerts' }),
      autoScaling: new AutoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
      alarmOptions: {},
      logger: capturedLogger().logger,
      publishNotice: async (n) => {
        await new Promise((r) => setImmediate(r));
        sent.push(n);
      },
      writeMetrics: (line) => metricLines.push(line),
    });

    // Act
    const out = await handler(heartbeatAlarmEvent('eu-1a', 'ALARM'));

    // Assess
    expect(out).toEqual({ notice: 'observerSilent' });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ subject: 'autoheal: OBSERVER SILENT eu-1a', attributes: { autoheal_notice: 'observerSilent', observer: 'eu-1a', reason: 'observerSilent' } });
    expect(metricLines).toEqual([]);
  });
});
