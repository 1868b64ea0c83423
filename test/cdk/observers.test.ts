/**
 * The observers the construct deploys with detection `probe` and `probe.subnets`: one looping
 * Lambda per Availability Zone, VPC-attached, on a schedule, reserving no concurrency (a lease in the ledger table), a
 * security group, least-privilege IAM and a heartbeat alarm per observer; and the example app's
 * strict `-c subnets=` parsing. The synthesized template is checked by cfn-lint where installed.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, parseSubnets } from '../../examples/cdk-app/app.js';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { observerEnv } from '../../src/observer/settings.js';
import { stubBundleDir } from '../helpers/bundles.js';

let bundleDir: string;
let template: Template;
let withVpc: Template;
let outdir: string;

const subnets = [
  { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
  { subnetId: 'subnet-0bbb', availabilityZone: 'us-east-1b' },
  { subnetId: 'subnet-0ccc', availabilityZone: 'us-east-1c' },
];

function synth(id: string, props: Omit<AutoHealProps, 'bundleDir'>): Template {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'autoheal-cdk-out-')) });
  const stack = new Stack(app, id);
  new AutoHeal(stack, 'AutoHeal', { ...props, bundleDir });
  return Template.fromStack(stack);
}

/** Every action of every IAM policy in the template. */
function actionsOf(t: Template): string[] {
  const docs = [
    ...Object.values(t.findResources('AWS::IAM::Policy')).map((p) => (p as { Properties: { PolicyDocument: unknown } }).Properties.PolicyDocument),
    ...Object.values(t.findResources('AWS::IAM::ManagedPolicy')).map((p) => (p as { Properties: { PolicyDocument: unknown } }).Properties.PolicyDocument),
  ] as Array<{ Statement: Array<{ Action: string | string[] }> }>;
  return docs.flatMap((d) => d.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
}

beforeAll(() => {
  bundleDir = stubBundleDir();
  template = synth('Observers', { groups: ['web'], detection: ['alarms', 'probe'], probe: { subnets, port: 8080 } });
  withVpc = synth('ObserversVpc', {
    groups: ['web'],
    detection: ['probe'],
    probe: { subnets: subnets.slice(0, 2), vpcId: 'vpc-0123', instanceSecurityGroupId: 'sg-0inst', interval: Duration.seconds(5), timeout: Duration.seconds(2) },
  });
  outdir = mkdtempSync(join(tmpdir(), 'autoheal-cdk-example-'));
});

describe('observers', () => {
  it('runs one observer per zone, in its subnet, behind the observers security group, reserving no concurrency (a run holds its lease in the ledger table)', () => {
    const observers = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'observer.handler' } });
    expect(Object.keys(observers)).toHaveLength(3);
    for (const subnet of subnets) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'observer.handler',
        Architectures: ['arm64'],
        ReservedConcurrentExecutions: Match.absent(),
        VpcConfig: { SubnetIds: [subnet.subnetId], SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('ObserversSecurityGroup'), 'GroupId'] }] },
        Environment: { Variables: Match.objectLike({ [observerEnv.name]: `observer-${subnet.availabilityZone}`, [observerEnv.groups]: 'web', [observerEnv.port]: '8080', AUTOHEAL_LEDGER_TABLE: { Ref: Match.stringLikeRegexp('^AutoHealLedgerTable') } }) },
      });
    }
    // Started every minute; a throttled or failed start is not retried (the next minute's run replaces it).
    template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' }, 3);
    template.resourcePropertiesCountIs('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 }, 3);
  });

  it('alarms on each observer whose heartbeat goes silent, missing data breaching, notifying the alert topic', () => {
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'ObserverHeartbeat' }, 3);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'autoheal',
      MetricName: 'ObserverHeartbeat',
      Dimensions: [{ Name: 'Observer', Value: 'observer-us-east-1b' }],
      TreatMissingData: 'breaching',
      ComparisonOperator: 'LessThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertTopic') }],
    });
  });

  it('alarms on each observer that probes nothing or cannot discover its groups, from its heartbeat metrics, per stack by name', () => {
    for (const subnet of subnets) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `autoheal-observer-blind-Observers-${subnet.availabilityZone}`,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 3,
        TreatMissingData: 'notBreaching',
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'IF(targets < 1 OR discovery > 0, 1, 0)', ReturnData: true }),
          Match.objectLike({ Id: 'targets', MetricStat: Match.objectLike({ Metric: { Namespace: 'autoheal', MetricName: 'ObserverTargets', Dimensions: [{ Name: 'Observer', Value: `observer-${subnet.availabilityZone}` }] } }) }),
          Match.objectLike({ Id: 'discovery', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ObserverDiscoveryFailed' }) }) }),
        ]),
        AlarmActions: [Match.anyValue()],
        OKActions: [Match.anyValue()],
      });
    }
  });

  it('grants the observers only what they do, with no wildcard action', () => {
    const actions = actionsOf(template);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    const observerRole = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('ObserversRole') } }));
    const statements = observerRole.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Sid: string; Action: unknown; Resource: unknown }> } } }).Properties.PolicyDocument.Statement);
    expect(statements.map((s) => s.Sid).sort()).toEqual(['DiscoverInstances', 'OwnLease', 'SendVerdicts', 'VpcNetworkInterfaces', 'WriteOwnLogs']);
    // Its lease, and no other item of the ledger table: the rails' memory is the healer's.
    expect(statements.find((s) => s.Sid === 'OwnLease')).toEqual({
      Sid: 'OwnLease',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealLedgerTable/), 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['lease#*'] } },
    });
    // Verdicts go to the verdict channel only, and only as SendMessage: no topic, no other queue.
    expect(statements.find((s) => s.Sid === 'SendVerdicts')).toEqual({
      Sid: 'SendVerdicts',
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealVerdictQueue/), 'Arn'] },
    });
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('sns:Publish');
  });

  it('lets the observers out only to the probed port and HTTPS, and adds the instances rule when given their group', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [Match.objectLike({ FromPort: 8080, ToPort: 8080 }), Match.objectLike({ FromPort: 443, ToPort: 443 })],
    });
    // Without a VPC id, the subnet's VPC is read at deploy time.
    template.hasResourceProperties('Custom::AWS', { Create: Match.stringLikeRegexp('describeSubnets') });
    withVpc.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123' });
    withVpc.resourceCountIs('Custom::AWS', 0);
    withVpc.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0inst', FromPort: 80, ToPort: 80, SourceSecurityGroupId: Match.anyValue() });
    withVpc.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'observer.handler',
      Environment: { Variables: Match.objectLike({ [observerEnv.intervalMs]: '5000', [observerEnv.timeoutMs]: '2000' }) },
    });
  });

  it.each([
    { name: 'one subnet', probe: { subnets: subnets.slice(0, 1) }, error: /at least two subnets/ },
    { name: 'two subnets in one zone', probe: { subnets: [subnets[0], { subnetId: 'subnet-0ddd', availabilityZone: 'us-east-1a' }] }, error: /all in one Availability Zone/ },
    { name: 'a bad subnet id', probe: { subnets: [{ subnetId: 'sub-1', availabilityZone: 'us-east-1a' }, subnets[1]] }, error: /subnets\[0\]\.subnetId/ },
    { name: 'a port out of range', probe: { subnets, port: 70_000 }, error: /probe\.port/ },
    { name: 'a timeout longer than the interval', probe: { subnets, timeout: Duration.seconds(3) }, error: /probe\.timeout/ },
  ])('refuses $name, naming the prop', ({ probe, error }) => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    expect(() => new AutoHeal(stack, 'AutoHeal', { groups: ['web'], detection: ['probe'], probe: probe as AutoHealProps['probe'], bundleDir })).toThrow(error);
  });

  it.runIf(spawnSync('cfn-lint', ['--version']).status === 0)('passes cfn-lint (errors; W3005 is CDK style)', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'autoheal-cfn-lint-')) });
    const stack = new Stack(app, 'Lint');
    new AutoHeal(stack, 'AutoHeal', { groups: ['web'], detection: ['alarms', 'probe'], probe: { subnets }, bundleDir });
    const assembly = app.synth();
    const file = assembly.getStackByName('Lint').templateFullPath;
    // Exit status 0 or warnings only (4): cfn-lint's errors set bit 2.
    const out = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8' });
    const errors = out.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l));
    expect(errors).toEqual([]);
    expect(out.status === 0 || (out.status !== null && (out.status & 2) === 0)).toBe(true);
  });
});

