/**
 * Two stacks in one account never touch each other's alarms (issue 19 item 6): the construct's
 * default alarm prefix names the stack, no stack's prefix begins another's (`A` and `A-sc`), and
 * the clean-up that runs when a stack is deleted — the synthesized inline code, run as Lambda runs
 * it, in a fresh process against moto — deletes the alarms of its own prefix and nothing else.
 */
import { PutMetricAlarmCommand, CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupAlarmInput, instanceAlarmInput } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { probeAlarmName } from '../../src/signals/alarm-message.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';
import { stubBundleDir } from '../helpers/bundles.js';

let work: string;
let bundleDir: string;
const stacks: Record<string, Template> = {};

function synth(stackName: string, props: Omit<AutoHealProps, 'bundleDir'> = {}): Template {
  const app = new App({ outdir: mkdtempSync(join(work, 'out-')) });
  const stack = new Stack(app, stackName);
  new AutoHeal(stack, 'AutoHeal', { ...props, bundleDir });
  return Template.fromStack(stack);
}

/** Every value of the template where the alarm prefix shows, by where it shows. */
function prefixesOf(template: Template): Record<string, unknown> {
  const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Outputs: Record<string, { Value: unknown }> };
  const resources = Object.values(json.Resources);
  const healer = resources.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'lambda.handler');
  const rule = resources.find((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.EventPattern ?? '').includes('alarmName'));
  const cleanup = resources.find((r) => r.Type === 'Custom::AutohealAlarmCleanup');
  const sync = resources.find((r) => r.Type === 'Custom::AutohealAlarmSync');
  const grants = resources
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Array<{ Sid?: string; Resource: unknown }> }).Statement)
    .filter((s) => s.Sid === 'WriteOwnAlarms' || s.Sid === 'DeleteOwnAlarms')
    .map((s) => JSON.stringify(s.Resource).match(/:alarm:([^"]*)\*/)?.[1]);
  return {
    environment: (healer?.Properties.Environment as { Variables: Record<string, string> }).Variables.AUTOHEAL_ALARM_PREFIX,
    rule: (rule?.Properties.EventPattern as { detail: { alarmName: Array<{ prefix: string }> } }).detail.alarmName[0]?.prefix,
    cleanup: cleanup?.Properties.AlarmPrefix,
    sync: (JSON.parse(sync?.Properties.Alarm as string) as { prefix: string }).prefix,
    grants,
    output: Object.entries(json.Outputs).find(([id]) => id.startsWith('AutoHealAlarmPrefix'))?.[1].Value,
  };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'autoheal-alarm-prefix-'));
  bundleDir = stubBundleDir(work);
  for (const name of ['A', 'A-sc', 'AutoHeal']) stacks[name] = synth(name);
  stacks.insights = synth('Insights-sc', { groups: ['web'], alarm: { mode: 'metrics-insights' } });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the default alarm prefix', () => {
  it('names the stack, the same everywhere the stack uses it: healer, rule, clean-up, sync, grants, output', () => {
    for (const [name, expected] of [['A', 'autoheal-status-check.A.'], ['A-sc', 'autoheal-status-check.A-sc.'], ['AutoHeal', 'autoheal-status-check.AutoHeal.']] as const) {
      // Assess
      expect(prefixesOf(stacks[name] as Template), name).toEqual({
        environment: expected,
        rule: expected,
        cleanup: expected,
        sync: expected,
        // The healer's, the sync function's and the clean-up's.
        grants: [expected, expected, expected],
        output: expected,
      });
    }
    (stacks.insights as Template).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'autoheal-status-check.Insights-sc.group-web' });
  });

  it('of no stack begins another stack\'s, the CLI\'s runtime default or the probe\'s alarm names', () => {
    // Prepare
    const prefixes = Object.values(stacks).map((t) => prefixesOf(t).environment as string);
    const others = ['autoheal-status-check-', 'autoheal-probe-', 'autoheal-observer-silent-'];

    // Assess
    expect(new Set(prefixes).size).toBe(prefixes.length);
    for (const a of prefixes) {
      for (const b of prefixes) if (a !== b) expect(b.startsWith(a), `${a} begins ${b}`).toBe(false);
      for (const other of others) expect(a.startsWith(other) || other.startsWith(a), `${a} and ${other}`).toBe(false);
    }
  });

  it('gives way to a prefix the user set', () => {
    // Act
    const template = synth('Custom', { alarm: { prefix: 'my-alarms-' } });

    // Assess
    expect(prefixesOf(template)).toMatchObject({ environment: 'my-alarms-', cleanup: 'my-alarms-', output: 'my-alarms-' });
  });
});

