import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/errors.js';
import { buildApp } from '../../examples/cdk-app/app.js';
import { stubBundleDir } from '../helpers/bundles.js';

// One stub bundle and one synthesis per configuration, shared by every test (synthesis is slow-ish).
let bundleDir: string;
let app: App;
let alarmsAndProbe: Template;
let legacy: Template;
let bridge: Template;
let insights: Template;
let insightsTagged: Stack;

const arn = (service: string, resource: string): object => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, resource]],
});

/** Every statement of the IAM policies whose name matches `policyName` (a regexp). */
function statementsOf(template: Template, policyName: string): unknown[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(policyName) } });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement,
  );
}

function stackWith(id: string, props: Omit<AutoHealProps, 'bundleDir'>): Stack {
  const stack = new Stack(app, id);
  new AutoHeal(stack, 'AutoHeal', { ...props, bundleDir });
  return stack;
}

beforeAll(() => {
  bundleDir = stubBundleDir();
  writeFileSync(join(bundleDir, 'index.js'), '// must not ship\n');
  app = new App({ outdir: mkdtempSync(join(tmpdir(), 'autoheal-cdk-out-')) });
  const hostRole = (stack: Stack): iam.IRole => iam.Role.fromRoleName(stack, 'ProbeHost', 'probe-host');
  const s1 = new Stack(app, 'AlarmsAndProbe');
  new AutoHeal(s1, 'AutoHeal', {
    groups: ['web'],
    detection: ['alarms', 'probe'],
    probe: { hostRole: hostRole(s1) },
    notificationEmail: 'ops@example.com',
    maxUnhealthyShare: 0.25,
    alarm: { evaluationPeriods: 3 },
    bundleDir,
  });
  const s2 = stackWith('Legacy', { legacyQueue: true, optInTag: { key: 'team', value: 'workers' }, alarm: { syncInterval: Duration.minutes(30) } });
  const s3 = stackWith('Bridge', { legacyQueue: { consumer: 'bridge', maxReceiveCount: 3 }, detection: ['probe'] });
  const s4 = stackWith('Insights', { groups: ['web', "o'neil"], alarm: { mode: 'metrics-insights' }, timeout: Duration.seconds(30) });
  insightsTagged = stackWith('InsightsTagged', { alarm: { mode: 'metrics-insights' } });
  // Build every stack before the first synthesis: the tree is frozen after it.
  alarmsAndProbe = Template.fromStack(s1);
  insights = Template.fromStack(s4);
  legacy = Template.fromStack(s2);
  bridge = Template.fromStack(s3);
});

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(app.outdir, { recursive: true, force: true });
});