describe('examples/cdk-app -c subnets', () => {
  it('synthesizes two observers in two subnets, a heartbeat alarm and no wildcard action, with no credentials', () => {
    const context = { group: 'g', detection: 'alarms,probe', subnets: 'subnet-0aaa:us-east-1a,subnet-0bbb:us-east-1b', bundleDir };
    const { stack } = buildApp(new App({ outdir, context }));
    const t = Template.fromStack(stack);
    const observers = t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'observer.handler' } });
    const subnetIds = Object.values(observers).map((o) => (o as { Properties: { VpcConfig: { SubnetIds: string[] } } }).Properties.VpcConfig.SubnetIds[0]);
    expect(subnetIds.sort()).toEqual(['subnet-0aaa', 'subnet-0bbb']);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ObserverHeartbeat', TreatMissingData: 'breaching' });
    expect(actionsOf(t).filter((a) => a.includes('*'))).toEqual([]);
  });

  it.each([
    ['subnet-0aaa', /item 1 "subnet-0aaa" is not SUBNET_ID:AZ/],
    ['subnet-0aaa:us-east-1a,', /item 2 "" is not SUBNET_ID:AZ/],
    ['subnet-0aaa:us-east-1a;subnet-0bbb:us-east-1b', /is not SUBNET_ID:AZ/],
    ['0aaa:us-east-1a,subnet-0bbb:us-east-1b', /item 1/],
    ['subnet-0aaa:useast1a,subnet-0bbb:us-east-1b', /item 1/],
  ])('refuses "%s" with a clear error', (text, error) => {
    expect(() => parseSubnets(text)).toThrow(error);
  });

  it('parses well-formed subnets', () => {
    expect(parseSubnets('subnet-0aaa:us-east-1a, subnet-0bbb:eu-west-3b')).toEqual([
      { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
      { subnetId: 'subnet-0bbb', availabilityZone: 'eu-west-3b' },
    ]);
  });
});

