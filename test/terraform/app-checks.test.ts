/**
 * Detection "app-checks" in the Terraform module (deploy/terraform/app-checks.tf), validated and
 * planned offline against moto as the construct is synthesized: the check in a CloudFormation stack
 * (hashicorp/aws 5.100.0 has no resource for it) with aggregation excluded on the probe's port and
 * path, the reader with the construct's grants, the association made by the reader at create,
 * update and destroy, the verdict channel closed to the reader, and the healer counting aws-app-check.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal } from '../../src/cdk/index.js';
import { stubBundleDir } from '../helpers/bundles.js';
import { terraformWorkspace, type Planned, type TerraformRun, type TerraformWorkspace } from '../helpers/terraform.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';

let tf: TerraformWorkspace;
let moto: MotoFixture;

let alone: Planned[];
let withObservers: Planned[];
let mistakes: TerraformRun[];
let validate: TerraformRun;
const subnets = '[{ subnet_id = "subnet-0aaa", availability_zone = "us-east-1a" }, { subnet_id = "subnet-0bbb", availability_zone = "us-east-1b" }]';

beforeAll(async () => {
  moto = await startMoto();
  tf = terraformWorkspace({ prefix: 'autoheal-terraform-app-checks-', archives: ['lambda.zip', 'intake.zip', 'observer.zip', 'evidence.zip', 'alarm-sync.zip', 'app-check.zip'], env: moto.env });
  const aloneDir = await tf.rootWith('alone', ['name        = "ac"', 'group_names = ["web", "api"]', 'detection   = ["alarms", "app-checks"]', 'probe       = { port = 8080, path = "/ready" }']);
  validate = await tf.run(aloneDir, ['validate', '-no-color']);
  alone = await tf.planOf(aloneDir);
  withObservers = await tf.planOf(await tf.rootWith('observers', ['name        = "ob"', 'group_names = ["web"]', 'detection   = ["probe", "app-checks"]', `probe       = { vpc_id = "vpc-1", subnets = ${subnets} }`, 'rails       = { probe_quorum = 3 }']));
  mistakes = [];
  for (const [name, hcl] of [
    ['tcp', ['name = "t"', 'group_names = ["web"]', 'detection = ["app-checks"]', 'probe = { check = "tcp" }']],
    ['subnets', ['name = "s"', 'group_names = ["web"]', 'detection = ["app-checks"]', `probe = { vpc_id = "vpc-1", subnets = ${subnets} }`]],
    ['quorum', ['name = "q"', 'group_names = ["web"]', 'detection = ["probe", "app-checks"]', `probe = { vpc_id = "vpc-1", subnets = ${subnets} }`, 'rails = { probe_quorum = 4 }']],
    ['unbuilt', ['name = "u"', 'group_names = ["web"]', 'detection = ["app-checks"]', 'app_check_zip = "/nonexistent/app-check.zip"']],
  ] as const) {
    mistakes.push(await tf.run(await tf.rootWith(name, [...hcl]), ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false']));
  }
}, 300_000);

afterAll(async () => {
  await moto?.stop();
  tf?.cleanup();
});

const ofType = (planned: Planned[], type: string) => planned.filter((r) => r.type === type).map((r) => r.values);
type Statement = { Sid: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const healerEnv = (planned: Planned[]): Record<string, string> =>
  ((ofType(planned, 'aws_lambda_function').find((f) => f.handler === 'lambda.handler')?.environment as Array<{ variables: Record<string, string> }>)[0] as { variables: Record<string, string> }).variables;

describe('detection "app-checks" in the Terraform module (validated and planned offline against moto)', () => {
  it('validates', () => {
    expect(validate.code).toBe(0);
  });

  it('holds the check in a CloudFormation stack, aggregation excluded, on the probe port and path, as the construct has it', () => {
    const [stack] = ofType(alone, 'aws_cloudformation_stack');
    const template = JSON.parse(stack?.template_body as string) as { Resources: { Check: { Type: string; Properties: Record<string, unknown> } } };
    expect(template.Resources.Check.Type).toBe('AWS::EC2::ApplicationStatusCheck');
    const cdk = new Stack(new App(), 'ac');
    new AutoHeal(cdk, 'AutoHeal', { groups: ['web', 'api'], detection: ['alarms', 'app-checks'], probe: { port: 8080, path: '/ready' }, bundleDir: stubBundleDir(tf.work) });
    const [construct] = Object.values(Template.fromStack(cdk).findResources('AWS::EC2::ApplicationStatusCheck')) as Array<{ Properties: Record<string, unknown> }>;
    const { Tags: _mine, ...mine } = template.Resources.Check.Properties;
    const { Tags: _theirs, ...theirs } = construct?.Properties ?? {};
    expect(mine).toEqual(theirs);
    expect(mine).toMatchObject({ Aggregation: 'excluded', Port: 8080, Path: '/ready', Protocol: 'http' });
  });

  it('runs the reader every minute, and has it associate the named groups at create, update and destroy', () => {
    const reader = ofType(alone, 'aws_lambda_function').find((f) => f.handler === 'app-check.handler');
    expect(reader).toMatchObject({ function_name: 'ac-app-check', timeout: 60, memory_size: 128, runtime: 'nodejs22.x', architectures: ['arm64'], vpc_config: [] });
    expect(ofType(alone, 'aws_cloudwatch_event_rule').find((r) => r.name === 'ac-app-check')).toMatchObject({ schedule_expression: 'rate(1 minute)' });
    const [association] = ofType(alone, 'aws_lambda_invocation').filter((i) => i.function_name === 'ac-app-check');
    expect(association).toMatchObject({ lifecycle_scope: 'CRUD', terraform_key: 'tf' });
    expect(JSON.parse(association?.input as string)).toEqual({ associate: { groups: ['web', 'api'] } });
  });

  it("grants the reader the construct's statements, and the association its own check only", () => {
    const policy = ofType(alone, 'aws_iam_role_policy').find((p) => p.name === 'app-check');
    const statements = (JSON.parse(policy?.policy as string) as { Statement: Statement[] }).Statement;
    expect(statements.map((s) => [s.Sid, s.Action])).toEqual([
      ['WriteOwnLogs', ['logs:CreateLogStream', 'logs:PutLogEvents']],
      ['ReadCheck', ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeApplicationStatus']],
      ['SendVerdicts', 'sqs:SendMessage'],
      ['OwnLease', expect.anything()],
    ]);
    expect(statements.find((s) => s.Sid === 'SendVerdicts')?.Resource).toMatch(/:ac-verdicts$/);
    // Its ARN comes from the stack's outputs, known after apply: the policy is planned on its own.
    expect(alone.some((r) => r.address === 'module.m.aws_iam_role_policy.app_check_association[0]')).toBe(true);
  });

  it('closes the verdict channel to the reader, and the healer counts aws-app-check (with the observers when deployed)', () => {
    const queue = ofType(alone, 'aws_sqs_queue').find((q) => q.name === 'ac-verdicts');
    const deny = (JSON.parse(queue?.policy as string) as { Statement: Statement[] }).Statement.find((s) => s.Sid === 'OnlyObserversSend');
    expect(JSON.stringify(deny?.Condition)).toMatch(/role\/ac-app-check/);
    expect(healerEnv(alone).AUTOHEAL_OBSERVERS).toBe('aws-app-check');
    expect(healerEnv(withObservers).AUTOHEAL_OBSERVERS).toBe('observer-us-east-1a,observer-us-east-1b,aws-app-check');
  });

  it("alarms on the stack-health topic, as the construct does, when every read of a run fails and when the reader does not run", () => {
    const alarm = (name: string) => ofType(alone, 'aws_cloudwatch_metric_alarm').find((a) => a.alarm_name === name);
    expect(alarm('ac-app-check-errors')).toMatchObject({
      namespace: 'AWS/Lambda',
      metric_name: 'Errors',
      dimensions: { FunctionName: 'ac-app-check' },
      comparison_operator: 'GreaterThanOrEqualToThreshold',
      treat_missing_data: 'notBreaching',
      alarm_actions: [expect.stringMatching(/:ac-stack-health$/) as unknown],
    });
    expect(alarm('ac-app-check-silent')).toMatchObject({
      namespace: 'AWS/Lambda',
      metric_name: 'Invocations',
      dimensions: { FunctionName: 'ac-app-check' },
      evaluation_periods: 3,
      comparison_operator: 'LessThanThreshold',
      treat_missing_data: 'breaching',
      alarm_actions: [expect.stringMatching(/:ac-stack-health$/) as unknown],
    });
  });

  it('refuses what the construct refuses, naming the variable', () => {
    const [tcp, subnetsAlone, quorum, unbuilt] = mistakes.map((m) => ({ code: m.code, text: m.stderr.replace(/\s+/g, ' ') }));
    expect(tcp).toMatchObject({ code: 1, text: expect.stringContaining('probe.check: "tcp" cannot be read by detection app-checks') });
    expect(subnetsAlone).toMatchObject({ code: 1, text: expect.stringContaining('probe.subnets, probe.host_role_name: observers and probe hosts need detection "probe".') });
    expect(quorum).toMatchObject({ code: 1, text: expect.stringContaining('rails.probe_quorum: 4 observers must agree, but 3 are deployed') });
    expect(unbuilt).toMatchObject({ code: 1, text: expect.stringContaining('app_check_zip: /nonexistent/app-check.zip not found') });
  });
});
