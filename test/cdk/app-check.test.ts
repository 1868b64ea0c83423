/**
 * Detection `app-checks` as the synthesized stack has it: an EC2 application status check with
 * aggregation `excluded` on the probe's port and path, associated with the named groups' instances
 * by `aws:autoscaling:groupName`, a reader that may read the check and send to the verdict channel
 * and nothing else, the channel closed to its senders, and the healer counting aws-app-check.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/cdk-app/app.js';
import { appCheckEnv } from '../../src/app-check/settings.js';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { autohealEnv } from '../../src/config.js';
import { stubBundleDir } from '../helpers/bundles.js';

let bundleDir: string;
let outdir: string;
const subnets = [
  { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
  { subnetId: 'subnet-0bbb', availabilityZone: 'us-east-1b' },
];
type Resource = { Properties: Record<string, unknown> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

beforeAll(() => {
  bundleDir = stubBundleDir();
  outdir = mkdtempSync(join(tmpdir(), 'autoheal-cdk-out-'));
});
afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

function synth(id: string, props: Omit<AutoHealProps, 'bundleDir'>): { t: Template; stack: Stack } {
  const stack = new Stack(new App({ outdir }), id);
  new AutoHeal(stack, 'AutoHeal', { ...props, bundleDir });
  return { t: Template.fromStack(stack), stack };
}

const healerEnv = (t: Template): Record<string, unknown> =>
  ((Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'lambda.handler' } }))[0] as Resource).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
const reader = (t: Template): Record<string, unknown> => (Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'app-check.handler' } }))[0] as Resource).Properties;
function roleStatements(t: Template, roleIdPrefix: string): Statement[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .map((p) => (p as Resource).Properties)
    .filter((p) => JSON.stringify(p.Roles).includes(roleIdPrefix))
    .flatMap((p) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
}

describe('detection alarms,app-checks (no observers)', () => {
  it('creates the check with aggregation excluded on the default port and path, associated by group-name tag', () => {
    const { t } = synth('AppChecks', { groups: ['web', 'api'], detection: ['alarms', 'app-checks'] });
    t.resourceCountIs('AWS::EC2::ApplicationStatusCheck', 1);
    t.hasResourceProperties('AWS::EC2::ApplicationStatusCheck', { Protocol: 'http', Port: 80, Path: '/health', Aggregation: 'excluded', StatusCodeMatcher: '200' });
    const association = Object.values(t.findResources('Custom::AWS')).map((r) => JSON.stringify((r as Resource).Properties));
    const create = association.find((p) => p.includes('associateApplicationStatusCheck'));
    expect(create).toBeDefined();
    for (const group of ['web', 'api']) expect(create).toContain(`{\\"Key\\":\\"aws:autoscaling:groupName\\",\\"Value\\":\\"${group}\\"}`);
    expect(create).toContain('disassociateApplicationStatusCheck');
  });

  it('counts aws-app-check among the healer accepted observers, and closes the verdict channel to the reader', () => {
    const { t } = synth('AppChecksVoters', { groups: ['web'], detection: ['alarms', 'app-checks'] });
    expect(healerEnv(t)[autohealEnv.observers]).toBe('aws-app-check');
    const queuePolicy = Object.values(t.findResources('AWS::SQS::QueuePolicy'))
      .flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .find((s) => s.Sid === 'OnlyObserversSend');
    expect(JSON.stringify(queuePolicy?.Condition)).toMatch(/AutoHealAppCheckRole/);
    const env = (reader(t).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env).sort()).toEqual([appCheckEnv.checkId, appCheckEnv.groups, appCheckEnv.verdictQueueUrl, autohealEnv.ledgerTable].sort());
    expect(env[appCheckEnv.groups]).toBe('web');
    expect(JSON.stringify(env[appCheckEnv.checkId])).toMatch(/AutoHealAppStatusCheck.*ApplicationStatusCheckId/);
    // Not in a VPC: it calls only AWS APIs.
    expect(reader(t).VpcConfig).toBeUndefined();
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AutoHealAppCheckReader'), 'Arn'] } })] });
  });

  it('grants the reader only reading the check, sending to the verdict channel, its lease and its logs; the association only its own check', () => {
    const { t } = synth('AppChecksIam', { groups: ['web'], detection: ['alarms', 'app-checks'] });
    const statements = roleStatements(t, 'AutoHealAppCheckRole');
    expect(statements.map((s) => [s.Sid, s.Action])).toEqual([
      ['WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents']],
      ['ReadCheck', ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeApplicationStatus']],
      ['SendVerdicts', 'sqs:SendMessage'],
      ['OwnLease', expect.anything()],
    ]);
    expect(JSON.stringify(statements.find((s) => s.Sid === 'SendVerdicts')?.Resource)).toMatch(/AutoHealVerdictQueue/);
    const associationPolicy = Object.values(t.findResources('AWS::IAM::Policy'))
      .flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .find((s) => JSON.stringify(s.Action).includes('AssociateApplicationStatusCheck'));
    expect(associationPolicy?.Action).toEqual(['ec2:AssociateApplicationStatusCheck', 'ec2:DisassociateApplicationStatusCheck']);
    expect(associationPolicy?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AutoHealAppStatusCheck/), 'Arn'] });
  });

  it('alarms on the stack-health topic when every read of a run fails, and when the reader does not run at all', () => {
    const { t } = synth('AppChecksAlarm', { groups: ['web'], detection: ['alarms', 'app-checks'] });
    const reader = [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('AutoHealAppCheckReader') } }];
    const stackHealth = [{ Ref: Match.stringLikeRegexp('AutoHealMonitoringStackAlarmTopic') }];
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: reader, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', AlarmActions: stackHealth });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: reader, EvaluationPeriods: 3, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', AlarmActions: stackHealth });
  });

  it('warns that aws-app-check alone never completes a quorum of two', () => {
    const { stack } = synth('AppChecksAlone', { groups: ['web'], detection: ['alarms', 'app-checks'] });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('aws-app-check is one vote of the 2 the quorum needs'));
  });
});

describe('detection probe,app-checks', () => {
  it('checks the probe port and path, and the healer counts every observer and aws-app-check', () => {
    const { t, stack } = synth('ProbeAppChecks', { groups: ['web'], detection: ['probe', 'app-checks'], probe: { subnets, port: 8080, path: '/ready' } });
    t.hasResourceProperties('AWS::EC2::ApplicationStatusCheck', { Port: 8080, Path: '/ready', Aggregation: 'excluded' });
    expect(healerEnv(t)[autohealEnv.observers]).toBe('observer-us-east-1a,observer-us-east-1b,aws-app-check');
    const senders = Object.values(t.findResources('AWS::SQS::QueuePolicy'))
      .flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .find((s) => s.Sid === 'OnlyObserversSend');
    expect(JSON.stringify(senders?.Condition)).toMatch(/AutoHealObserversRole.*AutoHealAppCheckRole/);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('aws-app-check'))).toEqual([]);
  });

  it('counts aws-app-check toward the quorum the construct checks: 3 of two observers and the check is reachable, 4 is not', () => {
    expect(() => synth('Quorum3', { groups: ['web'], detection: ['probe', 'app-checks'], probe: { subnets }, rails: { probeQuorum: 3 } })).not.toThrow();
    expect(() => synth('Quorum4', { groups: ['web'], detection: ['probe', 'app-checks'], probe: { subnets }, rails: { probeQuorum: 4 } })).toThrow(/rails.probeQuorum: 4 observers must agree, but 3 are deployed/);
  });
});

describe('examples/cdk-app -c detection=alarms,app-checks', () => {
  it('synthesizes the check (aggregation excluded, on -c probePort) and the healer counting aws-app-check, with no credentials', () => {
    const { stack } = buildApp(new App({ outdir, context: { group: 'g', detection: 'alarms,app-checks', probePort: '8080', bundleDir } }));
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::ApplicationStatusCheck', { Aggregation: 'excluded', Port: 8080, Path: '/health' });
    expect(healerEnv(t)[autohealEnv.observers]).toBe('aws-app-check');
  });
});

describe('cfn-lint', () => {
  // cfn-lint's resource specs (1.51) predate application status checks: its one error is the type it does not know.
  it.runIf(spawnSync('cfn-lint', ['--version']).status === 0)('finds no error but the resource type its specs do not have yet', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'autoheal-cfn-lint-')) });
    const stack = new Stack(app, 'Lint');
    new AutoHeal(stack, 'AutoHeal', { groups: ['web'], detection: ['alarms', 'probe', 'app-checks'], probe: { subnets }, bundleDir });
    const file = app.synth().getStackByName('Lint').templateFullPath;
    const out = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8' });
    const errors = out.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l));
    expect(errors.map((l) => l.replace(/^.*?:E/, 'E'))).toEqual(["E3006:Resource type 'AWS::EC2::ApplicationStatusCheck' does not exist in 'us-east-1'"]);
  });
});

describe('refusals', () => {
  it.each([
    ['a tcp check, which EC2 application status checks cannot make', { probe: { check: 'tcp' as const } }, /probe.check: "tcp" cannot be read by detection app-checks/],
    ['observers without detection probe', { probe: { subnets } }, /probe.subnets: observers are deployed only with detection "probe"/],
    ['a path not starting with /', { probe: { path: 'health' } }, /probe.path: must start with "\/"/],
  ])('refuses %s', (_, extra, message) => {
    expect(() => synth(`Refuse${Math.random().toString(36).slice(2, 8)}`, { groups: ['web'], detection: ['alarms', 'app-checks'], ...extra })).toThrow(message);
  });

  it('refuses a bundle folder without app-check.mjs, naming it', () => {
    const stack = new Stack(new App({ outdir }), 'NoBundle');
    const empty = mkdtempSync(join(tmpdir(), 'autoheal-nobundle-'));
    try {
      expect(() => new AutoHeal(stack, 'AutoHeal', { groups: ['web'], detection: ['probe', 'app-checks'], bundleDir: empty })).toThrow(/app-check\.mjs not found, and detection app-checks needs it/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