describe('AutoHeal with alarms and probe', () => {
  it('reserves no concurrency in any function (a deploy works with a concurrency quota of 10); the evidence queue\'s mapping bounds the healer instead; direct events kept for six hours', () => {
    for (const template of [alarmsAndProbe, legacy, bridge, insights]) {
      template.resourcePropertiesCountIs('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.anyValue() }, 0);
    }
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^AutoHealHealer') },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealEvidenceQueue'), 'Arn'] },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumEventAgeInSeconds: 21_600, MaximumRetryAttempts: 2 });
  });

  it('keeps the rails\' memory in an on-demand table with TTL on expiresAt, named to the healer, deleted with the stack', () => {
    alarmsAndProbe.resourceCountIs('AWS::DynamoDB::Table', 1);
    alarmsAndProbe.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
      DeletionPolicy: 'Delete',
    });
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'lambda.handler',
      Environment: { Variables: Match.objectLike({ AUTOHEAL_LEDGER_TABLE: { Ref: Match.stringLikeRegexp('^AutoHealLedgerTable') } }) },
    });
    alarmsAndProbe.hasOutput('*', { Value: { Ref: Match.stringLikeRegexp('^AutoHealLedgerTable') } });
  });

  it('takes evidence from a queue: visibility six times the healer\'s timeout, 14 days kept, dead-lettered after 10 receives, written only by its rules', () => {
    alarmsAndProbe.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 360,
      MessageRetentionPeriod: 1_209_600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealEvidenceDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 10 },
    });
    const rules = Object.entries(alarmsAndProbe.findResources('AWS::Events::Rule'))
      .filter(([, r]) => JSON.stringify((r as { Properties: { Targets?: unknown } }).Properties.Targets ?? []).includes('"AutoHealEvidenceQueue'))
      .map(([id]) => id);
    // The alarm state changes and the lifecycle events.
    expect(rules).toHaveLength(2);
    const policies = Object.values(alarmsAndProbe.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [{ Ref: Match.stringLikeRegexp('^AutoHealEvidenceQueue') }] } }));
    expect(policies).toHaveLength(1);
    const sends = (policies[0] as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement.filter((st) => st.Effect === 'Allow');
    expect(sends.map((st) => [st.Action, st.Principal, st.Condition])).toEqual(
      expect.arrayContaining(rules.map((rule) => [['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], { Service: 'events.amazonaws.com' }, { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } }])),
    );
    expect(sends).toHaveLength(rules.length);
  });

  it('writes the rails into the healer environment, defaults included', () => {
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'lambda.handler',
      Environment: {
        Variables: Match.objectLike({
          AUTOHEAL_MAX_UNHEALTHY_SHARE: '0.25',
          AUTOHEAL_SUSPICION_SHARE: '0.8',
          AUTOHEAL_FREEZE_MS: '600000',
          AUTOHEAL_MARK_RATE_WINDOW_MS: '600000',
          AUTOHEAL_MAX_MARKS_PER_WINDOW: '',
          AUTOHEAL_LOOP_MARKS: '3',
          AUTOHEAL_PROBE_QUORUM: '2',
        }),
      },
    });
  });

  it('creates exactly the expected resources', () => {
    // Assess
    for (const [type, count] of Object.entries({
      // The healer, the alarm sync, its deploy-time trigger and the alarm clean-up.
      'AWS::Lambda::Function': 4,
      // Alarm state, lifecycle, held work, the sync's schedule, and (monitoring) heartbeat alarms.
      'AWS::Events::Rule': 5,
      // The alert topic and (monitoring) the stack-health topic.
      'AWS::SNS::Topic': 2,
      // (monitoring) the e-mail on both topics; probe verdicts come by the verdict channel, not the topic.
      'AWS::SNS::Subscription': 2,
      // The failure queue, the evidence queue, the verdict channel and their dead-letter queues.
      'AWS::SQS::Queue': 5,
      'AWS::Lambda::EventSourceMapping': 2,
      'AWS::DynamoDB::Table': 1,
      'AWS::Logs::LogGroup': 4,
      'AWS::IAM::ManagedPolicy': 1,
      'Custom::AutohealAlarmCleanup': 1,
      'Custom::AutohealAlarmSync': 1,
    })) {
      alarmsAndProbe.resourceCountIs(type, count);
    }
  });

  it('runs the bundle on nodejs22.x arm64 with its log group, an on-failure destination and the agreed env', () => {
    // Assess
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'lambda.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^AutoHealLogGroup') } },
      Environment: {
        Variables: {
          AUTOHEAL_MAX_UNHEALTHY_SHARE: '0.25',
          AUTOHEAL_OPT_IN_TAG: 'autoheal:enabled=true',
          AUTOHEAL_GROUPS: 'web',
          AUTOHEAL_DRY_RUN: 'false',
          AUTOHEAL_RESPECT_GRACE_PERIOD: 'true',
          AUTOHEAL_STALE_AFTER_MS: '120000',
          AUTOHEAL_ALARM_PREFIX: 'autoheal-status-check.AlarmsAndProbe.',
          AUTOHEAL_ALARM_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^AutoHealAlertTopic') },
          LOG_LEVEL: 'info',
          AUTOHEAL_ALARM_PERIOD_SECONDS: '60',
          AUTOHEAL_ALARM_EVALUATION_PERIODS: '3',
          AUTOHEAL_ALARM_THRESHOLD: '1',
          AUTOHEAL_ALARM_MODE: 'per-instance',
        },
      },
    });
    alarmsAndProbe.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealFailureQueue'), 'Arn'] } } },
    });
  });

  it('ships one bundle per function asset: lambda.mjs for the healer, alarm-sync.mjs for the sync', () => {
    // Assess
    const assets = readdirSync(app.outdir).filter((f) => f.startsWith('asset.'));
    const dirs = assets.map((a) => readdirSync(join(app.outdir, a)));
    expect(dirs.map((files) => files.join(',')).sort()).toEqual(['alarm-sync.mjs', 'lambda.mjs']);
  });

  it('grants exactly the healer statements: tag-conditioned and named SetInstanceHealth, alarm writes on the prefix', () => {
    // Assess
    const statements = statementsOf(alarmsAndProbe, '^AutoHealHealerRole');
    expect(statements).toEqual([
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealLogGroup/), 'Arn'] },
      },
      {
        Sid: 'ReadGroups',
        Effect: 'Allow',
        Action: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances'],
        Resource: '*',
      },
      { Sid: 'ReadInstances', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
      {
        Sid: 'MarkOptedInGroups',
        Effect: 'Allow',
        Action: 'autoscaling:SetInstanceHealth',
        Resource: arn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/*'),
        Condition: { StringEquals: { 'autoscaling:ResourceTag/autoheal:enabled': 'true' } },
      },
      {
        Sid: 'MarkNamedGroups',
        Effect: 'Allow',
        Action: 'autoscaling:SetInstanceHealth',
        Resource: arn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/web'),
      },
      { Sid: 'ReadAlarms', Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: '*' },
      {
        Sid: 'WriteOwnAlarms',
        Effect: 'Allow',
        Action: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms'],
        Resource: arn('cloudwatch', ':alarm:autoheal-status-check.AlarmsAndProbe.*'),
      },
      // The rails' memory: a consistent read and a conditional write of whole entries, on the table only.
      { Sid: 'RailsLedger', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealLedgerTable/), 'Arn'] } },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealFailureQueue/), 'Arn'] },
      },
      // The evidence queue's event source mapping: receive and delete, on that queue only.
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealEvidenceQueue/), 'Arn'] },
      },
      // The verdict channel's event source mapping (detection probe): likewise, on that queue only.
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealVerdictQueue/), 'Arn'] },
      },
      // Notices (monitoring): publish to the alert topic only.
      { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^AutoHealAlertTopic/) } },
    ]);
  });

  it('grants no "*" action anywhere and no managed AWS policy to the healer', () => {
    // Assess
    // Deny statements (enforceSSL's `sqs:*` on non-TLS requests) only take away.
    const allowed: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === 'object' && node !== null) {
        const o = node as Record<string, unknown>;
        if (o.Effect === 'Allow' && o.Action !== undefined) allowed.push(...([] as string[]).concat(o.Action as string[]));
        Object.values(o).forEach(walk);
      }
    };
    walk(alarmsAndProbe.toJSON());
    expect(allowed.length).toBeGreaterThan(10);
    expect(allowed.filter((a) => a.includes('*'))).toEqual([]);
    alarmsAndProbe.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({}),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('routes ALARM state changes of the prefix and the groups lifecycle events to the healer', () => {
    // Assess
    alarmsAndProbe.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: 'autoheal-status-check.AlarmsAndProbe.' }], state: { value: ['ALARM'] } },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 } })],
    });
    alarmsAndProbe.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance Launch Successful', 'EC2 Instance Terminate Successful'],
      },
    });
  });

  it('subscribes no healer to the topic (probe verdicts, OK ones too, come by the verdict channel), and the operator by e-mail', () => {
    // Assess
    alarmsAndProbe.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'lambda' }, 0);
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^AutoHealHealer') },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealVerdictQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    alarmsAndProbe.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('gives the probe host discovery, SendMessage on the verdict channel and its heartbeat in namespace autoheal only, attached to its role', () => {
    // Assess
    alarmsAndProbe.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: ['probe-host'],
      PolicyDocument: {
        Statement: [
          { Sid: 'DiscoverInstances', Effect: 'Allow', Action: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'], Resource: '*' },
          { Sid: 'SendVerdicts', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealVerdictQueue'), 'Arn'] } },
          {
            Sid: 'PublishHeartbeat',
            Effect: 'Allow',
            Action: 'cloudwatch:PutMetricData',
            Resource: '*',
            Condition: { StringEquals: { 'cloudwatch:namespace': 'autoheal' } },
          },
        ],
      },
    });
  });

  it('deletes the prefix alarms on stack deletion, after the healer and the rules are gone', () => {
    // Assess
    const [cleanupId] = Object.keys(alarmsAndProbe.findResources('Custom::AutohealAlarmCleanup'));
    alarmsAndProbe.hasResourceProperties('Custom::AutohealAlarmCleanup', { AlarmPrefix: 'autoheal-status-check.AlarmsAndProbe.' });
    alarmsAndProbe.hasResource('AWS::Lambda::Function', {
      Properties: { Handler: 'lambda.handler' },
      DependsOn: Match.arrayWith([cleanupId]),
    });
    for (const rule of Object.values(alarmsAndProbe.findResources('AWS::Events::Rule'))) {
      expect((rule as { DependsOn?: string[] }).DependsOn).toContain(cleanupId);
    }
    alarmsAndProbe.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('^AutoHealAlarmCleanupRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Sid: 'DeleteOwnAlarms', Effect: 'Allow', Action: 'cloudwatch:DeleteAlarms', Resource: arn('cloudwatch', ':alarm:autoheal-status-check.AlarmsAndProbe.*') },
        ]),
      },
    });
  });
});

describe('AutoHeal alarm sync', () => {
  it('runs the sync function every 10 minutes on a schedule rule, and the healer on its own schedule for held work only', () => {
    // Assess
    const scheduled = alarmsAndProbe.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(10 minutes)' } });
    const targetsOf = (fn: string) =>
      Object.entries(scheduled).filter(([, r]) => JSON.stringify((r as { Properties: { Targets: unknown } }).Properties.Targets).includes(`"${fn}`));
    expect(targetsOf('AutoHealAlarmSync1')).toHaveLength(1);
    expect(targetsOf('AutoHealHealer')).toHaveLength(1);
    expect(Object.keys(scheduled)).toHaveLength(2);
    alarmsAndProbe.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealAlarmSync1'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } })],
    });
    alarmsAndProbe.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Description: Match.stringLikeRegexp('held work'),
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealHealer'), 'Arn'] } })],
    });
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::Function', { Handler: 'alarm-sync.handler', Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 600 });
    // The sync may read the groups and alarms and write only the alarms of its prefix; nothing of the rails.
    expect((statementsOf(alarmsAndProbe, '^AutoHealAlarmSyncRole') as Array<{ Action: string | string[] }>).flatMap((st) => [st.Action].flat())).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'cloudwatch:DescribeAlarms',
      'cloudwatch:PutMetricAlarm',
      'cloudwatch:DeleteAlarms',
    ]);
  });

  it('starts one sync at deploy time with a custom resource whose function may only invoke the sync function', () => {
    // Assess
    alarmsAndProbe.hasResourceProperties('Custom::AutohealAlarmSync', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealAlarmSyncTrigger'), 'Arn'] },
      FunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealAlarmSync1'), 'Arn'] },
      Groups: 'web',
      OptInTag: 'autoheal:enabled=true',
    });
    alarmsAndProbe.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Code: { ZipFile: Match.stringLikeRegexp("InvocationType: 'Event'") },
    });
    const statements = statementsOf(alarmsAndProbe, '^AutoHealAlarmSyncTriggerRole');
    expect(statements).toEqual([
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealAlarmSyncTriggerLogGroup/), 'Arn'] },
      },
      { Sid: 'StartSync', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealAlarmSync1/), 'Arn'] } },
    ]);
  });

  it('keeps the inline handlers under the 4096 characters CloudFormation accepts inline', () => {
    // Assess
    const inline = Object.values(alarmsAndProbe.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: { Code: { ZipFile?: string } } }).Properties.Code.ZipFile)
      .filter((code): code is string => code !== undefined);
    expect(inline).toHaveLength(2);
    for (const code of inline) expect(code.length).toBeLessThanOrEqual(4096);
  });

  it('creates no sync without alarm detection', () => {
    // Assess
    bridge.resourceCountIs('Custom::AutohealAlarmSync', 0);
  });
});

describe('AutoHeal with the legacy queue', () => {
  it('accepts SendMessage only from the topic (aws:SourceArn) and dead-letters after 5 receives', () => {
    // Assess
    legacy.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'sqs:SendMessage',
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealLegacyQueue'), 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: Match.stringLikeRegexp('^AutoHealAlertTopic') } } },
          },
        ]),
      },
    });
    legacy.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 360,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    legacy.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'sqs' });
  });

  it('feeds the healer from the queue through an intake that invokes it asynchronously (a throttle never dead-letters a good alarm), and not a second way', () => {
    // Assess: the event source is on the intake, never on the single serialized healer.
    const intake = Object.keys(legacy.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Description: Match.stringLikeRegexp('legacy-queue record') } }));
    expect(intake).toHaveLength(1);
    legacy.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FunctionName: { Ref: intake[0] },
    });
    expect(statementsOf(legacy, '^AutoHealLegacyIntakeRole')).toContainEqual(
      expect.objectContaining({ Sid: 'HandToHealer', Action: 'lambda:InvokeFunction' }),
    );
    // Lifecycle events (to the evidence queue), held work, and the sync's schedule.
    legacy.resourceCountIs('AWS::Events::Rule', 3);
    legacy.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.autoscaling'] }) });
    legacy.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    legacy.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'lambda' }, 0);
  });

  it('scopes SetInstanceHealth to the custom opt-in tag when no group is named', () => {
    // Assess
    legacy.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'MarkOptedInGroups', Condition: { StringEquals: { 'autoscaling:ResourceTag/team': 'workers' } } }),
        ]),
      },
    });
    expect(JSON.stringify(legacy.toJSON())).not.toContain('MarkNamedGroups');
  });

  it('with a bridge consumer creates its policy instead of an event source, and no alarm writes without alarms', () => {
    // Assess
    // Only the verdict channel's mapping (detection probe): the legacy queue's consumer is the bridge.
    bridge.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    bridge.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AutoHealVerdictQueue'), 'Arn'] } });
    // Only monitoring's heartbeat-alarm rule (observers run with detection probe): no evidence reaches the healer directly.
    bridge.resourceCountIs('AWS::Events::Rule', 1);
    bridge.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ detail: Match.objectLike({ configuration: Match.anyValue() }) }) });
    bridge.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }) });
    bridge.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ConsumeQueue',
            Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
          }),
          Match.objectLike({ Sid: 'InvokeHealer', Action: 'lambda:InvokeFunction' }),
        ]),
      },
    });
    expect(JSON.stringify(bridge.toJSON())).not.toContain('cloudwatch:PutMetricAlarm');
  });
});

describe('AutoHeal with Metrics Insights alarms', () => {
  it('creates one alarm per named group with the alarm manager\'s query and settings, notifying the topic', () => {
    // Assess
    // Two group alarms (Metrics Insights queries), and monitoring's seven about the stack itself.
    expect(Object.keys(insights.findResources('AWS::CloudWatch::Alarm', { Properties: { Metrics: Match.anyValue() } }))).toHaveLength(2);
    insights.resourceCountIs('AWS::CloudWatch::Alarm', 9);
    insights.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'autoheal-status-check.Insights.group-web',
      Metrics: [
        {
          Id: 'status',
          Expression: `SELECT MAX(StatusCheckFailed) FROM SCHEMA("AWS/EC2", InstanceId) WHERE tag."aws:autoscaling:groupName" = 'web' GROUP BY InstanceId`,
          Period: 60,
          ReturnData: true,
        },
      ],
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'missing',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AutoHealAlertTopic') }],
    });
    insights.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [Match.objectLike({ Expression: Match.stringLikeRegexp("= 'o''neil' GROUP BY InstanceId$") })],
    });
    insights.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ AUTOHEAL_ALARM_MODE: 'metrics-insights' }) },
    });
  });

  it('routes contributor state changes to the healer, has no lifecycle rule, and deletes the alarms before the cleanup runs', () => {
    // Assess
    // Contributor changes, held work, the sync's schedule.
    insights.resourceCountIs('AWS::Events::Rule', 3);
    insights.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    insights.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm Contributor State Change'],
        detail: { alarmName: [{ prefix: 'autoheal-status-check.Insights.' }], state: { value: ['ALARM'] } },
      },
    });
    const [cleanupId] = Object.keys(insights.findResources('Custom::AutohealAlarmCleanup'));
    for (const alarm of Object.values(insights.findResources('AWS::CloudWatch::Alarm', { Properties: { Metrics: Match.anyValue() } }))) {
      expect((alarm as { DependsOn?: string[] }).DependsOn).toContain(cleanupId);
    }
  });

  it('leaves the alarms of groups opted in by tag only to the scheduled sync, without a synth warning', () => {
    // Assess
    Annotations.fromStack(insightsTagged).hasNoWarning('*', Match.anyValue());
    const template = Template.fromStack(insightsTagged);
    // Only monitoring's alarms about the stack itself (failure queue, healer errors and throttles, failed decisions,
    // the evidence queue's oldest message and dead letters, the sync's errors).
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { Metrics: Match.anyValue() } }))).toHaveLength(0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
  });
});

describe('AutoHeal props', () => {
  it.each<[string, Omit<AutoHealProps, 'bundleDir'>, RegExp]>([
    ['no detection', { detection: [] }, /detection: name at least one/],
    ['alarm settings without alarms', { detection: ['probe'], alarm: { evaluationPeriods: 3 } }, /alarm: settings given/],
    ['probe settings without probe', { probe: {} }, /probe: settings given/],
    ['a share above 1', { maxUnhealthyShare: 1.5 }, /maxUnhealthyShare: Too big: expected number to be <=1/],
    ['a dry-run that is not a boolean (JavaScript, context)', { dryRun: 'yes' as unknown as boolean }, /dryRun: must be true or false, got "yes"/],
    ['an unknown legacy consumer', { legacyQueue: { consumer: 'sqs' as 'lambda' } }, /legacyQueue.consumer: must be "lambda" or "bridge", got "sqs"/],
    ['a suspicion share above 1', { rails: { suspicionShare: 2 } }, /rails.suspicionShare: Too big/],
    ['a probe quorum of 0', { rails: { probeQuorum: 0 } }, /rails.probeQuorum: Too small/],
    ['an unknown log level', { logLevel: 'loud' as 'info' }, /logLevel: must be one of/],
    ['a bad e-mail', { notificationEmail: 'ops' }, /notificationEmail/],
    ['a period CloudWatch refuses', { alarm: { period: Duration.seconds(45) } }, /alarm.periodSeconds: must be 10, 20, 30 or a multiple of 60/],
    ['a prefix overlapping the probe names', { alarm: { prefix: 'autoheal-' } }, /overlaps the probe/],
    ['a group named twice', { groups: ['web', 'web'] }, /named twice/],
    ['a sub-minute period with Metrics Insights', { alarm: { mode: 'metrics-insights', period: Duration.seconds(10) } }, /alarm.periodSeconds: must be a multiple of 60 in metrics-insights mode/],
    ['a memory size Lambda refuses', { memorySize: 64 }, /memorySize: must be an integer from 128 to 10240 MB, got 64/],
    ['a timeout Lambda refuses', { timeout: Duration.minutes(16) }, /timeout: must be from 10 to 900 seconds, got 960/],
    ['an opt-in tag key with "="', { optInTag: { key: 'a=b', value: 'x' } }, /optInTag.key/],
    ['a sync interval of part of a minute', { alarm: { syncInterval: Duration.seconds(90) } }, /alarm.syncInterval: must be whole minutes from 1 to 1440, got 90 seconds/],
    ['a sync interval above a day', { alarm: { syncInterval: Duration.days(2) } }, /alarm.syncInterval: must be whole minutes from 1 to 1440, got 172800 seconds/],
    ['an unknown detection', { detection: ['ping' as never] }, /detection: unknown "ping"/],
    ['a dead-letter count out of range', { legacyQueue: { maxReceiveCount: 0 } }, /legacyQueue.maxReceiveCount: must be an integer from 1 to 1000, got 0/],
  ])('rejects %s with a clear message', (_name, props, message) => {
    // Act
    const act = (): unknown => new AutoHeal(new Stack(new App()), 'AutoHeal', { ...props, bundleDir });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(message);
  });

  it('rejects a missing bundle, telling how to build it', () => {
    // Act
    const act = (): unknown => new AutoHeal(new Stack(new App()), 'AutoHeal', { bundleDir: join(bundleDir, 'nope') });

    // Assess
    expect(act).toThrow(/lambda\.mjs not found \(run "npm run build"/);
  });
});

describe('examples/cdk-app', () => {
  it('synthesizes for the group named in context, with no credentials and no network', () => {
    // Prepare
    const outdir = mkdtempSync(join(tmpdir(), 'autoheal-example-'));
    try {
      // Act
      const { app: example, stack } = buildApp(new App({ outdir, context: { group: 'my-workers', bundleDir } }));
      const assembly = example.synth();

      // Assess
      const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ AUTOHEAL_GROUPS: 'my-workers' }) },
      });
      expect(stack.account).toMatch(/^\$\{Token/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('takes several groups and the Metrics Insights mode from context', () => {
    // Prepare
    const outdir = mkdtempSync(join(tmpdir(), 'autoheal-example-'));
    try {
      // Act
      const context = { group: 'a,b', alarmMode: 'metrics-insights', maxUnhealthyShare: '0.25', bundleDir };
      const { app: example, stack } = buildApp(new App({ outdir, context }));
      const template = Template.fromJSON(example.synth().getStackByName(stack.stackName).template as Record<string, unknown>);

      // Assess
      expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { Metrics: Match.anyValue() } }))).toHaveLength(2);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ AUTOHEAL_GROUPS: 'a,b', AUTOHEAL_MAX_UNHEALTHY_SHARE: '0.25', AUTOHEAL_ALARM_MODE: 'metrics-insights' }) },
      });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('refuses to synthesize without a group', () => {
    // Act / Assess
    expect(() => buildApp(new App({ context: { bundleDir } }))).toThrow(/-c group=NAME/);
  });

  it.each([
    [{ dryRun: 'yes' }, /-c dryRun=yes: expected true or false/],
    [{ dryRun: '1' }, /-c dryRun=1: expected true or false/],
    [{ dryRun: 'TRUE' }, /-c dryRun=TRUE: expected true or false/],
    [{ legacyQueue: 'sqs' }, /legacyQueue.consumer: must be "lambda" or "bridge", got "sqs"/],
    [{ maxUnhealthyShare: 'forty' }, /maxUnhealthyShare/],
  ])('fails closed on context it does not understand: %j', (context, message) => {
    expect(() => buildApp(new App({ context: { group: 'g', bundleDir, ...context } }))).toThrow(message);
  });

  it('-c dryRun=true deploys a dry-run healer', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'autoheal-example-'));
    try {
      const { app: example, stack } = buildApp(new App({ outdir, context: { group: 'g', dryRun: 'true', bundleDir } }));
      const template = Template.fromJSON(example.synth().getStackByName(stack.stackName).template as Record<string, unknown>);
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ AUTOHEAL_DRY_RUN: 'true' }) } });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
