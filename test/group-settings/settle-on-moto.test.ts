/**
 * The group settings function against moto (groups and their tags are moto's), with the stand-in
 * for the two policies moto does not keep (./policy-stand-in.ts). In process, through the real
 * Auto Scaling client: what a create sets and records, what a delete takes back, and that a
 * policy someone changed since is left alone; then the bundle as Lambda runs it, a fresh process
 * per request, as Terraform's aws_lambda_invocation sends them.
 */
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeAutoScalingGroups } from '../../src/aws/autoscaling.js';
import { runRequest } from '../../src/group-settings/apply.js';
import { parseRequest } from '../../src/group-settings/request.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { startPolicyStandIn, type PolicyStandIn } from './policy-stand-in.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let moto: MotoFixture;
let standIn: PolicyStandIn;
let client: AutoScalingClient;

beforeAll(async () => {
  moto = await startMoto();
  standIn = await startPolicyStandIn(moto.endpoint);
  client = new AutoScalingClient({ ...moto.clientConfig, endpoint: standIn.url });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await standIn?.stop();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  standIn.policies.clear();
  standIn.updates.length = 0;
});

/** A CloudFormation custom-resource event as the Provider framework hands it to onEvent. */
const cfn = (type: 'Create' | 'Update' | 'Delete', props: Record<string, string>, old?: Record<string, string>) => ({
  RequestType: type,
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Stack/guid',
  RequestId: 'r1',
  LogicalResourceId: 'GroupSettings0',
  ResourceType: 'Custom::AutohealGroupSettings',
  ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider', ...props },
  ...(old ? { OldResourceProperties: old } : {}),
  ...(type !== 'Create' ? { PhysicalResourceId: `autoheal-group-settings:Stack:${props.GroupName}` } : {}),
});
const props = (group: string, replacement: string, retain = 'false') => ({ GroupName: group, Owner: 'Stack', Replacement: replacement, RetainOnAbandon: retain });

async function run(event: unknown) {
  const { logger, lines } = capturedLogger();
  const response = await runRequest({ autoScaling: client, logger }, parseRequest(event));
  return { response, lines };
}
async function groupNow(name: string) {
  const [g] = await describeAutoScalingGroups(client, { names: [name] });
  return { policy: g?.maintenancePolicy, abandon: g?.terminateHookAbandon, before: g?.tags['autoheal:before:Stack'] };
}

