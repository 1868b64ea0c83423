/**
 * Replacement before removal in the Terraform module (`replacement = "launch-before-terminate"`,
 * deploy/terraform/group-settings.tf), planned against moto as the construct is synthesized: the
 * group settings function invoked once per named group with lifecycle_scope "CRUD" (apply sets,
 * destroy takes back), the construct's IAM for it, scoped to the named groups, and the healer told
 * the order it should find. The mistakes the construct refuses stop the plan, naming the variable.
 * moto runs no Lambda code, so what the invocations do is test/group-settings' (the same bundle).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal } from '../../src/cdk/index.js';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { describeAutoScalingGroups } from '../../src/aws/autoscaling.js';
import { runRequest } from '../../src/group-settings/apply.js';
import { parseRequest } from '../../src/group-settings/request.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { startPolicyStandIn } from '../group-settings/policy-stand-in.js';
import { stubBundleDir } from '../helpers/bundles.js';
import { terraformWorkspace, type Planned, type TerraformRun, type TerraformWorkspace } from '../helpers/terraform.js';

let tf: TerraformWorkspace;
let moto: MotoFixture;

let planned: Planned[];
let mistakes: TerraformRun[];
let unchanged: Planned[];

beforeAll(async () => {
  moto = await startMoto();
  tf = terraformWorkspace({ prefix: 'autoheal-terraform-group-settings-', archives: ['lambda.zip', 'intake.zip', 'observer.zip', 'evidence.zip', 'alarm-sync.zip', 'group-settings.zip'], env: moto.env });
  planned = await tf.planOf(await tf.rootWith('lbt', ['name        = "gs"', 'group_names = ["web", "batch"]', 'replacement = "launch-before-terminate"']));
  unchanged = await tf.planOf(await tf.rootWith('unchanged', ['name        = "un"', 'group_names = ["web"]']));
  mistakes = [];
  for (const [name, hcl] of [
    ['unknown', ['name = "u"', 'group_names = ["web"]', 'replacement = "launch-first"']],
    ['nogroups', ['name = "n"', 'replacement = "launch-before-terminate"']],
  ] as const) {
    const dir = await tf.rootWith(name, [...hcl]);
    mistakes.push(await tf.run(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false']));
  }
}, 240_000);

afterAll(async () => {
  await moto?.stop();
  tf?.cleanup();
});

const ofType = (type: string, resources = planned) => resources.filter((r) => r.type === type).map((r) => r.values);
type Statement = { Sid: string; Action: string | string[]; Resource: unknown };
const statements = (name: string): Statement[] =>
  (JSON.parse((ofType('aws_iam_role_policy').find((p) => p.name === name)?.policy as string | undefined) ?? '{"Statement":[]}') as { Statement: Statement[] }).Statement;

/** The construct with the same props: what the module must match. */
function construct(): Template {
  const dir = stubBundleDir(tf.work);
  const stack = new Stack(new App(), 'gs');
  new AutoHeal(stack, 'AutoHeal', { groups: ['web', 'batch'], replacement: 'launch-before-terminate', bundleDir: dir });
  return Template.fromStack(stack);
}

