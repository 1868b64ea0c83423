/**
 * Replacement before removal in the construct (`replacement: 'launch-before-terminate'`, the
 * example app's `-c replacement=launch-before-terminate`): one custom resource per named group,
 * served by the group settings function through the CDK Provider, IAM scoped to the named groups,
 * and the healer told the order it should find. Retention on an abandoned hook is an input of the
 * same resources (quarantine `retain` asks for it), false unless asked.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/cdk-app/app.js';
import { AutoHeal } from '../../src/cdk/index.js';
import { groupSettings } from '../../src/cdk/group-settings.js';
import { groupSettingsOf } from '../../src/cdk/group-settings-props.js';
import { resolveProps } from '../../src/cdk/resolve.js';
import { stubBundleDir } from '../helpers/bundles.js';

let work: string;
let bundleDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'autoheal-group-settings-cdk-'));
  bundleDir = stubBundleDir(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function synthExample(context: Record<string, string>): { template: Template; file: string } {
  const { app, stack } = buildApp(new App({ outdir: mkdtempSync(join(work, 'out-')), context: { bundleDir, ...context } }));
  const artifact = app.synth().getStackByName(stack.stackName);
  return { template: Template.fromJSON(artifact.template as Record<string, unknown>), file: artifact.templateFullPath };
}

function statementsOf(template: Template, policyName: string): Array<Record<string, unknown>> {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(policyName) } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement);
}

const groupArn = (group: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':autoscaling:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:autoScalingGroup:*:autoScalingGroupName/${group}`]],
});

describe('replacement: launch-before-terminate (examples/cdk-app -c replacement=launch-before-terminate)', () => {
  let synth: { template: Template; file: string };
  beforeAll(() => {
    synth = synthExample({ group: 'web,batch', replacement: 'launch-before-terminate' });
  });

  it('sets each named group\'s policy through one custom resource per group, retention left off', () => {
    // Assess
    const { template } = synth;
    template.resourceCountIs('Custom::AutohealGroupSettings', 2);
    for (const group of ['web', 'batch']) {
      template.hasResourceProperties('Custom::AutohealGroupSettings', {
        ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('GroupSettingsProviderframeworkonEvent'), 'Arn'] },
        GroupName: group,
        Owner: 'AutoHeal',
        Replacement: 'launch-before-terminate',
        RetainOnAbandon: 'false',
      });
    }
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'group-settings.handler', Runtime: 'nodejs22.x' });
  });

  it('grants UpdateAutoScalingGroup and the record tag on the named groups only, Describe on *, and no PassRole', () => {
    // Assess
    const statements = statementsOf(synth.template, 'GroupSettingsRole');
    expect(statements.find((s) => s.Sid === 'SetNamedGroupsPolicies')).toEqual({
      Sid: 'SetNamedGroupsPolicies',
      Effect: 'Allow',
      Action: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'],
      Resource: [groupArn('web'), groupArn('batch')],
    });
    expect(statements.find((s) => s.Sid === 'ReadGroups')).toMatchObject({ Action: 'autoscaling:DescribeAutoScalingGroups', Resource: '*' });
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => a.startsWith('iam:'))).toEqual([]);
    expect(actions.filter((a) => a.startsWith('autoscaling:') && a !== 'autoscaling:DescribeAutoScalingGroups').every((a) => statements.some((s) => s.Sid === 'SetNamedGroupsPolicies' && (s.Action as string[]).includes(a)))).toBe(true);
  });

  it('tells the healer the order it should find', () => {
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'lambda.handler',
      Environment: { Variables: Match.objectLike({ AUTOHEAL_REPLACEMENT: 'launch-before-terminate' }) },
    });
  });

  it.runIf(spawnSync('cfn-lint', ['--version']).status === 0)('passes cfn-lint (errors; W3005 is CDK style)', () => {
    const out = spawnSync('cfn-lint', ['--format', 'parseable', synth.file], { encoding: 'utf8' });
    const errors = out.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l));
    expect(errors).toEqual([]);
    expect(out.status === 0 || (out.status !== null && (out.status & 2) === 0)).toBe(true);
  });
});

describe('replacement left unchanged, and the mistakes', () => {
  it('creates nothing and tells the healer nothing by default', () => {
    // Act
    const { template } = synthExample({ group: 'web' });

    // Assess
    template.resourceCountIs('Custom::AutohealGroupSettings', 0);
    const healers = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'lambda.handler' } });
    for (const h of Object.values(healers)) expect(JSON.stringify(h)).not.toContain('AUTOHEAL_REPLACEMENT');
  });

  it('refuses an order it does not know, and launch-first without a named group, naming the prop', () => {
    expect(() => synthExample({ group: 'web', replacement: 'launch-first' })).toThrow('replacement: must be "unchanged" or "launch-before-terminate", got "launch-first"');
    const stack = new Stack(new App(), 'NoGroups');
    expect(() => new AutoHeal(stack, 'AutoHeal', { replacement: 'launch-before-terminate', bundleDir })).toThrow(
      'replacement: "launch-before-terminate" sets the instance maintenance policy of the groups named in `groups`, and none is named',
    );
  });

  it('takes retention on an abandoned hook as an input, false unless asked, and applies it alone', () => {
    // Prepare
    expect(groupSettingsOf({ groups: ['web'] }, [])).toBeUndefined();
    const settings = groupSettingsOf({ groups: ['web'] }, [], true);
    expect(settings).toEqual({ replacement: 'unchanged', retainOnAbandon: true });
    const stack = new Stack(new App(), 'Retain');
    const config = resolveProps(stack, { groups: ['web'], bundleDir });
    const fn = new lambda.Function(stack, 'Healer', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'lambda.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });

    // Act
    groupSettings(stack, { config, settings: settings as NonNullable<typeof settings>, healer: { fn, failureQueue: new sqs.Queue(stack, 'Failures') } });
    const template = Template.fromStack(stack);

    // Assess
    template.hasResourceProperties('Custom::AutohealGroupSettings', { GroupName: 'web', Replacement: 'unchanged', RetainOnAbandon: 'true' });
    expect(JSON.stringify(template.toJSON())).not.toContain('AUTOHEAL_REPLACEMENT');
  });
});