describe('the group settings function on moto', () => {
  it('sets launch-first on create, records what the group had, and a delete clears it again', async () => {
    // Prepare
    await createMotoGroup(moto, { name: 'web', size: 0 });

    // Act
    const created = await run(cfn('Create', props('web', 'launch-before-terminate')));
    const afterCreate = await groupNow('web');
    const retried = await run(cfn('Create', props('web', 'launch-before-terminate')));
    const deleted = await run(cfn('Delete', props('web', 'launch-before-terminate')));
    const afterDelete = await groupNow('web');

    // Assess
    expect(created.response).toEqual({
      PhysicalResourceId: 'autoheal-group-settings:Stack:web',
      Data: { GroupName: 'web', Set: 'maintenance=100/110', Restored: '', LeftAlone: '', Before: 'maintenance=none' },
    });
    expect(afterCreate).toEqual({ policy: { minHealthyPercentage: 100, maxHealthyPercentage: 110 }, abandon: undefined, before: 'maintenance=none' });
    // A retried create finds its own value and its record: nothing to write.
    expect(retried.response.Data).toMatchObject({ Set: '', Before: 'maintenance=none' });
    expect(standIn.updates.map((u) => [u.get('InstanceMaintenancePolicy.MinHealthyPercentage'), u.get('InstanceMaintenancePolicy.MaxHealthyPercentage')])).toEqual([
      ['100', '110'],
      ['-1', '-1'],
    ]);
    expect(deleted.response).toEqual({
      PhysicalResourceId: 'autoheal-group-settings:Stack:web',
      Data: { GroupName: 'web', Set: '', Restored: 'maintenance=none', LeftAlone: '', Before: '' },
    });
    expect(afterDelete).toEqual({ policy: undefined, abandon: undefined, before: undefined });
  });

  it('gives a group its own policy back on delete', async () => {
    // Prepare: the group had a custom policy before the stack.
    await createMotoGroup(moto, { name: 'web', size: 0 });
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', InstanceMaintenancePolicy: { MinHealthyPercentage: 90, MaxHealthyPercentage: 120 } }));

    // Act
    await run(cfn('Create', props('web', 'launch-before-terminate')));
    const during = await groupNow('web');
    await run(cfn('Delete', props('web', 'launch-before-terminate')));

    // Assess
    expect(during).toMatchObject({ policy: { minHealthyPercentage: 100, maxHealthyPercentage: 110 }, before: 'maintenance=90/120' });
    expect(await groupNow('web')).toEqual({ policy: { minHealthyPercentage: 90, maxHealthyPercentage: 120 }, abandon: undefined, before: undefined });
  });

  it('leaves a policy someone changed since alone on delete, and says so in its log', async () => {
    // Prepare
    await createMotoGroup(moto, { name: 'web', size: 0 });
    await run(cfn('Create', props('web', 'launch-before-terminate')));
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', InstanceMaintenancePolicy: { MinHealthyPercentage: 95, MaxHealthyPercentage: 105 } }));

    // Act
    const deleted = await run(cfn('Delete', props('web', 'launch-before-terminate')));

    // Assess
    expect(deleted.response.Data).toEqual({ GroupName: 'web', Set: '', Restored: '', LeftAlone: 'maintenance=95/105', Before: '' });
    expect(await groupNow('web')).toEqual({ policy: { minHealthyPercentage: 95, maxHealthyPercentage: 105 }, abandon: undefined, before: undefined });
    expect(deleted.lines).toContainEqual(
      expect.objectContaining({ level: 40, group: 'web', setting: 'maintenance', now: '95/105', autohealSet: '100/110', before: 'none', msg: 'group settings: maintenance changed since autoheal set it; left alone (the group keeps 95/105)' }),
    );
  });

  it('an update that stops asking for launch-first takes it back and keeps the resource', async () => {
    // Prepare
    await createMotoGroup(moto, { name: 'web', size: 0 });
    await run(cfn('Create', props('web', 'launch-before-terminate')));

    // Act
    const updated = await run(cfn('Update', props('web', 'unchanged'), props('web', 'launch-before-terminate')));

    // Assess
    expect(updated.response).toEqual({ PhysicalResourceId: 'autoheal-group-settings:Stack:web', Data: { GroupName: 'web', Set: '', Restored: 'maintenance=none', LeftAlone: '', Before: '' } });
    expect(await groupNow('web')).toEqual({ policy: undefined, abandon: undefined, before: undefined });
  });

  it('retains on abandon when asked, alone, and takes it back', async () => {
    // Prepare: a group with a maintenance policy of its own, which retention must not touch.
    await createMotoGroup(moto, { name: 'web', size: 0 });
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', InstanceMaintenancePolicy: { MinHealthyPercentage: 90, MaxHealthyPercentage: 120 } }));
    const tf = (action: string) => ({ ...props('web', 'unchanged'), RetainOnAbandon: true, tf: { action, prev_input: action === 'create' ? null : { ...props('web', 'unchanged'), RetainOnAbandon: true } } });

    // Act
    const created = await run(tf('create'));
    const during = await groupNow('web');
    await run(tf('delete'));

    // Assess
    expect(created.response.Data).toMatchObject({ Set: 'abandon=retain', Before: 'abandon=none' });
    expect(during).toEqual({ policy: { minHealthyPercentage: 90, maxHealthyPercentage: 120 }, abandon: 'retain', before: 'abandon=none' });
    expect(standIn.updates.map((u) => [u.has('InstanceMaintenancePolicy.MinHealthyPercentage'), u.get('InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon')])).toEqual([
      [true, null], // the test's own policy
      [false, 'retain'],
      [false, 'terminate'],
    ]);
    expect(await groupNow('web')).toEqual({ policy: { minHealthyPercentage: 90, maxHealthyPercentage: 120 }, abandon: 'terminate', before: undefined });
  });

  it('fails naming a group that does not exist; a delete of a group already gone succeeds', async () => {
    // Act / Assess
    await expect(run(cfn('Create', props('nope', 'launch-before-terminate')))).rejects.toThrow(/^Auto Scaling group "nope" not found/);
    await expect(run(cfn('Delete', props('nope', 'launch-before-terminate')))).resolves.toMatchObject({ response: { Data: { Set: '', Restored: '' } } });
    expect(standIn.updates).toEqual([]);
  });

  it('refuses a request it cannot read, naming the field', () => {
    expect(() => parseRequest(cfn('Create', props('web', 'launch-before-terminate', 'yes')))).toThrow('ResourceProperties.RetainOnAbandon: expected true or false, got "yes"');
    expect(() => parseRequest(cfn('Create', props('web', 'launch-first')))).toThrow('ResourceProperties.Replacement: expected unchanged or launch-before-terminate, got "launch-first"');
    expect(() => parseRequest({ ...props('web', 'unchanged') })).toThrow(/^tf.action: expected create, update or delete/);
    expect(() => parseRequest({ GroupName: '', Owner: 'Stack', tf: { action: 'create' } })).toThrow('input.GroupName: expected a non-empty string, got ""');
  });
});