describe('replacement = "launch-before-terminate" in the Terraform module (planned against moto)', () => {
  it('invokes the group settings function once per named group, on create, update and delete, with the construct\'s properties', () => {
    // Assess
    const invocations = ofType('aws_lambda_invocation').filter((i) => i.function_name === 'gs-group-settings');
    expect(invocations.map((i) => [i.lifecycle_scope, i.function_name, JSON.parse(i.input as string) as unknown])).toEqual([
      ['CRUD', 'gs-group-settings', { GroupName: 'batch', Owner: 'gs', Replacement: 'launch-before-terminate', RetainOnAbandon: false }],
      ['CRUD', 'gs-group-settings', { GroupName: 'web', Owner: 'gs', Replacement: 'launch-before-terminate', RetainOnAbandon: false }],
    ]);
    construct().hasResourceProperties('Custom::AutohealGroupSettings', { GroupName: 'web', Replacement: 'launch-before-terminate', RetainOnAbandon: 'false' });
    expect(ofType('aws_lambda_function').find((f) => f.handler === 'group-settings.handler')).toMatchObject({ runtime: 'nodejs22.x', architectures: ['arm64'], timeout: 60 });
  });

  it('grants the construct\'s actions, UpdateAutoScalingGroup and the record tag on the named groups only', () => {
    // Prepare
    const mine = statements('group-settings');
    const cdk = Object.values(construct().findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('^AutoHealGroupSettingsRole') } })) as Array<{
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }>;
    const cdkStatements = cdk.flatMap((p) => p.Properties.PolicyDocument.Statement);

    // Assess: the statements known at plan time as the construct's; the log group's in its own policy.
    const atPlan = new Set(mine.map((s) => s.Sid));
    expect(mine.map((s) => [s.Sid, s.Action]).sort()).toEqual(cdkStatements.filter((s) => atPlan.has(s.Sid)).map((s) => [s.Sid, s.Action]).sort());
    expect(cdkStatements.map((s) => s.Sid).filter((sid) => !atPlan.has(sid))).toEqual(['WriteOwnLogs']);
    const set = mine.find((s) => s.Sid === 'SetNamedGroupsPolicies');
    expect((set?.Resource as string[]).map((r) => r.replace(/^.*autoScalingGroupName\//, ''))).toEqual(['web', 'batch']);
    expect(mine.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('iam:'))).toEqual([]);
  });

  it('tells the healer the order it should find; by default nothing is set and the healer is told nothing', () => {
    // Assess
    const healer = ofType('aws_lambda_function').find((f) => f.handler === 'lambda.handler') as { environment: Array<{ variables: Record<string, string> }> };
    expect(healer.environment[0]?.variables.AUTOHEAL_REPLACEMENT).toBe('launch-before-terminate');
    const plain = ofType('aws_lambda_function', unchanged).find((f) => f.handler === 'lambda.handler') as { environment: Array<{ variables: Record<string, string> }> };
    expect(plain.environment[0]?.variables).not.toHaveProperty('AUTOHEAL_REPLACEMENT');
    expect(unchanged.filter((r) => r.address.includes('group_settings'))).toEqual([]);
  });

  it('refuses what the construct refuses, naming the variable', () => {
    // Assess
    const [unknown, nogroups] = mistakes;
    expect(unknown?.code).toBe(1);
    expect(unknown?.stderr.replace(/\s+/g, ' ')).toContain('replacement: must be "unchanged" or "launch-before-terminate", got "launch-first".');
    expect(nogroups?.code).toBe(1);
    expect(nogroups?.stderr.replace(/\s+/g, ' ')).toContain('replacement: "launch-before-terminate" sets the instance maintenance policy of the groups in group_names, and none is named.');
  });
});

describe('terraform apply and destroy against moto, the function fed what Terraform sent', () => {
  it('invokes the function with the CRUD input on apply, and the function sets and takes back what that input asks', async () => {
    // Prepare: moto's simple Lambda backend echoes each Invoke's input (it runs no code, see
    // test/terraform/module.test.ts); the policies moto does not keep are stood in for.
    const config = await fetch(`${moto.endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
    expect(await config.json()).toMatchObject({ lambda: { use_docker: false } });
    await createMotoGroup(moto, { name: 'web', size: 0 });
    const standIn = await startPolicyStandIn(moto.endpoint);
    const client = new AutoScalingClient({ ...moto.clientConfig, endpoint: standIn.url });
    const run = async (event: unknown) => runRequest({ autoScaling: client, logger: capturedLogger().logger }, parseRequest(event));
    try {
      const dir = await tf.rootWith('apply', ['name        = "gsa"', 'group_names = ["web"]', 'replacement = "launch-before-terminate"']);

      // Act: apply; the function then runs the very payload Terraform sent (moto echoed it into the state).
      await tf.ok(dir, ['apply', '-auto-approve', '-input=false', '-no-color', '-lock=false']);
      const state = JSON.parse(await tf.ok(dir, ['show', '-json'])) as { values: { root_module: { child_modules: Array<{ resources: Planned[] }> } } };
      const invocation = state.values.root_module.child_modules[0]?.resources.find((r) => r.address === 'module.m.aws_lambda_invocation.group_settings["web"]');
      const sent = JSON.parse(invocation?.values.result as string) as Record<string, unknown> & { tf: unknown };
      const created = await run(sent);
      const during = await describeAutoScalingGroups(client, { names: ['web'] });
      // On destroy the provider invokes it with the stored input and tf.action "delete" (as the alarm sync's).
      const { tf: _tf, ...input } = sent;
      const deleted = await run({ ...input, tf: { action: 'delete', prev_input: input } });
      await tf.ok(dir, ['destroy', '-auto-approve', '-input=false', '-no-color', '-lock=false']);
      const after = await describeAutoScalingGroups(client, { names: ['web'] });

      // Assess
      expect(sent).toEqual({ GroupName: 'web', Owner: 'gsa', Replacement: 'launch-before-terminate', RetainOnAbandon: false, tf: { action: 'create', prev_input: null } });
      expect(created.Data).toMatchObject({ Set: 'maintenance=100/110', Before: 'maintenance=none' });
      expect(during[0]).toMatchObject({ maintenancePolicy: { minHealthyPercentage: 100, maxHealthyPercentage: 110 }, tags: { 'autoheal:before:gsa': 'maintenance=none' } });
      expect(deleted.Data).toMatchObject({ Restored: 'maintenance=none', Before: '' });
      expect(after[0]?.maintenancePolicy).toBeUndefined();
      expect(after[0]?.tags).not.toHaveProperty('autoheal:before:gsa');
    } finally {
      client.destroy();
      await standIn.stop();
    }
  }, 300_000);
});
