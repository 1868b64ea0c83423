/**
 * The stack watches itself: the example app synthesized as `npx cdk synth -c group=g -c
 * email=ops@example.com` gives an alarm on the failure queue, one on healer errors, an e-mail
 * subscription with a filter policy (notices only) and a dashboard; the healer may publish notices
 * to the alert topic and nothing else.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/cdk-app/app.js';
import { stubBundleDir } from '../helpers/bundles.js';

let plain: Template;
let legacy: Template;
let probe: Template;

function synth(context: Record<string, string>): Template {
  const bundleDir = stubBundleDir();
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'autoheal-cdk-out-')), context: { ...context, bundleDir } });
  return Template.fromStack(buildApp(app).stack);
}

beforeAll(() => {
  plain = synth({ group: 'g', email: 'ops@example.com' });
  legacy = synth({ group: 'g', email: 'ops@example.com', legacyQueue: 'lambda' });
  probe = synth({ group: 'g', detection: 'alarms,probe' });
});

/** The logical id of the only resource of `type` whose id matches `pattern`. */
function idOf(template: Template, type: string, pattern: RegExp): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('monitoring', () => {
  it('alarms on messages in the failure queue, healer errors and throttles and failed decisions, notifying the stack-health topic', () => {
    const failureQueue = idOf(plain, 'AWS::SQS::Queue', /FailureQueue/);
    const healer = idOf(plain, 'AWS::Lambda::Function', /^AutoHealHealer[0-9A-F]{8}$/);
    const stackTopic = idOf(plain, 'AWS::SNS::Topic', /StackAlarmTopic/);
    plain.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failureQueue, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: stackTopic }],
    });
    for (const metric of ['Errors', 'Throttles']) {
      plain.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: healer } }],
        AlarmActions: [{ Ref: stackTopic }],
      });
    }
    // Without a legacy queue there is no dead-letter queue to watch; with one, it is watched.
    plain.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'autoheal',
      MetricName: 'Decisions',
      Dimensions: [{ Name: 'Action', Value: 'failed' }],
      AlarmActions: [{ Ref: stackTopic }],
    });
    // And the evidence queue's oldest message and dead letters, and the sync function's errors.
    plain.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    // A backlog: the evidence queue's oldest message older than staleAfter (120 s), two minutes running.
    plain.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('EvidenceQueue'), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 120,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: stackTopic }],
    });
    const dlq = idOf(legacy, 'AWS::SQS::Queue', /LegacyDeadLetterQueue/);
    legacy.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
    });
  });

  it('subscribes the e-mail to notices only (a filter policy on autoheal_notice) and to the stack alarms unfiltered', () => {
    const alertTopic = idOf(plain, 'AWS::SNS::Topic', /AlertTopic/);
    const stackTopic = idOf(plain, 'AWS::SNS::Topic', /StackAlarmTopic/);
    plain.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: alertTopic },
      FilterPolicy: { autoheal_notice: [{ exists: true }] },
    });
    plain.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      TopicArn: { Ref: stackTopic },
      FilterPolicy: Match.absent(),
    });
    // No unfiltered e-mail on the alert topic: raw alarms and probe verdicts never reach the inbox.
    const emails = Object.values(plain.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'email', TopicArn: { Ref: alertTopic } } }));
    expect(emails).toHaveLength(1);
  });

  it('lets the healer publish notices to the alert topic only, and tells it the topic', () => {
    const alertTopic = idOf(plain, 'AWS::SNS::Topic', /AlertTopic/);
    plain.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: alertTopic } })]) },
      Roles: [{ Ref: Match.stringLikeRegexp('HealerRole') }],
    });
    plain.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'lambda.handler',
      Environment: { Variables: Match.objectLike({ AUTOHEAL_NOTICE_TOPIC_ARN: { Ref: alertTopic } }) },
    });
  });

  it('with observers routes heartbeat alarms entering ALARM to the healer, and draws a dashboard of decisions, latency and queues', () => {
    const heartbeatRule = { detail: Match.objectLike({ configuration: Match.anyValue() }) };
    expect(Object.keys(plain.findResources('AWS::Events::Rule', { Properties: { EventPattern: Match.objectLike(heartbeatRule) } }))).toHaveLength(0);
    probe.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] }, configuration: { metrics: { metricStat: { metric: { namespace: ['autoheal'], name: ['ObserverHeartbeat'] } } } } },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AutoHealHealer'), 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
    });
    plain.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(plain.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const text of ['Marks by reason', 'Skips by reason', 'Decision latency p95', 'Queue depths', 'MetricName=\\\\\\"Decisions\\\\\\"', 'MetricName=\\\\\\"DecisionMs\\\\\\"']) {
      expect(body).toContain(text);
    }
  });
});
