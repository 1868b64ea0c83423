/**
 * Evidence before termination in the Terraform module (`quarantine = "capture"`, deploy/terraform/
 * evidence.tf), planned against moto as the construct is synthesized: a termination hook per named
 * group that continues by default, a bucket whose documents expire, the evidence function and its
 * rule, the construct's IAM for it, and the healer told where to keep each mark's evidence. With
 * `quarantine = "retain"`, the function told N and the ledger table, and allowed the items
 * `retain#…` only, as the construct's. The mistakes the construct refuses stop the plan with a
 * message naming the variable.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal } from '../../src/cdk/index.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';
import { stubBundleDir } from '../helpers/bundles.js';
import { terraformWorkspace, type Planned, type TerraformRun, type TerraformWorkspace } from '../helpers/terraform.js';

let tf: TerraformWorkspace;
let moto: MotoFixture;

let planned: Planned[];
let retainPlanned: Planned[];
let retainEnvironment: string[];
let mistakes: TerraformRun[];

type PlanJson = { planned_values: { root_module: { child_modules: Array<{ resources: Planned[] }> } } };

beforeAll(async () => {
  moto = await startMoto();
  tf = terraformWorkspace({ prefix: 'autoheal-terraform-evidence-', archives: ['lambda.zip', 'intake.zip', 'observer.zip', 'evidence.zip', 'alarm-sync.zip', 'group-settings.zip'], env: moto.env });
  const capture = await tf.rootWith('capture', ['name        = "ev"', 'group_names = ["web", "batch"]', 'quarantine  = "capture"']);
  planned = await tf.planOf(capture);
  const retain = await tf.rootWith('retain', ['name        = "rt"', 'group_names = ["web", "batch"]', 'quarantine  = "retain"', 'retain_at_most = 2']);
  await tf.ok(retain, ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false', '-out=plan.bin']);
  const retainPlan = JSON.parse(await tf.ok(retain, ['show', '-json', 'plan.bin'])) as PlanJson;
  retainPlanned = retainPlan.planned_values.root_module.child_modules[0]?.resources ?? [];
  type Configured = { address: string; expressions: { environment?: Array<{ variables?: { references?: string[] } }> } };
  const configured = (retainPlan as unknown as { configuration: { root_module: { module_calls: { m: { module: { resources: Configured[] } } } } } }).configuration.root_module.module_calls.m.module.resources;
  retainEnvironment = configured.find((r) => r.address === 'aws_lambda_function.evidence')?.expressions.environment?.[0]?.variables?.references ?? [];
  mistakes = [];
  for (const [name, hcl] of [
    ['unknown', ['name = "u"', 'group_names = ["web"]', 'quarantine = "keep"']],
    ['retainwithoutretain', ['name = "w"', 'group_names = ["web"]', 'quarantine = "capture"', 'retain_at_most = 2']],
    ['retainzero', ['name = "z"', 'group_names = ["web"]', 'quarantine = "retain"', 'retain_at_most = 0']],
    ['retainfraction', ['name = "f"', 'group_names = ["web"]', 'quarantine = "retain"', 'retain_at_most = 1.5']],
    ['retainnogroups', ['name = "g"', 'quarantine = "retain"']],
    ['nogroups', ['name = "n"', 'quarantine = "capture"']],
    ['hours', ['name = "h"', 'group_names = ["web"]', 'quarantine = "capture"', 'evidence_retention_days = 1.5']],
  ] as const) {
    const dir = await tf.rootWith(name, [...hcl]);
    mistakes.push(await tf.run(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false']));
  }
}, 240_000);

afterAll(async () => {
  await moto?.stop();
  tf?.cleanup();
});

const ofType = (type: string) => planned.filter((r) => r.type === type).map((r) => r.values);
type Statement = { Sid: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const statements = (name: string): Statement[] =>
  (JSON.parse((ofType('aws_iam_role_policy').find((p) => p.name === name)?.policy as string | undefined) ?? '{"Statement":[]}') as { Statement: Statement[] }).Statement;

/** The construct with the same props: what the module must match. */
function construct(): Template {
  const dir = stubBundleDir(tf.work);
  const stack = new Stack(new App(), 'ev');
  new AutoHeal(stack, 'AutoHeal', { groups: ['web', 'batch'], quarantine: 'capture', bundleDir: dir });
  return Template.fromStack(stack);
}