describe('the clean-up when a stack is deleted, run as Lambda runs it against moto', () => {
  let moto: MotoFixture;
  let cloudwatch: CloudWatchClient;
  let responses: Server;
  let responseUrl: string;
  const answers: Array<{ Status: string; Reason: string }> = [];

  beforeAll(async () => {
    moto = await startMoto();
    cloudwatch = new CloudWatchClient(moto.clientConfig);
    responses = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        answers.push(JSON.parse(body) as { Status: string; Reason: string });
        res.end();
      });
    });
    await new Promise<void>((resolve) => responses.listen(0, '127.0.0.1', resolve));
    const address = responses.address();
    responseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/response`;
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => responses?.close(resolve));
    await moto?.stop();
  });

  /** The stack's clean-up function, its inline code, given a CloudFormation Delete in a fresh Node process. */
  async function deleteStack(template: Template): Promise<{ Status: string; Reason: string }> {
    const code = (Object.values(template.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Description: string; Code: { ZipFile?: string } } }>)
      .find((f) => f.Properties.Description.startsWith('autoheal: deletes the'))?.Properties.Code.ZipFile;
    expect(code).toContain('DeleteAlarmsCommand');
    const dir = mkdtempSync(join(work, 'cleanup-'));
    writeFileSync(join(dir, 'index.js'), code as string);
    const [, resource] = Object.entries(template.findResources('Custom::AutohealAlarmCleanup'))[0] as [string, { Properties: { AlarmPrefix: string } }];
    const event = {
      RequestType: 'Delete',
      ResponseURL: responseUrl,
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/test/1',
      RequestId: 'request-1',
      LogicalResourceId: 'AlarmCleanupResource',
      PhysicalResourceId: 'autoheal-alarm-cleanup',
      ResourceProperties: { AlarmPrefix: resource.Properties.AlarmPrefix },
    };
    const before = answers.length;
    const exit = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['-e', "require('./index.js').handler(JSON.parse(process.env.EVENT), { logStreamName: 'local' })"],
        {
          cwd: dir,
          // Lambda's nodejs22.x runtime ships the AWS SDK v3; here it comes from the project's node_modules.
          env: { PATH: process.env.PATH ?? '', NODE_PATH: fileURLToPath(new URL('../../node_modules', import.meta.url)), EVENT: JSON.stringify(event), ...moto.env },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('close', (exitCode) => resolve({ code: exitCode, stderr }));
    });
    expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(answers).toHaveLength(before + 1);
    return answers[before] as { Status: string; Reason: string };
  }

  async function alarmNames(): Promise<string[]> {
    return ((await cloudwatch.send(new DescribeAlarmsCommand({}))).MetricAlarms ?? []).map((a) => a.AlarmName as string).sort();
  }

  it('deletes only the alarms of its own stack: not those of A-sc beside A, of an older stack, or the probe\'s', async () => {
    // Prepare: alarms as the alarm manager writes them, of two stacks whose names begin alike, of
    // an older stack on the runtime default, and a probe verdict's.
    const options = (prefix: string) => parseAlarmOptions({ prefix });
    const [i1, i2] = ['i-0123456789abcdef0', 'i-0fedcba9876543210'];
    const inputs = [
      instanceAlarmInput(options('autoheal-status-check.A.'), i1),
      groupAlarmInput(options('autoheal-status-check.A.'), 'web'),
      instanceAlarmInput(options('autoheal-status-check.A-sc.'), i1),
      instanceAlarmInput(options('autoheal-status-check.A-sc.'), i2),
      instanceAlarmInput(options('autoheal-status-check-'), i1),
      instanceAlarmInput(options(probeAlarmName('')), i1),
    ];
    for (const input of inputs) await cloudwatch.send(new PutMetricAlarmCommand(input));
    const names = inputs.map((i) => i.AlarmName as string);

    // Act
    const a = await deleteStack(stacks.A as Template);
    const afterA = await alarmNames();
    const aSc = await deleteStack(stacks['A-sc'] as Template);

    // Assess
    expect(a).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/^deleted 2 alarms with prefix autoheal-status-check\.A\. /) });
    expect(afterA).toEqual(names.slice(2).sort());
    expect(aSc).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/^deleted 2 alarms with prefix autoheal-status-check\.A-sc\. /) });
    expect(await alarmNames()).toEqual(['autoheal-probe-i-0123456789abcdef0', 'autoheal-status-check-i-0123456789abcdef0']);
    expect(names.slice(0, 2)).toEqual(['autoheal-status-check.A.i-0123456789abcdef0', 'autoheal-status-check.A.group-web']);
  });
});
