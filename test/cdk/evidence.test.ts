/**
 * Evidence before termination in the construct (`quarantine: 'capture'`, the example app's
 * `-c quarantine=capture`): a termination lifecycle hook per named group that continues by
 * default, a bucket whose documents expire, the evidence function and its rule, IAM scoped to the
 * named groups, and the healer told where to keep each mark's evidence. `quarantine: 'retain'`
 * (`-c quarantine=retain -c retainAtMost=N`): all that, and the function told N and the ledger
 * table, allowed only the items `retain#…` of it.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/cdk-app/app.js';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { evidenceOf } from '../../src/cdk/evidence-settings.js';
import { stubBundleDir } from '../helpers/bundles.js';

let work: string;
let bundleDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'autoheal-evidence-cdk-'));
  bundleDir = stubBundleDir(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function synthExample(context: Record<string, string>): Template {
  const { app, stack } = buildApp(new App({ outdir: mkdtempSync(join(work, 'out-')), context: { bundleDir, ...context } }));
  return Template.fromJSON(app.synth().getStackByName(stack.stackName).template as Record<string, unknown>);
}

function statementsOf(template: Template, policyName: string): Array<Record<string, unknown>> {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(policyName) } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement);
}

const statement = (statements: Array<Record<string, unknown>>, sid: string) => statements.find((s) => s.Sid === sid);

describe('quarantine: capture (examples/cdk-app -c quarantine=capture)', () => {
  let template: Template;
  beforeAll(() => {
    template = synthExample({ group: 'web,batch', quarantine: 'capture' });
  });

  it('holds each named group\'s terminations briefly with a hook that continues by default', () => {
    // Assess
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
    for (const group of ['web', 'batch']) {
      template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
        AutoScalingGroupName: group,
        LifecycleHookName: 'autoheal-evidence-AutoHeal',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 60,
        DefaultResult: 'CONTINUE',
      });
    }
  });

  it('keeps the evidence in a private bucket whose documents expire', () => {
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ Prefix: 'evidence/', ExpirationInDays: 30, Status: 'Enabled' })] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    expect(Object.keys(template.findOutputs('*')).some((name) => name.startsWith('AutoHealEvidenceBucketName'))).toBe(true);
  });

  it('delivers only its hook\'s termination actions of the named groups to the evidence function', () => {
    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: ['web', 'batch'], LifecycleHookName: ['autoheal-evidence-AutoHeal'] },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'evidence.handler', Timeout: 30, Environment: { Variables: Match.objectLike({ AUTOHEAL_EVIDENCE_BUCKET: Match.anyValue() }) } });
  });

  it('grants ec2:GetConsoleOutput and autoscaling:CompleteLifecycleAction on the named groups only, as SetInstanceHealth is', () => {
    // Prepare
    const statements = statementsOf(template, '^AutoHealEvidenceRole');

    // Assess
    const complete = statement(statements, 'CompleteNamedGroupsHooks');
    expect(complete?.Action).toBe('autoscaling:CompleteLifecycleAction');
    expect(JSON.stringify(complete?.Resource)).toContain(':autoScalingGroupName/web');
    expect(JSON.stringify(complete?.Resource)).toContain(':autoScalingGroupName/batch');
    const marks = statement(statementsOf(template, '^AutoHealHealerRole'), 'MarkNamedGroups');
    expect(complete?.Resource).toEqual(marks?.Resource);
    const consoles = statement(statements, 'ReadNamedGroupsConsoles');
    expect(consoles?.Action).toBe('ec2:GetConsoleOutput');
    expect(consoles?.Condition).toEqual({ StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': ['web', 'batch'] } });
    expect(JSON.stringify(consoles?.Resource)).toContain(':instance/*');
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('autoscaling:SetInstanceHealth');
  });

  it('tells the healer where to keep each mark\'s evidence, and lets it write there only', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'lambda.handler', Environment: { Variables: Match.objectLike({ AUTOHEAL_EVIDENCE_BUCKET: Match.anyValue() }) } });
    const keep = statement(statementsOf(template, '^AutoHealHealerRole'), 'KeepMarkEvidence');
    expect(keep?.Action).toBe('s3:PutObject');
    expect(JSON.stringify(keep?.Resource)).toContain('/evidence/*');
  });
});

describe('quarantine: retain (examples/cdk-app -c quarantine=retain -c retainAtMost=2)', () => {
  let template: Template;
  beforeAll(() => {
    template = synthExample({ group: 'web,batch', quarantine: 'retain', retainAtMost: '2' });
  });

  it('does all capture does: the same hooks, continuing by default, so a failure of autoheal never keeps an instance', () => {
    // Assess
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
    for (const group of ['web', 'batch']) {
      template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { AutoScalingGroupName: group, HeartbeatTimeout: 60, DefaultResult: 'CONTINUE' });
    }
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ Prefix: 'evidence/', ExpirationInDays: 30 })] } });
  });

  it('tells the evidence function N and the ledger table where it counts the retained', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'evidence.handler',
      Environment: { Variables: Match.objectLike({ AUTOHEAL_EVIDENCE_BUCKET: Match.anyValue(), AUTOHEAL_RETAIN_AT_MOST: '2', AUTOHEAL_LEDGER_TABLE: { Ref: Match.stringLikeRegexp('^AutoHealLedgerTable') } }) },
    });
  });

  it('announces a retained instance on the alert topic: the topic in its environment, Publish on that topic only', () => {
    // Prepare
    const publish = statementsOf(template, '^AutoHealEvidenceRole').filter((s) => [s.Action].flat().includes('sns:Publish'));

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'evidence.handler',
      Environment: { Variables: Match.objectLike({ AUTOHEAL_NOTICE_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^AutoHealAlertTopic') } }) },
    });
    expect(publish).toHaveLength(1);
    expect(publish[0]?.Resource).toEqual({ Ref: expect.stringMatching(/^AutoHealAlertTopic/) as unknown });
  });

  it('grants the ledger table to the retention slots only, and completing (ABANDON included) on the named groups only', () => {
    // Prepare
    const statements = statementsOf(template, '^AutoHealEvidenceRole');

    // Assess
    const count = statement(statements, 'CountRetained');
    expect(count?.Action).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(JSON.stringify(count?.Resource)).toContain('AutoHealLedgerTable');
    expect(count?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['retain#*'] } });
    const complete = statement(statements, 'CompleteNamedGroupsHooks');
    expect(complete?.Resource).toEqual(statement(statementsOf(template, '^AutoHealHealerRole'), 'MarkNamedGroups')?.Resource);
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('dynamodb:DeleteItem');
  });

  it.runIf(spawnSync('cfn-lint', ['--version']).status === 0)('passes cfn-lint (errors; W3005 is CDK style)', () => {
    // Act
    const { app, stack } = buildApp(new App({ outdir: mkdtempSync(join(work, 'lint-')), context: { bundleDir, group: 'web', quarantine: 'retain' } }));
    const out = spawnSync('cfn-lint', ['--format', 'parseable', app.synth().getStackByName(stack.stackName).templateFullPath], { encoding: 'utf8' });

    // Assess: exit status 0 or warnings only (cfn-lint's errors set bit 2).
    expect(out.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l))).toEqual([]);
    expect(out.status === 0 || (out.status !== null && (out.status & 2) === 0)).toBe(true);
  });

  it('capture gets no ledger access and no N', () => {
    // Act
    const capture = synthExample({ group: 'web', quarantine: 'capture' });

    // Assess
    expect(statement(statementsOf(capture, '^AutoHealEvidenceRole'), 'CountRetained')).toBeUndefined();
    capture.hasResourceProperties('AWS::Lambda::Function', { Handler: 'evidence.handler', Environment: { Variables: Match.not(Match.objectLike({ AUTOHEAL_RETAIN_AT_MOST: Match.anyValue() })) } });
  });

  it('exposes in its settings that the mode is retain and N (default 1), for the groups\' lifecycle policy', () => {
    // Act
    const problems: string[] = [];
    const defaulted = evidenceOf({ groups: ['web'], quarantine: 'retain' }, 'S', problems);
    const given = evidenceOf({ groups: ['web'], quarantine: 'retain', retainAtMost: 3 }, 'S', problems);
    const capture = evidenceOf({ groups: ['web'], quarantine: 'capture' }, 'S', problems);

    // Assess
    expect(problems).toEqual([]);
    expect(defaulted).toMatchObject({ mode: 'retain', retainAtMost: 1, hookName: 'autoheal-evidence-S' });
    expect(given).toMatchObject({ mode: 'retain', retainAtMost: 3 });
    expect(capture).toEqual({ mode: 'capture', retentionDays: 30, hookName: 'autoheal-evidence-S' });
  });
});

describe('quarantine off (the default)', () => {
  it('adds no hook, no bucket and no evidence setting', () => {
    // Act
    const template = synthExample({ group: 'web' });

    // Assess
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'lambda.handler', Environment: { Variables: Match.not(Match.objectLike({ AUTOHEAL_EVIDENCE_BUCKET: Match.anyValue() })) } });
  });
});

describe('quarantine props that cannot work', () => {
  it.each<[string, Omit<AutoHealProps, 'bundleDir'>, string]>([
    ['an unknown mode', { groups: ['web'], quarantine: 'keep' as 'capture' }, 'quarantine: must be "off", "capture", "retain", got "keep"'],
    ['retainAtMost without retain', { groups: ['web'], quarantine: 'capture', retainAtMost: 2 }, 'retainAtMost: given, but quarantine is "capture" (set quarantine: "retain" to keep marked instances)'],
    ['retainAtMost with quarantine off', { groups: ['web'], retainAtMost: 1 }, 'retainAtMost: given, but quarantine is "off"'],
    ['no retained instance at all', { groups: ['web'], quarantine: 'retain', retainAtMost: 0 }, 'retainAtMost: must be a whole number from 1 to 10, got 0'],
    ['more retained than the ceiling', { groups: ['web'], quarantine: 'retain', retainAtMost: 11 }, 'retainAtMost: must be a whole number from 1 to 10, got 11'],
    ['a fraction of an instance', { groups: ['web'], quarantine: 'retain', retainAtMost: 1.5 }, 'retainAtMost: must be a whole number from 1 to 10, got 1.5'],
    ['retain without a named group', { quarantine: 'retain' }, 'quarantine: "retain" holds the terminations of the groups named in `groups`, and none is named'],
    ['no named group', { quarantine: 'capture' }, 'quarantine: "capture" holds the terminations of the groups named in `groups`, and none is named'],
    ['a retention without quarantine', { groups: ['web'], evidenceRetention: Duration.days(7) }, 'evidenceRetention: given, but quarantine is "off"'],
    ['a retention in hours', { groups: ['web'], quarantine: 'capture', evidenceRetention: Duration.hours(36) }, 'evidenceRetention: must be whole days from 1 to 3650, got 1.5'],
  ])('refuses %s, naming the prop', (_name, props, message) => {
    // Act
    const act = () => new AutoHeal(new Stack(new App(), 'S'), 'AutoHeal', { ...props, bundleDir });

    // Assess
    expect(act).toThrow(message);
  });

  it('sets the retention it is given', () => {
    // Act
    const stack = new Stack(new App(), 'S');
    new AutoHeal(stack, 'AutoHeal', { groups: ['web'], quarantine: 'capture', evidenceRetention: Duration.days(7), bundleDir });

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] } });
  });
});