describe('the group settings bundle, a fresh process per request (Terraform CRUD input)', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/group-settings.mjs'))) throw new Error('dist/group-settings.mjs not found: run "npm run build" first');
    dir = mkdtempSync(join(tmpdir(), 'autoheal-group-settings-'));
    copyFileSync(join(root, 'dist/group-settings.mjs'), join(dir, 'group-settings.mjs'));
    writeFileSync(
      join(dir, 'invoke.mjs'),
      "const { handler } = await import('./group-settings.mjs');\ntry { process.stdout.write('\\nRESULT ' + JSON.stringify(await handler(JSON.parse(process.env.TEST_EVENT))) + '\\n'); } catch (e) { process.stdout.write('\\nERROR ' + e.message + '\\n'); process.exitCode = 1; }\n",
    );
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function invoke(event: unknown): Promise<{ code: number | null; result?: { Data: Record<string, string> }; error?: string }> {
    return new Promise((resolve, reject) => {
      const env = { PATH: process.env.PATH ?? '', ...moto.env, AWS_ENDPOINT_URL: standIn.url, LOG_LEVEL: 'warn', TEST_EVENT: JSON.stringify(event) };
      const child = spawn(process.execPath, ['invoke.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => {
        const result = /\nRESULT (.*)\n/.exec(stdout)?.[1];
        const error = /\nERROR (.*)\n/.exec(stdout)?.[1];
        resolve({ code, ...(result ? { result: JSON.parse(result) as { Data: Record<string, string> } } : {}), ...(error ? { error } : {}) });
      });
    });
  }

  it('sets, then takes back, and names a group that does not exist', async () => {
    // Prepare
    await createMotoGroup(moto, { name: 'workers', size: 0 });
    const input = (group: string, action: string) => ({ GroupName: group, Owner: 'autoheal', Replacement: 'launch-before-terminate', RetainOnAbandon: false, tf: { action, prev_input: null } });

    // Act
    const created = await invoke(input('workers', 'create'));
    const during = await describeAutoScalingGroups(client, { names: ['workers'] });
    const deleted = await invoke(input('workers', 'delete'));
    const unknown = await invoke(input('nope', 'create'));

    // Assess
    expect(created.result?.Data).toMatchObject({ Set: 'maintenance=100/110', Before: 'maintenance=none' });
    expect(during[0]?.maintenancePolicy).toEqual({ minHealthyPercentage: 100, maxHealthyPercentage: 110 });
    expect(deleted.result?.Data).toMatchObject({ Restored: 'maintenance=none' });
    expect(unknown.code).toBe(1);
    expect(unknown.error).toMatch(/^Auto Scaling group "nope" not found/);
  });
});