describe('quarantine = "capture" in the Terraform module (planned against moto)', () => {
  it('holds each named group\'s terminations with the construct\'s hook', () => {
    // Assess
    const hooks = ofType('aws_autoscaling_lifecycle_hook');
    expect(hooks.map((h) => h.autoscaling_group_name).sort()).toEqual(['batch', 'web']);
    for (const h of hooks) expect(h).toMatchObject({ name: 'autoheal-evidence-ev', lifecycle_transition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeat_timeout: 60, default_result: 'CONTINUE' });
    construct().hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 60, DefaultResult: 'CONTINUE', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
  });

  it('keeps the evidence in a private bucket whose documents expire', () => {
    // Assess
    const [rules] = ofType('aws_s3_bucket_lifecycle_configuration') as Array<{ rule: Array<Record<string, unknown>> }>;
    expect(rules?.rule[0]).toMatchObject({ id: 'ExpireEvidence', status: 'Enabled', filter: [{ prefix: 'evidence/' }], expiration: [{ days: 30 }] });
    expect(ofType('aws_s3_bucket_public_access_block')[0]).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
  });

  it('starts the evidence function on the same events as the construct\'s rule', () => {
    // Assess
    const rule = ofType('aws_cloudwatch_event_rule').find((r) => r.name === 'ev-evidence');
    const cdkRule = Object.values(construct().findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance-terminate Lifecycle Action'] } } }))[0] as {
      Properties: { EventPattern: { detail: { LifecycleHookName: string[] } } };
    };
    const pattern = JSON.parse(rule?.event_pattern as string) as Record<string, unknown>;
    expect(pattern).toEqual({ ...cdkRule.Properties.EventPattern, detail: { ...cdkRule.Properties.EventPattern.detail, LifecycleHookName: ['autoheal-evidence-ev'] } });
    expect(ofType('aws_lambda_function').find((f) => f.handler === 'evidence.handler')).toMatchObject({ timeout: 30, runtime: 'nodejs22.x', architectures: ['arm64'] });
  });

  it('grants the construct\'s actions for the evidence, ec2:GetConsoleOutput and autoscaling:CompleteLifecycleAction on the named groups only', () => {
    // Prepare
    const mine = statements('evidence');
    const cdk = Object.values(construct().findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('^AutoHealEvidenceRole') } })) as Array<{
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }>;
    const cdkStatements = cdk.flatMap((p) => p.Properties.PolicyDocument.Statement);

    // Assess: the statements known at plan time as the construct's; the storage ones (log group and
    // bucket ARNs, known after apply) in their own policy.
    const atPlan = new Set(mine.map((s) => s.Sid));
    expect(mine.map((s) => [s.Sid, s.Action]).sort()).toEqual(cdkStatements.filter((s) => atPlan.has(s.Sid)).map((s) => [s.Sid, s.Action]).sort());
    expect(cdkStatements.map((s) => s.Sid).filter((sid) => !atPlan.has(sid)).sort()).toEqual(['ListEvidence', 'ReadWriteEvidence', 'WriteOwnLogs']);
    expect(planned.some((r) => r.address === 'module.m.aws_iam_role_policy.evidence_storage[0]')).toBe(true);
    const complete = mine.find((s) => s.Sid === 'CompleteNamedGroupsHooks');
    expect((complete?.Resource as string[]).map((r) => r.replace(/^.*autoScalingGroupName\//, ''))).toEqual(['web', 'batch']);
    expect(mine.find((s) => s.Sid === 'ReadNamedGroupsConsoles')?.Condition).toEqual({ StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': ['web', 'batch'] } });
    // The healer's s3:PutObject names the bucket, known after apply: its policy is planned.
    expect(planned.some((r) => r.address === 'module.m.aws_iam_role_policy.healer_evidence[0]')).toBe(true);
  });

  it('refuses what the construct refuses, naming the variable', () => {
    // Assess
    const [unknown, retainWithoutRetain, retainZero, retainFraction, retainNoGroups, nogroups, hours] = mistakes;
    const said = (run: TerraformRun | undefined) => run?.stderr.replace(/\s+/g, ' ');
    expect(unknown?.code).toBe(1);
    expect(said(unknown)).toContain('quarantine: must be "off", "capture", "retain", got "keep".');
    expect(retainWithoutRetain?.code).toBe(1);
    expect(said(retainWithoutRetain)).toContain('retain_at_most: given, but quarantine is "capture" (set quarantine = "retain" to keep marked instances).');
    expect(retainZero?.code).toBe(1);
    expect(said(retainZero)).toContain('retain_at_most: must be a whole number from 1 to 10, got 0.');
    expect(retainFraction?.code).toBe(1);
    expect(said(retainFraction)).toContain('retain_at_most: must be a whole number from 1 to 10, got 1.5.');
    expect(retainNoGroups?.code).toBe(1);
    expect(said(retainNoGroups)).toContain('quarantine: "retain" holds the terminations of the groups in group_names, and none is named.');
    expect(nogroups?.code).toBe(1);
    expect(nogroups?.stderr.replace(/\s+/g, ' ')).toContain('quarantine: "capture" holds the terminations of the groups in group_names, and none is named.');
    expect(hours?.code).toBe(1);
    expect(hours?.stderr.replace(/\s+/g, ' ')).toContain('evidence_retention_days: must be whole days from 1 to 3650, got 1.5.');
  });
});

describe('quarantine = "retain" in the Terraform module (planned against moto)', () => {
  const retainOfType = (type: string) => retainPlanned.filter((r) => r.type === type).map((r) => r.values);

  it('does all capture does: the same hooks, continuing by default', () => {
    // Assess
    const hooks = retainOfType('aws_autoscaling_lifecycle_hook');
    expect(hooks.map((h) => h.autoscaling_group_name).sort()).toEqual(['batch', 'web']);
    for (const h of hooks) expect(h).toMatchObject({ name: 'autoheal-evidence-rt', heartbeat_timeout: 60, default_result: 'CONTINUE' });
    expect(retainOfType('aws_s3_bucket_lifecycle_configuration')).toHaveLength(1);
  });

  it('tells the evidence function N and the ledger table, as the construct does', () => {
    // Assess
    // The environment holds the bucket's generated name, known after apply only: the plan shows its
    // references, and N where it is known (the description, the output).
    const fn = retainOfType('aws_lambda_function').find((f) => f.handler === 'evidence.handler');
    expect(fn?.description).toContain('keeps up to 2 per group for inspection');
    expect(retainEnvironment).toEqual(expect.arrayContaining(['local.retain_enabled', 'local.retain_at_most', 'aws_dynamodb_table.ledger.name', 'local.topic_arn']));
  });

  it('sets each named group to retain an instance whose termination hook is abandoned, as the construct does', () => {
    // Assess: the group settings function, once per group, asked for retention (replacement left unchanged).
    const invocations = retainOfType('aws_lambda_invocation').filter((i) => i.function_name === 'rt-group-settings');
    expect(invocations.map((i) => JSON.parse(i.input as string) as unknown)).toEqual([
      { GroupName: 'batch', Owner: 'rt', Replacement: 'unchanged', RetainOnAbandon: true },
      { GroupName: 'web', Owner: 'rt', Replacement: 'unchanged', RetainOnAbandon: true },
    ]);
    const stack = new Stack(new App(), 'rt');
    new AutoHeal(stack, 'AutoHeal', { groups: ['web', 'batch'], quarantine: 'retain', retainAtMost: 2, bundleDir: stubBundleDir(tf.work) });
    Template.fromStack(stack).resourcePropertiesCountIs('Custom::AutohealGroupSettings', { Replacement: 'unchanged', RetainOnAbandon: 'true' }, 2);
  });

  it('grants the construct\'s CountRetained: the ledger table\'s retain#… items only; capture gets none of it', () => {
    // Prepare
    const dir = stubBundleDir(tf.work);
    const stack = new Stack(new App(), 'rt');
    new AutoHeal(stack, 'AutoHeal', { groups: ['web', 'batch'], quarantine: 'retain', retainAtMost: 2, bundleDir: dir });
    const cdk = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('^AutoHealEvidenceRole') } })) as Array<{
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }>;
    const cdkCount = cdk.flatMap((p) => p.Properties.PolicyDocument.Statement).find((s) => s.Sid === 'CountRetained');
    const policy = retainOfType('aws_iam_role_policy').find((p) => p.name === 'evidence-retain');
    const [count] = (JSON.parse(policy?.policy as string) as { Statement: Statement[] }).Statement;

    // Assess
    expect(count).toMatchObject({ Sid: 'CountRetained', Action: cdkCount?.Action, Condition: cdkCount?.Condition });
    expect(count?.Resource).toMatch(/:table\/rt-ledger$/);
    expect(ofType('aws_iam_role_policy').some((p) => p.name === 'evidence-retain')).toBe(false);
  });
});
