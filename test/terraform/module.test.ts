/**
 * The Terraform module (deploy/terraform) and its example (examples/terraform), for real:
 * `terraform validate`, the variables' rules, then `terraform apply` of the example against moto,
 * the deployed resources and grants compared with what the CDK construct synthesizes, the Lambda
 * bundle run locally with the deployed function's environment healing an instance of a tagged
 * group, and `terraform destroy` leaving nothing behind.
 *
 * terraform and the hashicorp/aws provider are installed for offline use (the provider in the
 * filesystem mirror /opt/tf-plugins: 5.100.0 only, so the module's admitting 6.x is checked by what
 * it reads, not by a 6.x run); a missing terraform or moto_server fails, never skips.
 *
 * moto cannot run Lambda code (it needs docker: with its default `use_docker: true`, Invoke
 * answers FunctionError "Handled" with "error running docker…", which would fail the module's
 * aws_lambda_invocation). The test switches moto to its simple Lambda backend first
 * (POST /moto-api/config `{"lambda": {"use_docker": false}}`), where Invoke echoes its input
 * without running anything, and stands in for the healer's own runs (the deploy-time sync, the
 * alarm, the destroy-time clean-up) by running dist/lambda.mjs in a child process with the
 * deployed function's environment and the very payloads Terraform sends.
 *
 * Speed: the example's apply mostly waits (the provider checks each new SQS queue's attributes
 * for about 25 s, whatever the endpoint), so the plans that need no apply — the refused variables
 * and the variants (Metrics Insights with probe, legacy queue with its intake, bridge, rails) —
 * start beside it in the first beforeAll, and the tests await what they read. The variants are
 * planned, not applied: their values are compared with the construct synthesized with the same
 * props. EventBridge and IAM are read with the AWS SDK clients, as everything else.
 */
import {
  AutoScalingClient,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  ListDashboardsCommand,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import {
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import {
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  LambdaClient,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import { GetTopicAttributesCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { unzipSync } from 'fflate';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceAlarmInput } from '../../src/alarms/manager.js';
import { parseAlarmOptions } from '../../src/alarms/options.js';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { intakeHandlerSource } from '../../src/cdk/cleanup-handler.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { terraformWorkspace, type Planned, type TerraformRun, type TerraformWorkspace } from '../helpers/terraform.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const group = 'web';
const tagged = 'tagged-workers';
/** The example's alarm prefix: named after the module's default `name`, as the construct's after its stack. */
const prefix = 'autoheal-status-check.autoheal.';

let tf: TerraformWorkspace;
let moto: MotoFixture;
let example: string;
/** The example's `terraform apply`, started in beforeAll so that the other tests run while SQS attributes propagate. */
let applied: Promise<string>;

/** The error diagnostics of a `terraform plan -json` run, whitespace-normalized. */
function errorsOf(run: TerraformRun): string[] {
  return run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type?: string; diagnostic?: { severity?: string; summary?: string; detail?: string } })
    .filter((m) => m.type === 'diagnostic' && m.diagnostic?.severity === 'error')
    .map((m) => `${m.diagnostic?.summary ?? ''}: ${m.diagnostic?.detail ?? ''}`.replace(/\s+/g, ' ').replace(/ This was checked by the validation rule at .*$/, '').replace(/ declared at \S+:\d+,\d+-\d+/, ''));
}

/**
 * Runs the Lambda bundle as Lambda does: dist/lambda.mjs alone in a folder of its own, imported
 * by a fresh Node process whose environment is the deployed function's (plus moto's endpoint and
 * test credentials, as Lambda adds the role's); returns what the handler returned.
 */
async function runBundle(environment: Record<string, string>, event: unknown, bundle: 'lambda.mjs' | 'alarm-sync.mjs' = 'lambda.mjs'): Promise<unknown> {
  const dir = mkdtempSync(join(tf.work, 'lambda-'));
  copyFileSync(join(root, 'dist', bundle), join(dir, bundle));
  writeFileSync(
    join(dir, 'invoke.mjs'),
    [
      `import { handler } from './${bundle}';`,
      'const event = JSON.parse(process.env.TEST_EVENT);',
      'const context = { awsRequestId: "local", getRemainingTimeInMillis: () => 30_000 };',
      'process.stdout.write("\\nRESULT " + JSON.stringify(await handler(event, context)) + "\\n");',
    ].join('\n'),
  );
  const env = { PATH: process.env.PATH ?? '', ...environment, ...moto.env, LOG_LEVEL: 'warn', TEST_EVENT: JSON.stringify(event) };
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['invoke.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  const result = /\nRESULT (.*)\n/.exec(run.stdout)?.[1];
  if (run.code !== 0 || result === undefined) throw new Error(`the bundle failed (${run.code}):\n${run.stderr}\n${run.stdout}`);
  return JSON.parse(result);
}

/** Every action an IAM policy document allows (IAM hands documents over URL-encoded, Terraform's plan as JSON). */
function allowedActions(document: string | undefined): string[] {
  const doc = JSON.parse(document?.startsWith('{') ? document : decodeURIComponent(document ?? '')) as {
    Statement: Array<{ Effect: string; Action: string | string[] }>;
  };
  return doc.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => ([] as string[]).concat(s.Action));
}

/** The actions a synthesized construct's inline policy allows, found by the policy name's prefix (its role's id). */
function cdkActions(template: Template, policyPrefix: string): string[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(`^${policyPrefix}`) } })) as Array<{
    Properties: { PolicyDocument: { Statement: Array<{ Effect: string; Action: string | string[] }> } };
  }>;
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => ([] as string[]).concat(s.Action)));
}

/** Where a module call deploys: its `name` (every resource is `<name>-…`), region and account. */
interface Deployed {
  name: string;
  region: string;
  account: string;
}

/**
 * A reference of the construct (Ref, Fn::GetAtt), as the module names the same resource: the
 * queues, the healer, the alert topic, the stack's own alarms (`MonitoringFailureQueueAlarm…` is
 * `<name>-failure-queue`), the observers' log group, the region. Anything else fails, naming the
 * reference.
 */
function moduleValueOf(reference: unknown, { name, region, account }: Deployed): string {
  const text = JSON.stringify(reference);
  const queues: Record<string, string> = {
    FailureQueue: 'failures',
    LegacyQueue: 'legacy',
    LegacyDeadLetterQueue: 'legacy-dead-letters',
    EvidenceQueue: 'evidence',
    EvidenceDeadLetterQueue: 'evidence-dead-letters',
    VerdictQueue: 'verdicts',
    VerdictDeadLetterQueue: 'verdict-dead-letters',
  };
  const queue = /^\{"Fn::GetAtt":\["AutoHeal(\w+Queue)[0-9A-F]{8}","QueueName"\]\}$/.exec(text)?.[1];
  const queueArn = /^\{"Fn::GetAtt":\["AutoHeal(\w+Queue)[0-9A-F]{8}","Arn"\]\}$/.exec(text)?.[1];
  const queueUrl = /^\{"Ref":"AutoHeal(\w+Queue)[0-9A-F]{8}"\}$/.exec(text)?.[1];
  const alarm = /^\{"Fn::GetAtt":\["AutoHealMonitoring(\w+)Alarm[0-9A-F]{8}","Arn"\]\}$/.exec(text)?.[1];
  if (text === '{"Ref":"AWS::Region"}') return region;
  if (/^\{"Ref":"AutoHealAlertTopic[0-9A-F]{8}"\}$/.test(text)) return `arn:aws:sns:${region}:${account}:${name}-alerts`;
  if (/^\{"Fn::GetAtt":\["AutoHealObserversLogGroup[0-9A-F]{8}","Arn"\]\}$/.test(text)) return `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${name}-observers:*`;
  if (/^\{"Ref":"AutoHealHealer[0-9A-F]{8}"\}$/.test(text)) return `${name}-healer`;
  if (/^\{"Ref":"AutoHealAlarmSync[0-9A-F]{8}"\}$/.test(text)) return `${name}-alarm-sync`;
  if (/^\{"Ref":"AutoHealLedgerTable[0-9A-F]{8}"\}$/.test(text)) return `${name}-ledger`;
  if (/^\{"Fn::GetAtt":\["AutoHealLedgerTable[0-9A-F]{8}","Arn"\]\}$/.test(text)) return `arn:aws:dynamodb:${region}:${account}:table/${name}-ledger`;
  if (queue && queues[queue]) return `${name}-${queues[queue]}`;
  if (queueArn && queues[queueArn]) return `arn:aws:sqs:${region}:${account}:${name}-${queues[queueArn]}`;
  if (queueUrl && queues[queueUrl]) return `https://sqs.${region}.amazonaws.com/${account}/${name}-${queues[queueUrl]}`;
  if (/^\{"Fn::GetAtt":\["AutoHealObserversRole[0-9A-F]{8}","Arn"\]\}$/.test(text)) return `arn:aws:iam::${account}:role/${name}-observers`;
  if (alarm) return `arn:aws:cloudwatch:${region}:${account}:alarm:${name}-${alarm.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`;
  throw new Error(`the test knows no module name for the construct's reference ${text}`);
}

/** A template value with the construct's references replaced by the module's names (Fn::Join joined). */
function asDeployed(value: unknown, deployed: Deployed): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => (typeof part === 'string' ? part : moduleValueOf(part, deployed))).join(join[0]);
  return moduleValueOf(value, deployed);
}

interface CdkAlarm {
  AlarmDescription: string;
  AlarmActions: unknown[];
  Namespace: string;
  MetricName: string;
  Statistic: string;
  Period: number;
  EvaluationPeriods: number;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  Dimensions: Array<{ Name: string; Value: unknown }>;
}

/** The alarms on the stack's own health (src/cdk/monitoring.ts), its stack-health topic's logical id and its dashboard. */
function cdkMonitoring(template: Template): { alarms: CdkAlarm[]; stackTopic: string; dashboardBody: unknown } {
  const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm'))
    .filter(([id]) => id.startsWith('AutoHealMonitoring'))
    .map(([, r]) => (r as { Properties: CdkAlarm }).Properties);
  const [stackTopic] = Object.keys(template.findResources('AWS::SNS::Topic', { Properties: { DisplayName: 'autoheal stack health' } }));
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
  return { alarms, stackTopic: stackTopic as string, dashboardBody: dashboard?.Properties.DashboardBody };
}

/** The alarm a module created for one of the construct's: same description, metric, statistic, thresholds, dimensions, action. */
function expectSameAlarm(alarm: Record<string, unknown> | undefined, cdkAlarm: CdkAlarm, deployed: Deployed, label: string): void {
  // Exactly these dimensions and actions (toMatchObject alone would let the module add one).
  expect(alarm?.dimensions, label).toEqual(Object.fromEntries(cdkAlarm.Dimensions.map((d) => [d.Name, asDeployed(d.Value, deployed)])));
  expect(alarm?.alarm_actions, label).toEqual([`arn:aws:sns:${deployed.region}:${deployed.account}:${deployed.name}-stack-health`]);
  expect(alarm, label).toMatchObject({
    namespace: cdkAlarm.Namespace,
    metric_name: cdkAlarm.MetricName,
    statistic: cdkAlarm.Statistic,
    period: cdkAlarm.Period,
    evaluation_periods: cdkAlarm.EvaluationPeriods,
    threshold: cdkAlarm.Threshold,
    comparison_operator: cdkAlarm.ComparisonOperator,
    treat_missing_data: cdkAlarm.TreatMissingData,
    dimensions: Object.fromEntries(cdkAlarm.Dimensions.map((d) => [d.Name, asDeployed(d.Value, deployed)])),
    alarm_actions: [`arn:aws:sns:${deployed.region}:${deployed.account}:${deployed.name}-stack-health`],
  });
}

interface CdkFunction {
  Description: string;
  Runtime: string;
  Architectures: string[];
  Timeout: number;
  MemorySize: number;
  ReservedConcurrentExecutions: number;
  VpcConfig: { SubnetIds: string[] };
  Environment: { Variables: Record<string, unknown> };
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** A policy's statements with the construct's references as the module's names, actions and resources as sorted lists. */
function statementsOf(statements: Statement[], deployed: Deployed): unknown[] {
  return statements
    .map((st) => ({
      Sid: st.Sid,
      Effect: st.Effect,
      Action: ([] as string[]).concat(st.Action).sort(),
      Resource: ([] as unknown[]).concat(st.Resource).map((r) => asDeployed(r, deployed)).sort(),
      ...(st.Condition ? { Condition: st.Condition } : {}),
    }))
    .sort((a, b) => String(a.Sid).localeCompare(String(b.Sid)));
}

/** Base64 SHA-256 of a file, as Lambda's CodeSha256 and Terraform's filebase64sha256. */
function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('base64');
}

/**
 * The CDK construct, synthesized with `props` (default: what the example passes, the same group and
 * every other prop at its default) in a stack named as the module call is (what names its alarms).
 */
function cdkTemplate(props: Omit<AutoHealProps, 'bundleDir'> = { groups: [group] }, stackName = 'autoheal'): Template {
  const bundleDir = mkdtempSync(join(tf.work, 'cdk-bundle-'));
  for (const bundle of ['lambda.mjs', 'observer.mjs', 'alarm-sync.mjs']) writeFileSync(join(bundleDir, bundle), 'export const handler = async () => ({});\n');
  const app = new App({ outdir: mkdtempSync(join(tf.work, 'cdk-out-')) });
  const stack = new Stack(app, stackName);
  new AutoHeal(stack, 'AutoHeal', { ...props, bundleDir });
  return Template.fromStack(stack);
}

/** The construct's test stacks (test/cdk/auto-heal.test.ts) and the same props as module variables, planned side by side. */
const variants = {
  insights: {
    props: { groups: ['web', "o'neil"], detection: ['alarms', 'probe'], alarm: { mode: 'metrics-insights', evaluationPeriods: 3 }, notificationEmail: 'ops@example.com' },
    hcl: 'group_names = ["web", "o\'neil"]\n  detection = ["alarms", "probe"]\n  alarm = { mode = "metrics-insights", evaluation_periods = 3 }\n  probe = { host_role_name = "probe-host" }\n  notification_email = "ops@example.com"',
  },
  legacy: {
    props: { legacyQueue: true, optInTag: { key: 'team', value: 'workers' }, alarm: { syncInterval: Duration.minutes(30) } },
    hcl: 'legacy_queue = {}\n  opt_in_tag = { key = "team", value = "workers" }\n  alarm = { sync_interval_minutes = 30 }',
  },
  bridge: {
    props: { legacyQueue: { consumer: 'bridge', maxReceiveCount: 3 }, detection: ['probe'] },
    hcl: 'legacy_queue = { consumer = "bridge", max_receive_count = 3 }\n  detection = ["probe"]',
  },
  observers: {
    props: {
      groups: ['web', 'api'],
      detection: ['probe'],
      probe: {
        subnets: [
          { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
          { subnetId: 'subnet-0bbb', availabilityZone: 'us-east-1b' },
        ],
        vpcId: 'vpc-0123abcd',
        instanceSecurityGroupId: 'sg-0123abcd',
        port: 443,
        check: 'tcp',
        path: '/ready',
        interval: Duration.seconds(5),
        timeout: Duration.millis(1500),
        unhealthyThreshold: 3,
        memorySize: 512,
      },
    },
    hcl: [
      'group_names = ["web", "api"]',
      'detection = ["probe"]',
      'probe = {',
      '    subnets = [{ subnet_id = "subnet-0aaa", availability_zone = "us-east-1a" }, { subnet_id = "subnet-0bbb", availability_zone = "us-east-1b" }]',
      '    vpc_id = "vpc-0123abcd", instance_security_group_id = "sg-0123abcd", port = 443, check = "tcp", path = "/ready"',
      '    interval_seconds = 5, timeout_seconds = 1.5, unhealthy_threshold = 3, memory_size_mb = 512',
      '  }',
    ].join('\n  '),
  },
  zones: {
    props: {
      groups: ['web'],
      detection: ['alarms', 'probe'],
      probe: {
        subnets: ['a', 'b', 'c'].map((z, n) => ({ subnetId: `subnet-0${n}ff`, availabilityZone: `us-east-1${z}` })),
        vpcId: 'vpc-0456abcd',
      },
    },
    hcl: [
      'group_names = ["web"]',
      'detection = ["alarms", "probe"]',
      'probe = { vpc_id = "vpc-0456abcd", subnets = [for n, z in ["a", "b", "c"] : { subnet_id = "subnet-0${n}ff", availability_zone = "us-east-1${z}" }] }',
    ].join('\n  '),
  },
  rails: {
    props: {
      groups: ['web'],
      rails: { maxMarksPerWindow: 4, markRateWindow: Duration.minutes(20), suspicionShare: 0.6, freeze: Duration.minutes(5), loopMarks: 4, probeQuorum: 3 },
      maxUnhealthyShare: 0.25,
      staleAfter: Duration.seconds(90),
      dryRun: true,
      respectGracePeriod: false,
      logLevel: 'debug',
    },
    hcl: [
      'group_names = ["web"]',
      'rails = { max_marks_per_window = 4, mark_rate_window_seconds = 1200, suspicion_share = 0.6, freeze_seconds = 300, loop_marks = 4, probe_quorum = 3 }',
      'max_unhealthy_share = 0.25',
      'stale_after_seconds = 90',
      'dry_run = true',
      'respect_grace_period = false',
      'log_level = "debug"',
    ].join('\n  '),
  },
  // Two deployments at their defaults whose names begin alike: their alarms must never mix.
  a: { props: {}, hcl: '' },
  'a-sc': { props: {}, hcl: '' },
} satisfies Record<string, { props: Omit<AutoHealProps, 'bundleDir'>; hcl: string }>;
type Variant = keyof typeof variants;

/**
 * `terraform init` of a root that is only planned. The example's lock file first: without one,
 * terraform (>= 1.4) does not trust the plugin cache and installs the provider into it again, and
 * roots initialized side by side then race on the cache's directory ("mkdir …: file exists").
 */
async function initPlanRoot(dir: string): Promise<void> {
  copyFileSync(join(example, '.terraform.lock.hcl'), join(dir, '.terraform.lock.hcl'));
  await tf.ok(dir, ['init', '-input=false', '-no-color', '-backend=false']);
}

/** Plans every variant in one root: the resources each module call would create. */
async function planVariants(): Promise<Record<Variant | 'lookup', Planned[]>> {
  const dir = join(tf.work, 'variants');
  mkdirSync(dir);
  // Beside them, observers without probe.vpc_id in two of moto's default subnets: the module reads their VPC.
  const { Subnets } = await new EC2Client(moto.clientConfig).send(new DescribeSubnetsCommand({}));
  const [a, b] = Subnets?.filter((x, n, all) => all.findIndex((y) => y.AvailabilityZone === x.AvailabilityZone) === n) ?? [];
  lookupSubnets = [a, b].map((x) => ({ subnetId: x?.SubnetId as string, availabilityZone: x?.AvailabilityZone as string, vpcId: x?.VpcId as string }));
  const lookup = `group_names = ["web"]\n  detection = ["probe"]\n  probe = { subnets = ${JSON.stringify(lookupSubnets.map((x) => ({ subnet_id: x.subnetId, availability_zone: x.availabilityZone })))} }`;
  writeFileSync(
    join(dir, 'main.tf'),
    'provider "aws" {}\n' +
      [...Object.entries(variants).map(([name, v]) => [name, v.hcl]), ['lookup', lookup.replace(/"(\w+)":/g, '$1 = ')]]
        .map(([name, hcl]) => `module "${name}" {\n  source = "../deploy/terraform"\n  name = "${name}"\n  ${hcl}\n}\n`)
        .join(''),
  );
  await initPlanRoot(dir);
  await tf.ok(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false', '-out=plan.bin']);
  const plan = JSON.parse(await tf.ok(dir, ['show', '-json', 'plan.bin'])) as {
    planned_values: { root_module: { child_modules: Array<{ address: string; resources: Planned[] }> } };
  };
  return Object.fromEntries(
    [...Object.keys(variants), 'lookup'].map((name) => [name, plan.planned_values.root_module.child_modules.find((m) => m.address === `module.${name}`)?.resources ?? []]),
  ) as Record<Variant | 'lookup', Planned[]>;
}

/**
 * Plans two roots of mistakes: one with each variable's own mistakes, and one with the rules
 * across variables and the archives that were never built (terraform checks those only once
 * every variable is valid on its own).
 */
async function planMistakes(): Promise<{ variables: TerraformRun; cross: TerraformRun; typo: TerraformRun }> {
  const variables = join(tf.work, 'bad-variables');
  const cross = join(tf.work, 'bad-cross');
  const twoSubnets = '[{ subnet_id = "subnet-0a", availability_zone = "us-east-1a" }, { subnet_id = "subnet-0b", availability_zone = "us-east-1b" }]';
  const module = (name: string, body: string[]) => `module "${name}" {\n  source = "../deploy/terraform"\n${body.map((line) => `  ${line}\n`).join('')}}\n`;
  mkdirSync(variables);
  writeFileSync(
    join(variables, 'main.tf'),
    'provider "aws" {}\n' +
      module('autoheal', [
        'group_names         = ["web", "web"]',
        'detection           = ["alarms", "ping"]',
        'max_unhealthy_share = 1.5',
        'notification_email  = "ops"',
        'legacy_queue        = { consumer = "sqs", max_receive_count = 0 }',
        'opt_in_tag          = { key = "a=b", value = "x" }',
        'timeout_seconds     = 960',
        'memory_size_mb      = 64',
      ]) +
      module('alarm', ['alarm = { period_seconds = 45, sync_interval_minutes = 0, prefix = "autoheal-" }']) +
      module('insights', ['alarm = { mode = "metrics-insights", period_seconds = 10, evaluation_periods = 0 }']) +
      // The construct refuses dryRun "yes" from JavaScript; here the variable's type does.
      module('dry_run', ['name    = "d"', 'dry_run = "yes"']) +
      module('rails', [
        'rails = { max_marks_per_window = 0, mark_rate_window_seconds = 0.0005, suspicion_share = 1.2, freeze_seconds = 0, loop_marks = 1, probe_quorum = 10 }',
      ]) +
      module('observers', [
        'name        = "o"',
        'group_names = ["web"]',
        'detection   = ["probe"]',
        'probe       = { subnets = [{ subnet_id = "sub-1", availability_zone = "east" }], port = 0, check = "udp", path = "health", interval_seconds = 40, unhealthy_threshold = 11, memory_size_mb = 64 }',
      ]) +
      // Settings that cannot mean what they say: a threshold every healthy instance passes, one that never fires.
      module('threshold_zero', ['name  = "t0"', 'alarm = { threshold = 0 }']) +
      module('threshold_five', ['name  = "t5"', 'alarm = { threshold = 5 }']) +
      module('observer_zones', [
        'name        = "z"',
        'group_names = ["web"]',
        'detection   = ["probe"]',
        'probe       = { subnets = [{ subnet_id = "subnet-0a", availability_zone = "us-east-1a" }, { subnet_id = "subnet-0b", availability_zone = "us-east-1a" }], timeout_seconds = 3 }',
      ]),
  );
  mkdirSync(cross);
  writeFileSync(
    join(cross, 'main.tf'),
    'provider "aws" {}\n' +
      module('alarm_without_alarms', ['detection = ["probe"]', 'alarm     = { mode = "metrics-insights" }']) +
      module('probe_without_probe', ['name  = "p"', 'probe = {}']) +
      module('unbuilt_healer', ['name       = "u"', 'lambda_zip = "/nonexistent/lambda.zip"']) +
      module('unbuilt_intake', ['name         = "i"', 'legacy_queue = {}', 'intake_zip   = "/nonexistent/intake.zip"']) +
      module('observers_without_groups', ['name      = "g"', 'detection = ["probe"]', `probe     = { vpc_id = "vpc-1", subnets = ${twoSubnets} }`]) +
      module('quorum_above_observers', ['name        = "q"', 'group_names = ["web"]', 'detection   = ["probe"]', `probe       = { vpc_id = "vpc-1", subnets = ${twoSubnets} }`, 'rails       = { probe_quorum = 3 }']) +
      module('unbuilt_observer', ['name         = "b"', 'group_names  = ["web"]', 'detection    = ["probe"]', `probe        = { vpc_id = "vpc-1", subnets = ${twoSubnets} }`, 'observer_zip = "/nonexistent/observer.zip"']),
  );
  // The example itself, with names it does not declare in the variable files Terraform loads by itself.
  const typo = join(tf.work, 'examples/typo');
  cpSync(join(root, 'examples/terraform'), typo, { recursive: true, filter: (f) => !f.includes('.terraform') });
  writeFileSync(join(typo, 'terraform.tfvars'), 'group_names = ["web"]\ndryrun      = true\n');
  writeFileSync(join(typo, 'ops.auto.tfvars.json'), JSON.stringify({ notification_mail: 'ops@example.com', dry_run: true }));
  const [variablesRun, crossRun, typoRun] = await Promise.all(
    [variables, cross, typo].map(async (dir) => {
      await initPlanRoot(dir);
      return tf.run(dir, ['plan', '-input=false', '-json', '-lock=false', '-refresh=false']);
    }),
  );
  return { variables: variablesRun as TerraformRun, cross: crossRun as TerraformRun, typo: typoRun as TerraformRun };
}

/** Every terraform run that needs no apply, started beside it. */
let variantsPlanned: Promise<Record<Variant | 'lookup', Planned[]>>;
/** The moto subnets (two zones) of the planned observers whose VPC the module reads. */
let lookupSubnets: Array<{ subnetId: string; availabilityZone: string; vpcId: string }>;
let mistakesPlanned: Promise<{ variables: TerraformRun; cross: TerraformRun; typo: TerraformRun }>;

beforeAll(async () => {
  for (const built of ['dist/lambda.mjs', 'dist/alarm-sync.mjs']) {
    if (!existsSync(join(root, built))) throw new Error(`${built} not found: run "npm run build" first (npm test does)`);
  }
  moto = await startMoto();
  const config = await fetch(`${moto.endpoint}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
  expect(await config.json()).toMatchObject({ lambda: { use_docker: false } });
  // The repository layout the module and its example expect: deploy/terraform, examples/terraform and the archives they name.
  tf = terraformWorkspace({
    prefix: 'autoheal-terraform-',
    trees: ['deploy/terraform', 'examples/terraform'],
    archives: ['lambda.zip', 'intake.zip', 'observer.zip', 'alarm-sync.zip'],
    env: moto.env,
  });
  example = join(tf.work, 'examples/terraform');
  // The first init fills the plugin cache; the other roots' inits only link it.
  await tf.ok(example, ['init', '-input=false', '-no-color']);
  // A name the example declares, in a file Terraform loads by itself: the apply goes on.
  writeFileSync(join(example, 'autoheal.auto.tfvars'), 'dry_run = false\n');
  applied = tf.ok(example, ['apply', '-auto-approve', '-input=false', '-no-color', '-var', `group_names=["${group}"]`]);
  variantsPlanned = planVariants();
  mistakesPlanned = planMistakes();
  // Awaited by the tests; a failure is reported there, not as an unhandled rejection here.
  for (const started of [applied, variantsPlanned, mistakesPlanned]) started.catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([applied, variantsPlanned, mistakesPlanned]);
  await moto?.stop();
  tf?.cleanup();
});

describe('terraform validate', () => {
  it('accepts the example and the module it calls, formatted as terraform fmt writes them', async () => {
    // Act: validating the example validates the module as its child (the variants' plan checks it with every option).
    const results = await Promise.all([
      tf.run(example, ['validate', '-no-color']),
      tf.run(root, ['fmt', '-check', '-recursive', '-no-color', 'deploy/terraform', 'examples/terraform']),
    ]);

    // Assess
    for (const run of results) expect(run, run.stderr + run.stdout).toMatchObject({ code: 0 });
    expect(results[0]?.stdout).toContain('Success! The configuration is valid.');
  }, 180_000);

  it('admits hashicorp/aws 5.27 to 6.x and validates with no warning, deprecations included (the mirror here has 5.100.0 only)', async () => {
    // Act
    const validated = JSON.parse((await tf.run(example, ['validate', '-json'])).stdout) as { valid: boolean; warning_count: number; diagnostics: unknown[] };
    const lock = readFileSync(join(example, '.terraform.lock.hcl'), 'utf8');
    const sources = ['deploy/terraform/versions.tf', 'examples/terraform/main.tf'].map((f) => readFileSync(join(root, f), 'utf8'));
    const module = readdirSync(join(root, 'deploy/terraform'))
      .filter((f) => f.endsWith('.tf'))
      .map((f) => readFileSync(join(root, 'deploy/terraform', f), 'utf8'))
      .join('\n');

    // Assess
    expect(validated, JSON.stringify(validated.diagnostics)).toMatchObject({ valid: true, warning_count: 0 });
    for (const source of sources) expect(source).toMatch(/version\s*=\s*">= 5\.27, < 7"/);
    expect(lock).toMatch(/provider "registry\.terraform\.io\/hashicorp\/aws" \{\s*version\s*=\s*"5\.100\.0"/);
    // What the version 6 upgrade guide deprecates among what the module reads: data.aws_region's name.
    expect(module).not.toMatch(/data\.aws_region\.\w+\.name\b/);
  }, 180_000);
});

describe('the module variables', () => {
  it('reject what the construct rejects, each with a message naming the variable', async () => {
    // Act
    const { variables, cross } = await mistakesPlanned;

    // Assess
    expect(variables.code).toBe(1);
    expect(errorsOf(variables).sort()).toEqual(
      [
        'group_names: a group is named twice.',
        'detection: unknown "ping"; known: "alarms", "probe", "app-checks".',
        'max_unhealthy_share: must be > 0 and <= 1, got 1.5.',
        'notification_email: "ops" is not an e-mail address.',
        'legacy_queue.consumer: expected "lambda" or "bridge", got "sqs".',
        'legacy_queue.max_receive_count: must be an integer from 1 to 1000, got 0.',
        'opt_in_tag.key: must be non-empty and contain no "=", got "a=b".',
        'timeout_seconds: must be from 10 to 900 seconds, got 960.',
        'memory_size_mb: must be an integer from 128 to 10240 MB, got 64.',
        'alarm.prefix: "autoheal-" overlaps the probe\'s alarm names "autoheal-probe-…".',
        'alarm.period_seconds: must be 10, 20, 30 or a multiple of 60, got 45.',
        'alarm.sync_interval_minutes: must be whole minutes from 1 to 1440, got 0.',
        'alarm.period_seconds: must be a multiple of 60 in metrics-insights mode (Metrics Insights has no high-resolution data).',
        'alarm.evaluation_periods: must be an integer >= 1, got 0.',
        'rails.max_marks_per_window: must be an integer >= 1 (or unset for twice the group\'s budget), got 0.',
        'rails.mark_rate_window_seconds: must be at least 1 second (a shorter window holds nothing, and the rail would never act), whole milliseconds, got 0.0005.',
        'rails.suspicion_share: must be > 0 and <= 1, got 1.2.',
        'rails.freeze_seconds: must be at least 1 second (a shorter window holds nothing, and the rail would never act), whole milliseconds, got 0.',
        'alarm.threshold: must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= 0 alarms on every instance.',
        'alarm.threshold: must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire (got 5).',
        'rails.loop_marks: must be an integer >= 2, got 1.',
        'rails.probe_quorum: must be an integer from 1 to 9, got 10.',
        'probe.subnets: give at least two subnets in different Availability Zones (got 1).',
        'probe.subnets: [0].subnet_id "sub-1" is not a subnet id (subnet-0123abcd).',
        'probe.subnets: [0].availability_zone "east" is not an Availability Zone (us-east-1a).',
        'probe.port: an integer from 1 to 65535, got 0.',
        'probe.check: expected "http" or "tcp", got "udp".',
        'probe.path: must start with "/", got "health".',
        'probe.interval_seconds: from 0.5 to 30 seconds (whole milliseconds), got 40.',
        'probe.unhealthy_threshold: an integer from 1 to 10, got 11.',
        'probe.memory_size_mb: an integer from 128 to 10240 MB, got 64.',
        'probe.subnets: all in one Availability Zone; observers must see from at least two.',
        'probe.subnets: one subnet per Availability Zone (observers are named by zone).',
        'probe.timeout_seconds: more than 0 and at most probe.interval_seconds (2), whole milliseconds, got 3.',
      ]
        .map((m) => `Invalid value for variable: ${m}`)
        .concat('Invalid value for input variable: The given value is not suitable for module.dry_run.var.dry_run: a bool is required.')
        .sort(),
    );
    expect(cross.code).toBe(1);
    expect(errorsOf(cross).sort()).toEqual(
      [
        'Invalid value for variable: alarm: settings given, but detection does not include "alarms".',
        'Invalid value for variable: probe: settings given, but detection does not include "probe" (or "app-checks").',
        'Resource precondition failed: lambda_zip: /nonexistent/lambda.zip not found (run "npm run build" in autoheal first).',
        'Resource precondition failed: intake_zip: /nonexistent/intake.zip not found (run "npm run build" in autoheal first).',
        'Invalid value for variable: group_names: name the groups the observers probe (observers do not follow the opt-in tag).',
        'Invalid value for variable: rails.probe_quorum: 3 observers must agree, but 2 are deployed: probe verdicts could never mark; lower the quorum or add observers.',
        // One per observer function.
        'Resource precondition failed: observer_zip: /nonexistent/observer.zip not found (run "npm run build" in autoheal first).',
        'Resource precondition failed: observer_zip: /nonexistent/observer.zip not found (run "npm run build" in autoheal first).',
      ].sort(),
    );
  }, 180_000);

  it('the example stops at a name it does not declare in a variable file Terraform loads by itself (Terraform only warns), naming the nearest one', async () => {
    // Act
    const { typo } = await mistakesPlanned;

    // Assess
    expect(typo.code).toBe(1);
    expect(errorsOf(typo)).toEqual([
      'Resource precondition failed: ' +
        'ops.auto.tfvars.json: "notification_mail" is not a variable of this configuration; did you mean notification_email? ' +
        'terraform.tfvars: "dryrun" is not a variable of this configuration; did you mean dry_run? ' +
        '(it declares group_names, notification_email, dry_run)',
    ]);
  }, 180_000);

});

describe('the module variants, planned', () => {
  let planned: Record<Variant | 'lookup', Planned[]>;
  let synthesized: Record<Variant, Template>;

  beforeAll(async () => {
    synthesized = Object.fromEntries(Object.entries(variants).map(([name, v]) => [name, cdkTemplate(v.props, name)])) as typeof synthesized;
    planned = await variantsPlanned;
  }, 120_000);

  const ofType = (name: Variant, type: string) => planned[name].filter((r) => r.type === type).map((r) => r.values);
  /** Where a variant deploys, read from its healer's environment (the plan knows the topic's ARN). */
  const deployedOf = (name: Variant): Deployed => {
    const [fn] = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'lambda.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;
    const [, region, account] = /^arn:aws:sns:([^:]+):(\d{12}):/.exec(fn?.environment[0]?.variables.AUTOHEAL_NOTICE_TOPIC_ARN ?? '') ?? [];
    return { name, region: region as string, account: account as string };
  };
  const at = (name: Variant, address: string) => planned[name].find((r) => r.address === `module.${name}.${address}`)?.values;
  const cfn = (name: Variant, type: string) =>
    Object.values(synthesized[name].findResources(type)).map((r) => (r as { Properties: Record<string, unknown> }).Properties);

  it('routes the same events and schedules to the healer as the construct, in every variant', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Assess
      const rules = ofType(name, 'aws_cloudwatch_event_rule').map((v) => (v.event_pattern ? JSON.parse(v.event_pattern as string) : v.schedule_expression) as unknown);
      const cdkRules = cfn(name, 'AWS::Events::Rule').map((p) => p.EventPattern ?? p.ScheduleExpression);
      expect(rules, name).toEqual(expect.arrayContaining(cdkRules));
      expect(rules, name).toHaveLength(cdkRules.length);
    }
  });

  it('creates the construct\'s Metrics Insights group alarms, e-mail and prober host attachment, and no probe subscription', () => {
    // Assess
    const alarms = ofType('insights', 'aws_cloudwatch_metric_alarm').filter((a) => (a.metric_query as unknown[]).length > 0);
    const cdkAlarms = cfn('insights', 'AWS::CloudWatch::Alarm').filter((a) => a.Metrics !== undefined) as Array<{ AlarmName: string; Metrics: Array<{ Id: string; Expression: string; Period: number; ReturnData: boolean }> } & Record<string, unknown>>;
    expect(alarms.map((a) => a.alarm_name).sort()).toEqual(cdkAlarms.map((a) => a.AlarmName).sort());
    for (const cdkAlarm of cdkAlarms) {
      const alarm = alarms.find((a) => a.alarm_name === cdkAlarm.AlarmName);
      expect(alarm).toMatchObject({
        alarm_description: cdkAlarm.AlarmDescription,
        evaluation_periods: cdkAlarm.EvaluationPeriods,
        threshold: cdkAlarm.Threshold,
        comparison_operator: cdkAlarm.ComparisonOperator,
        treat_missing_data: cdkAlarm.TreatMissingData,
        metric_query: cdkAlarm.Metrics.map((m) => expect.objectContaining({ id: m.Id, expression: m.Expression, period: m.Period, return_data: m.ReturnData })),
      });
    }
    expect(alarms).toHaveLength(2);
    // Probe verdicts come by the verdict channel: neither takes them from the topic.
    expect(ofType('insights', 'aws_sns_topic_subscription').filter((v) => v.protocol === 'lambda')).toEqual([]);
    expect(cfn('insights', 'AWS::SNS::Subscription').filter((p) => p.Protocol === 'lambda')).toEqual([]);
    expect(ofType('insights', 'aws_iam_role_policy_attachment')).toEqual([expect.objectContaining({ role: 'probe-host' })]);
  });

  it('watches itself as the construct does, in every variant: its alarms on their own topic, the e-mail of notices only, the dashboard', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Prepare
      const deployed = deployedOf(name);
      const cdk = cdkMonitoring(synthesized[name]);
      const alarms = planned[name].filter((r) => r.address.startsWith(`module.${name}.aws_cloudwatch_metric_alarm.stack[`)).map((r) => r.values);
      const [dashboard] = ofType(name, 'aws_cloudwatch_dashboard');

      // Assess: the stack's alarms, each on the stack-health topic (the construct's: its own topic).
      expect(alarms.map((a) => a.alarm_description).sort(), name).toEqual(cdk.alarms.map((a) => a.AlarmDescription).sort());
      for (const cdkAlarm of cdk.alarms) {
        expect(cdkAlarm.AlarmActions, name).toEqual([{ Ref: cdk.stackTopic }]);
        expectSameAlarm(alarms.find((a) => a.alarm_description === cdkAlarm.AlarmDescription), cdkAlarm, deployed, `${name}: ${cdkAlarm.AlarmDescription}`);
      }
      expect(at(name, 'aws_sns_topic.stack_health'), name).toMatchObject({ name: `${name}-stack-health`, display_name: cfn(name, 'AWS::SNS::Topic').find((t) => t.DisplayName === 'autoheal stack health')?.DisplayName });
      // The dashboard, widget for widget, with the module's names where the construct has references.
      expect(JSON.parse(dashboard?.dashboard_body as string), name).toEqual(JSON.parse(asDeployed(cdk.dashboardBody, deployed) as string));
      expect(dashboard?.dashboard_name, name).toBe(name);
    }
    // Failure queue, legacy dead letters, healer errors and throttles, failed decisions; the evidence
    // queue's oldest message and dead letters (the lifecycle rule feeds it); the sync's errors.
    expect(cdkMonitoring(synthesized.legacy).alarms).toHaveLength(8);

    // The e-mail: notices only from the alert topic (filter policy), everything from the stack-health topic.
    const emails = cfn('insights', 'AWS::SNS::Subscription').filter((p) => p.Protocol === 'email');
    const { stackTopic } = cdkMonitoring(synthesized.insights);
    const cdkNotices = emails.find((p) => JSON.stringify(p.TopicArn) !== JSON.stringify({ Ref: stackTopic }));
    const cdkStackHealth = emails.find((p) => JSON.stringify(p.TopicArn) === JSON.stringify({ Ref: stackTopic }));
    const notices = at('insights', 'aws_sns_topic_subscription.email[0]');
    const stackHealth = at('insights', 'aws_sns_topic_subscription.stack_health_email[0]');
    expect(emails).toHaveLength(2);
    expect(cdkNotices?.FilterPolicy).toEqual({ autoheal_notice: [{ exists: true }] });
    expect(notices).toMatchObject({ protocol: 'email', endpoint: cdkNotices?.Endpoint });
    expect(JSON.parse(notices?.filter_policy as string)).toEqual(cdkNotices?.FilterPolicy);
    expect(cdkStackHealth).toMatchObject({ Endpoint: 'ops@example.com' });
    expect(cdkStackHealth?.FilterPolicy).toBeUndefined();
    expect(stackHealth).toMatchObject({ protocol: 'email', endpoint: cdkStackHealth?.Endpoint, filter_policy: null });
    for (const name of ['legacy', 'bridge', 'rails'] as const) expect(ofType(name, 'aws_sns_topic_subscription').filter((v) => v.protocol === 'email'), name).toEqual([]);
  });

  it('deploys the construct\'s observers: one per zone in its subnet, started every minute, never retried, behind their security group, each with its heartbeat alarm', () => {
    for (const name of ['observers', 'zones'] as const) {
      // Prepare
      const deployed = deployedOf(name);
      const cdkFunctions = Object.entries(synthesized[name].findResources('AWS::Lambda::Function', { Properties: { Handler: 'observer.handler' } })).map(([id, r]) => ({
        id,
        ...(r as { Properties: CdkFunction }).Properties,
      }));
      const functions = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'observer.handler');
      const subnets = (variants[name].props.probe.subnets as Array<{ subnetId: string }>).map((x) => x.subnetId);

      // Assess: the functions, one per subnet, with the construct's settings and environment.
      expect(cdkFunctions, name).toHaveLength(subnets.length);
      expect(functions.map((f) => f.description).sort(), name).toEqual(cdkFunctions.map((f) => f.Description).sort());
      for (const cdkFn of cdkFunctions) {
        const fn = functions.find((f) => f.description === cdkFn.Description);
        expect(fn, name).toMatchObject({
          runtime: cdkFn.Runtime,
          architectures: cdkFn.Architectures,
          timeout: cdkFn.Timeout,
          memory_size: cdkFn.MemorySize,
          // Unreserved (-1): runs never overlap through the observer's lease in the ledger table.
          reserved_concurrent_executions: -1,
          source_code_hash: sha256Of(join(root, 'dist/observer.zip')),
          vpc_config: [expect.objectContaining({ subnet_ids: cdkFn.VpcConfig.SubnetIds })],
        });
        // Exactly the construct's names and values (the topic's reference as the module's ARN).
        expect((fn?.environment as Array<{ variables: Record<string, string> }>)[0]?.variables, name).toEqual(
          Object.fromEntries(Object.entries(cdkFn.Environment.Variables).map(([k, v]) => [k, asDeployed(v, deployed)])),
        );
        expect(cdkFn.ReservedConcurrentExecutions, name).toBeUndefined();
      }
      expect(functions.flatMap((f) => (f.vpc_config as Array<{ subnet_ids: string[] }>)[0]?.subnet_ids ?? []).sort(), name).toEqual([...subnets].sort());
      // Started every minute (the rules test compares the schedules), neither the run nor its start retried.
      const cdkInvokeConfigs = cfn(name, 'AWS::Lambda::EventInvokeConfig').filter((c) => cdkFunctions.some((f) => JSON.stringify(c.FunctionName) === JSON.stringify({ Ref: f.id })));
      const invokeConfigs = ofType(name, 'aws_lambda_function_event_invoke_config').filter((c) => String(c.function_name).startsWith(`${name}-observer-`));
      expect(invokeConfigs.map((c) => [c.maximum_retry_attempts, c.maximum_event_age_in_seconds]), name).toEqual(
        cdkInvokeConfigs.map((c) => [c.MaximumRetryAttempts, c.MaximumEventAgeInSeconds]),
      );
      const cdkTargets = cfn(name, 'AWS::Events::Rule').flatMap((r) => r.Targets as Array<{ Arn: unknown; RetryPolicy: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number } }>)
        .filter((t) => cdkFunctions.some((f) => JSON.stringify(t.Arn) === JSON.stringify({ 'Fn::GetAtt': [f.id, 'Arn'] })));
      const targets = ofType(name, 'aws_cloudwatch_event_target').filter((t) => t.target_id === 'observer');
      expect(targets.map((t) => t.retry_policy), name).toEqual(
        cdkTargets.map((t) => [{ maximum_retry_attempts: t.RetryPolicy.MaximumRetryAttempts, maximum_event_age_in_seconds: t.RetryPolicy.MaximumEventAgeInSeconds }]),
      );
      expect(targets.every((t) => (t.dead_letter_config as unknown[]).length === 0), name).toBe(true);

      // The security group: only the probed port and HTTPS out; the instances' group lets the observers in.
      const [cdkGroup] = cfn(name, 'AWS::EC2::SecurityGroup') as Array<{ GroupDescription: string; VpcId: string; SecurityGroupEgress: Array<Record<string, unknown>> }>;
      const [group] = ofType(name, 'aws_security_group');
      expect(group, name).toMatchObject({ description: cdkGroup?.GroupDescription, vpc_id: cdkGroup?.VpcId, ingress: [] });
      const egress = (group?.egress as Array<{ protocol: string; from_port: number; to_port: number; cidr_blocks: string[]; description: string }>).map((e) => ({
        IpProtocol: e.protocol,
        FromPort: e.from_port,
        ToPort: e.to_port,
        CidrIp: e.cidr_blocks.join(),
        Description: e.description,
      }));
      const byPort = (a: Record<string, unknown>, b: Record<string, unknown>) => Number(a.FromPort) - Number(b.FromPort);
      expect(egress.sort(byPort), name).toEqual([...(cdkGroup?.SecurityGroupEgress ?? [])].sort(byPort));
      const cdkIngress = cfn(name, 'AWS::EC2::SecurityGroupIngress');
      expect(ofType(name, 'aws_vpc_security_group_ingress_rule').map((r) => [r.security_group_id, r.ip_protocol, r.from_port, r.to_port, r.description]), name).toEqual(
        cdkIngress.map((r) => [r.GroupId, r.IpProtocol, r.FromPort, r.ToPort, r.Description]),
      );

      // Their role: exactly the construct's statements; their log group's retention.
      const [policy] = ofType(name, 'aws_iam_role_policy').filter((p) => p.name === 'observers');
      const [cdkPolicy] = Object.values(synthesized[name].findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('^AutoHealObserversRole') } })) as Array<{
        Properties: { PolicyDocument: { Statement: Statement[] } };
      }>;
      expect(statementsOf((JSON.parse(policy?.policy as string) as { Statement: Statement[] }).Statement, deployed), name).toEqual(
        statementsOf(cdkPolicy?.Properties.PolicyDocument.Statement ?? [], deployed),
      );
      const cdkLogGroups = Object.entries(synthesized[name].findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('AutoHealObserversLogGroup'));
      expect(ofType(name, 'aws_cloudwatch_log_group').filter((g) => g.name === `/aws/lambda/${name}-observers`).map((g) => g.retention_in_days), name).toEqual(
        cdkLogGroups.map(([, g]) => (g as { Properties: { RetentionInDays: number } }).Properties.RetentionInDays),
      );

      // A heartbeat alarm per observer, on the alert topic (the stack named as the module is).
      const cdkAlarms = Object.entries(synthesized[name].findResources('AWS::CloudWatch::Alarm'))
        .filter(([id]) => id.startsWith('AutoHealObserversHeartbeat'))
        .map(([, r]) => (r as { Properties: CdkAlarm & { AlarmName: string; OKActions: unknown[] } }).Properties);
      const alarms = planned[name].filter((r) => r.address.startsWith(`module.${name}.aws_cloudwatch_metric_alarm.observer_heartbeat[`)).map((r) => r.values);
      expect(alarms, name).toHaveLength(subnets.length);
      expect(alarms.map((a) => a.alarm_name).sort(), name).toEqual(cdkAlarms.map((a) => a.AlarmName).sort());
      for (const cdkAlarm of cdkAlarms) {
        const alarm = alarms.find((a) => a.alarm_name === cdkAlarm.AlarmName);
        expect(alarm, name).toMatchObject({
          alarm_description: cdkAlarm.AlarmDescription,
          namespace: cdkAlarm.Namespace,
          metric_name: cdkAlarm.MetricName,
          statistic: cdkAlarm.Statistic,
          period: cdkAlarm.Period,
          evaluation_periods: cdkAlarm.EvaluationPeriods,
          threshold: cdkAlarm.Threshold,
          comparison_operator: cdkAlarm.ComparisonOperator,
          treat_missing_data: cdkAlarm.TreatMissingData,
        });
        expect([alarm?.dimensions, alarm?.alarm_actions, alarm?.ok_actions], name).toEqual([
          Object.fromEntries(cdkAlarm.Dimensions.map((d) => [d.Name, d.Value])),
          cdkAlarm.AlarmActions.map((a) => asDeployed(a, deployed)),
          cdkAlarm.OKActions.map((a) => asDeployed(a, deployed)),
        ]);
      }
    }
    // Without subnets, probe detection deploys no observer, as the construct.
    expect(cfn('insights', 'AWS::Lambda::Function').filter((p) => p.Handler === 'observer.handler')).toEqual([]);
    expect(ofType('insights', 'aws_lambda_function').filter((f) => f.handler === 'observer.handler')).toEqual([]);
  });

  it('reads the observers\' VPC from their first subnet when probe.vpc_id is not given, as the construct does at deploy time', () => {
    // Prepare
    const template = cdkTemplate({ groups: ['web'], detection: ['probe'], probe: { subnets: lookupSubnets.map(({ subnetId, availabilityZone }) => ({ subnetId, availabilityZone })) } });
    const [group] = planned.lookup.filter((r) => r.type === 'aws_security_group').map((r) => r.values);
    const functions = planned.lookup.filter((r) => r.type === 'aws_lambda_function' && r.values.handler === 'observer.handler');

    // Assess: the module's plan has the VPC; the construct's lookup asks EC2 for the same subnet.
    expect(lookupSubnets[0]?.vpcId).toMatch(/^vpc-/);
    expect(group?.vpc_id).toBe(lookupSubnets[0]?.vpcId);
    expect(functions).toHaveLength(2);
    const [lookup] = Object.values(template.findResources('Custom::AWS')) as Array<{ Properties: { Create?: unknown; Update?: unknown } }>;
    const call = lookup?.Properties.Update ?? lookup?.Properties.Create;
    expect(typeof call === 'string' ? call : JSON.stringify(call)).toContain(`"SubnetIds":["${lookupSubnets[0]?.subnetId}"]`);
  });

  it('grants the prober host the construct\'s statements, heartbeat included, in every probe variant', () => {
    for (const name of ['insights', 'bridge', 'observers', 'zones'] as const) {
      // Prepare
      const [policy] = ofType(name, 'aws_iam_policy').filter((p) => p.name === `${name}-prober`);
      const [cdkPolicy] = Object.entries(synthesized[name].findResources('AWS::IAM::ManagedPolicy'))
        .filter(([id]) => id.startsWith('AutoHealProberPolicy'))
        .map(([, r]) => (r as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties);

      // Assess
      expect(statementsOf((JSON.parse(policy?.policy as string) as { Statement: Statement[] }).Statement, deployedOf(name)), name).toEqual(
        statementsOf(cdkPolicy?.PolicyDocument.Statement ?? [], deployedOf(name)),
      );
    }
  });

  it('feeds the healer from the legacy queue through the construct\'s intake, invoked asynchronously, and a bridge instead gets its policy', () => {
    // Prepare
    // The legacy queue's mapping (the evidence queue has its own, on the healer: see the intake test below).
    const [mapping] = planned.legacy.filter((r) => r.type === 'aws_lambda_event_source_mapping' && !r.address.includes('.evidence')).map((r) => r.values);
    const [cdkMapping] = cfn('legacy', 'AWS::Lambda::EventSourceMapping').filter((m) => !JSON.stringify(m.EventSourceArn).includes('EvidenceQueue'));
    const functions = ofType('legacy', 'aws_lambda_function');
    const healer = functions.find((f) => f.handler === 'lambda.handler');
    const intake = functions.find((f) => f.handler === 'index.handler');
    const cdkIntake = cfn('legacy', 'AWS::Lambda::Function').find((p) => p.Handler === 'index.handler' && String(p.Description).includes('legacy-queue record')) as
      | { Runtime: string; Architectures: string[]; Timeout: number; Description: string; Code: { ZipFile: string }; Environment: { Variables: Record<string, unknown> } }
      | undefined;
    const intakeCode = unzipSync(readFileSync(join(root, 'dist/intake.zip')));

    // Assess: the event source is on the intake, never on the single serialized healer.
    expect(mapping).toMatchObject({ function_name: intake?.function_name, batch_size: cdkMapping?.BatchSize, function_response_types: cdkMapping?.FunctionResponseTypes });
    expect(intake).toMatchObject({
      runtime: cdkIntake?.Runtime,
      architectures: cdkIntake?.Architectures,
      timeout: cdkIntake?.Timeout,
      description: cdkIntake?.Description,
      source_code_hash: sha256Of(join(root, 'dist/intake.zip')),
      environment: [{ variables: { HEALER_FUNCTION: healer?.function_name } }],
    });
    expect(Object.keys(cdkIntake?.Environment.Variables ?? {})).toEqual(['HEALER_FUNCTION']);
    // The archive holds exactly the construct's inline code.
    expect(Object.keys(intakeCode)).toEqual(['index.js']);
    expect(new TextDecoder().decode(intakeCode['index.js'])).toBe(intakeHandlerSource);
    expect(cdkIntake?.Code.ZipFile).toBe(intakeHandlerSource);
    const [intakePolicy] = ofType('legacy', 'aws_iam_role_policy').filter((p) => p.name === 'intake');
    expect(new Set(allowedActions(intakePolicy?.policy as string))).toEqual(new Set(cdkActions(synthesized.legacy, 'AutoHealLegacyIntakeRole')));
    const legacyQueue = ofType('legacy', 'aws_sqs_queue').find((q) => q.name === 'legacy-legacy');
    const cdkQueue = cfn('legacy', 'AWS::SQS::Queue').find((q) => JSON.stringify(q.RedrivePolicy ?? '').includes('LegacyDeadLetterQueue'));
    expect(legacyQueue).toMatchObject({ visibility_timeout_seconds: cdkQueue?.VisibilityTimeout, message_retention_seconds: cdkQueue?.MessageRetentionPeriod });
    expect(ofType('legacy', 'aws_sns_topic_subscription').map((v) => v.protocol)).toEqual(['sqs']);
    // The bridge consumes the legacy queue; the healer's only mapping is the verdict channel's (detection probe), as the construct's.
    expect(planned.bridge.filter((r) => r.type === 'aws_lambda_event_source_mapping').map((r) => r.address)).toEqual(['module.bridge.aws_lambda_event_source_mapping.verdicts[0]']);
    expect(cfn('bridge', 'AWS::Lambda::EventSourceMapping').map((m) => JSON.stringify(m.EventSourceArn))).toEqual([expect.stringContaining('VerdictQueue')]);
    expect(ofType('bridge', 'aws_lambda_function').map((f) => f.handler)).toEqual(['lambda.handler']);
    expect(ofType('bridge', 'aws_iam_policy').map((v) => v.name).sort()).toEqual(['bridge-bridge', 'bridge-prober']);
    expect(ofType('bridge', 'aws_lambda_invocation')).toEqual([]);
    expect(ofType('bridge', 'aws_sns_topic_subscription').map((v) => v.protocol)).toEqual(['sqs']);
  });

  it('gives the healer the construct\'s environment values for non-default props', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Prepare
      const [fn] = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'lambda.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;
      const [cdkHealer] = cfn(name, 'AWS::Lambda::Function').filter((p) => p.Handler === 'lambda.handler') as Array<{
        Environment: { Variables: Record<string, unknown> };
        Timeout: number;
        MemorySize: number;
      }>;

      // Assess: every literal value, and the names the construct sets to the alert topic's reference.
      const cdkVariables = Object.entries(cdkHealer?.Environment.Variables ?? {});
      const literal = cdkVariables.filter(([, v]) => typeof v === 'string');
      const references = cdkVariables.filter(([, v]) => typeof v !== 'string').map(([k]) => k);
      const variables = Object.entries(fn?.environment[0]?.variables ?? {});
      expect(variables.filter(([k]) => !references.includes(k)).sort(), name).toEqual(literal.sort());
      expect(references.sort(), name).toEqual(['AUTOHEAL_ALARM_TOPIC_ARN', 'AUTOHEAL_LEDGER_TABLE', 'AUTOHEAL_NOTICE_TOPIC_ARN']);
      for (const key of references.filter((k) => k !== 'AUTOHEAL_LEDGER_TABLE')) {
        expect(fn?.environment[0]?.variables[key], `${name} ${key}`).toMatch(new RegExp(`^arn:aws:sns:[^:]+:\\d{12}:${name}-alerts$`));
      }
      expect(fn?.environment[0]?.variables.AUTOHEAL_LEDGER_TABLE, name).toBe(`${name}-ledger`);
      expect(fn, name).toMatchObject({ timeout: cdkHealer?.Timeout, memory_size: cdkHealer?.MemorySize });
    }
  });

  it('names each deployment in its alarm prefix, as the construct names its stack; no deployment\'s prefix begins another\'s ("a" and "a-sc")', () => {
    // Prepare
    const prefixes = (Object.keys(variants) as Variant[]).map((name) => {
      const [fn] = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'lambda.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;
      return [name, fn?.environment[0]?.variables.AUTOHEAL_ALARM_PREFIX as string] as const;
    });

    // Assess
    for (const [name, p] of prefixes) expect(p, name).toBe(`autoheal-status-check.${name}.`);
    for (const [name, p] of prefixes) {
      for (const [other, q] of prefixes) if (name !== other) expect(q.startsWith(p), `${name}'s prefix begins ${other}'s`).toBe(false);
      expect(p.startsWith('autoheal-status-check-'), `${name}'s prefix and the runtime default`).toBe(false);
    }
    // Everything the module scopes by it: the healer's grants on the alarms, the rules, the sync's payload, the output.
    expect(JSON.parse(at('a', 'aws_iam_role_policy.healer')?.policy as string)).toMatchObject({
      Statement: expect.arrayContaining([expect.objectContaining({ Sid: 'WriteOwnAlarms', Resource: expect.stringMatching(/:alarm:autoheal-status-check\.a\.\*$/) })]),
    });
    expect(JSON.parse(at('a-sc', 'aws_lambda_invocation.alarm_lifecycle[0]')?.input as string)).toMatchObject({ alarm: { prefix: 'autoheal-status-check.a-sc.' } });
  });

  it('reserves concurrency in no function, keeps the healer\'s direct events as long as the construct keeps them, and takes evidence as the construct does, in every variant', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Prepare
      const [fn] = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'lambda.handler');
      const [cdkHealer] = cfn(name, 'AWS::Lambda::Function').filter((p) => p.Handler === 'lambda.handler');
      const [invokeConfig] = ofType(name, 'aws_lambda_function_event_invoke_config').filter((c) => c.function_name === `${name}-healer`);
      const [cdkInvokeConfig] = cfn(name, 'AWS::Lambda::EventInvokeConfig');

      // Assess
      expect(cdkHealer?.ReservedConcurrentExecutions, name).toBeUndefined();
      for (const f of ofType(name, 'aws_lambda_function')) expect(f.reserved_concurrent_executions, `${name}: ${String(f.function_name)}`).toBe(-1);
      const [mapping] = planned[name].filter((r) => r.address === `module.${name}.aws_lambda_event_source_mapping.evidence[0]`).map((r) => r.values);
      const [cdkMapping] = cfn(name, 'AWS::Lambda::EventSourceMapping').filter((m) => JSON.stringify(m.EventSourceArn).includes('EvidenceQueue'));
      expect(mapping === undefined, name).toBe(cdkMapping === undefined);
      if (cdkMapping) {
        expect(mapping, name).toMatchObject({
          batch_size: cdkMapping.BatchSize,
          maximum_batching_window_in_seconds: cdkMapping.MaximumBatchingWindowInSeconds,
          function_response_types: cdkMapping.FunctionResponseTypes,
          scaling_config: [{ maximum_concurrency: (cdkMapping.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency }],
        });
        const [queue] = planned[name].filter((r) => r.address === `module.${name}.aws_sqs_queue.evidence[0]`).map((r) => r.values);
        const [cdkQueue] = cfn(name, 'AWS::SQS::Queue').filter((q) => JSON.stringify(q.RedrivePolicy ?? '').includes('EvidenceDeadLetterQueue'));
        expect(queue, name).toMatchObject({ visibility_timeout_seconds: cdkQueue?.VisibilityTimeout, message_retention_seconds: cdkQueue?.MessageRetentionPeriod });
        expect(JSON.parse(queue?.redrive_policy as string).maxReceiveCount, name).toBe((cdkQueue?.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount);
      }
      // The ledger table, as the construct's: on demand, pk, TTL on expiresAt; named to the healer.
      const [table] = ofType(name, 'aws_dynamodb_table');
      const [cdkTable] = cfn(name, 'AWS::DynamoDB::Table');
      expect(table, name).toMatchObject({
        name: `${name}-ledger`,
        billing_mode: cdkTable?.BillingMode,
        hash_key: (cdkTable?.KeySchema as Array<{ AttributeName: string }>)[0]?.AttributeName,
        ttl: [{ attribute_name: (cdkTable?.TimeToLiveSpecification as { AttributeName: string }).AttributeName, enabled: true }],
      });
      expect((fn?.environment as Array<{ variables: Record<string, string> }>)[0]?.variables.AUTOHEAL_LEDGER_TABLE, name).toBe(`${name}-ledger`);
      expect(invokeConfig, name).toMatchObject({
        maximum_event_age_in_seconds: cdkInvokeConfig?.MaximumEventAgeInSeconds,
        maximum_retry_attempts: cdkInvokeConfig?.MaximumRetryAttempts,
      });
    }
  });

  it('grants the healer the construct healer\'s actions in every variant (its log statement, known after apply, is compared there)', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Prepare: the healer's document without the log statement is known at plan time.
      const [policy] = ofType(name, 'aws_iam_role_policy').filter((p) => p.name === 'healer');
      const cdk = cdkActions(synthesized[name], 'AutoHealHealerRole').filter((a) => !a.startsWith('logs:'));

      // Assess
      expect(new Set(allowedActions(policy?.policy as string)), name).toEqual(new Set(cdk));
    }
    expect(cdkActions(synthesized.insights, 'AutoHealHealerRole')).toContain('cloudwatch:DescribeAlarmContributors');
    // A bridge consumes the legacy queue itself, and with probe detection only there is no evidence
    // queue: the healer receives from the verdict channel alone.
    expect(cdkActions(synthesized.bridge, 'AutoHealHealerRole').filter((a) => a === 'sqs:ReceiveMessage')).toHaveLength(1);
    expect(cdkActions(synthesized.rails, 'AutoHealHealerRole')).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'sqs:ReceiveMessage']));
  });

  it('closes the verdict channel as the construct does: a Deny of SendMessage to every principal but the observers\' role and the named host\'s, taken by the healer\'s mapping', () => {
    for (const name of ['insights', 'bridge', 'observers', 'zones'] as const) {
      // Prepare
      const deployed = deployedOf(name);
      const queue = at(name, 'aws_sqs_queue.verdicts[0]');
      const deny = (JSON.parse(queue?.policy as string) as { Statement: Statement[] }).Statement.find((st) => st.Sid === 'OnlyObserversSend');
      const cdkDeny = cfn(name, 'AWS::SQS::QueuePolicy')
        .flatMap((p) => (p.PolicyDocument as { Statement: Array<Statement & { Principal: unknown }> }).Statement)
        .find((st) => st.Sid === 'OnlyObserversSend');
      const senders = [
        ...(name === 'observers' || name === 'zones' ? [`arn:aws:iam::${deployed.account}:role/${name}-observers`] : []),
        ...(name === 'insights' ? [`arn:aws:iam::${deployed.account}:role/probe-host`] : []),
      ];

      // Assess
      if (senders.length === 0) {
        // Nobody named (no observers, no host role): open to the account's own grants, as the topic was.
        expect(deny, name).toBeUndefined();
        expect(cdkDeny, name).toBeUndefined();
      } else {
        expect(deny, name).toEqual({
          Sid: 'OnlyObserversSend',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sqs:SendMessage',
          Resource: `arn:aws:sqs:${deployed.region}:${deployed.account}:${name}-verdicts`,
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': senders } },
        });
      }
      // The construct's test stack names no host role in the insights variant; with observers, the same Deny.
      if (name === 'observers' || name === 'zones') {
        const cdkSenders = (cdkDeny?.Condition as { ArnNotEquals: { 'aws:PrincipalArn': unknown[] } }).ArnNotEquals['aws:PrincipalArn'].map((v) => asDeployed(v, deployed));
        expect(cdkSenders, name).toEqual(senders);
        expect(asDeployed(cdkDeny?.Resource, deployed), name).toBe(deny?.Resource);
      }
      const mapping = at(name, 'aws_lambda_event_source_mapping.verdicts[0]');
      const [cdkMapping] = cfn(name, 'AWS::Lambda::EventSourceMapping').filter((m) => JSON.stringify(m.EventSourceArn).includes('VerdictQueue'));
      expect(mapping, name).toMatchObject({
        batch_size: cdkMapping?.BatchSize,
        function_response_types: ['ReportBatchItemFailures'],
        scaling_config: [{ maximum_concurrency: (cdkMapping?.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency }],
      });
      expect(JSON.parse(queue?.redrive_policy as string), name).toMatchObject({ deadLetterTargetArn: `arn:aws:sqs:${deployed.region}:${deployed.account}:${name}-verdict-dead-letters` });
    }
  });

  it('leaves no subscription that drops OK verdicts, and names every deployed observer to the healer (AUTOHEAL_OBSERVERS), in every variant', () => {
    for (const name of Object.keys(variants) as Variant[]) {
      // Prepare
      const [fn] = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'lambda.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;
      const [cdkHealer] = cfn(name, 'AWS::Lambda::Function').filter((p) => p.Handler === 'lambda.handler');
      const observers = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'observer.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;

      // Assess
      for (const subscription of ofType(name, 'aws_sns_topic_subscription')) {
        expect(subscription.protocol, name).not.toBe('lambda');
        const states = subscription.filter_policy ? (JSON.parse(subscription.filter_policy as string) as { NewStateValue?: unknown[] }).NewStateValue : undefined;
        if (states !== undefined) expect(states, name).toContain('OK');
      }
      const voters = fn?.environment[0]?.variables.AUTOHEAL_OBSERVERS;
      expect(voters, name).toBe((cdkHealer?.Environment as { Variables: Record<string, unknown> }).Variables.AUTOHEAL_OBSERVERS);
      if (observers.length === 0) expect(voters, name).toBeUndefined();
      else expect(voters?.split(',').sort(), name).toEqual(observers.map((o) => o.environment[0]?.variables.AUTOHEAL_OBSERVER_NAME).sort());
    }
    expect(ofType('zones', 'aws_lambda_function').filter((f) => f.handler === 'observer.handler')).toHaveLength(3);
  });

  it('gives each observer the verdict channel\'s URL and SendMessage on it, and no topic to publish verdicts to', () => {
    for (const name of ['observers', 'zones'] as const) {
      // Prepare
      const deployed = deployedOf(name);
      const observers = ofType(name, 'aws_lambda_function').filter((f) => f.handler === 'observer.handler') as Array<{ environment: Array<{ variables: Record<string, string> }> }>;
      const [policy] = ofType(name, 'aws_iam_role_policy').filter((p) => p.name === 'observers');
      const statements = (JSON.parse(policy?.policy as string) as { Statement: Statement[] }).Statement;

      // Assess
      for (const fn of observers) {
        expect(fn.environment[0]?.variables.AUTOHEAL_VERDICT_QUEUE_URL, name).toBe(`https://sqs.${deployed.region}.amazonaws.com/${deployed.account}/${name}-verdicts`);
        expect(fn.environment[0]?.variables, name).not.toHaveProperty('AUTOHEAL_OBSERVER_TOPIC_ARN');
      }
      expect(statements.filter((st) => ([] as string[]).concat(st.Action).some((a) => a.startsWith('sqs:') || a.startsWith('sns:'))), name).toEqual([
        { Sid: 'SendVerdicts', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${deployed.region}:${deployed.account}:${name}-verdicts` },
      ]);
    }
  });
});

describe('terraform apply of examples/terraform against moto', () => {
  const clients = () => ({
    lambda: new LambdaClient(moto.clientConfig),
    sns: new SNSClient(moto.clientConfig),
    sqs: new SQSClient(moto.clientConfig),
    asg: new AutoScalingClient(moto.clientConfig),
    cw: new CloudWatchClient(moto.clientConfig),
    logs: new CloudWatchLogsClient(moto.clientConfig),
    events: new EventBridgeClient(moto.clientConfig),
    iam: new IAMClient(moto.clientConfig),
  });
  let aws: ReturnType<typeof clients>;
  let outputs: Record<string, { value: string }>;
  let environment: Record<string, string>;
  /** The alarm sync function's deployed environment. */
  let syncEnvironment: Record<string, string>;
  let cdk: Template;
  /** The input the module's aws_lambda_invocation sends (Terraform adds `tf`). */
  let invocationInput: Record<string, unknown>;

  beforeAll(async () => {
    aws = clients();
    cdk = cdkTemplate();
    await applied;
    outputs = JSON.parse(await tf.ok(example, ['output', '-json'])) as Record<string, { value: string }>;
    const config = await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: outputs.healer_function_name?.value }));
    environment = config.Environment?.Variables ?? {};
    syncEnvironment = (await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'autoheal-alarm-sync' }))).Environment?.Variables ?? {};
    const state = JSON.parse(readFileSync(join(example, 'terraform.tfstate'), 'utf8')) as {
      resources: Array<{ type: string; instances: Array<{ attributes: { input: string } }> }>;
    };
    const invocation = state.resources.find((r) => r.type === 'aws_lambda_invocation');
    invocationInput = JSON.parse(invocation?.instances[0]?.attributes.input ?? 'null') as Record<string, unknown>;
  }, 120_000);

  it('deploys the healer reserving no concurrency: the bundle archive, handler lambda.handler, nodejs22.x on arm64, direct events retried for six hours then kept in the failure queue', async () => {
    // Act
    const fn = await aws.lambda.send(new GetFunctionCommand({ FunctionName: outputs.healer_function_name?.value }));
    const invoke = await aws.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: outputs.healer_function_name?.value }));
    const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'autoheal-' }));
    const failureQueue = queues.QueueUrls?.find((u) => u.endsWith('/autoheal-failures'));
    const failureArn = failureQueue
      ? (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: failureQueue, AttributeNames: ['QueueArn', 'Policy'] }))).Attributes
      : undefined;

    // Assess
    expect(fn.Configuration).toMatchObject({ Handler: 'lambda.handler', Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 60, MemorySize: 256 });
    expect(fn.Configuration?.CodeSha256).toBe(sha256Of(join(root, 'dist/lambda.zip')));
    expect(fn.Concurrency?.ReservedConcurrentExecutions).toBeUndefined();
    expect(failureArn?.QueueArn).toMatch(/:autoheal-failures$/);
    expect(invoke).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21_600, DestinationConfig: { OnFailure: { Destination: failureArn?.QueueArn } } });
    expect(JSON.parse(failureArn?.Policy ?? '{}')).toMatchObject({
      Statement: expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    });
    expect(outputs.healer_log_group_name?.value).toMatch(/^\/aws\/lambda\/autoheal-healer-/);
  });

  it('gives the healer exactly the environment names and values the construct gives it', () => {
    // Prepare
    const [cdkHealer] = Object.values(cdk.findResources('AWS::Lambda::Function', { Properties: { Handler: 'lambda.handler' } })) as Array<{
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }>;
    const cdkVariables = cdkHealer?.Properties.Environment.Variables ?? {};

    // Assess: the names, so that a variable the construct gains fails here until the module sets it.
    expect(Object.keys(environment).sort()).toEqual(Object.keys(cdkVariables).sort());
    for (const [name, value] of Object.entries(cdkVariables)) {
      // The topic and the table are references in the template: compare them with the deployed ones.
      const deployedValue = name === 'AUTOHEAL_LEDGER_TABLE' ? 'autoheal-ledger' : outputs.alert_topic_arn?.value;
      expect(environment[name], name).toBe(typeof value === 'string' ? value : deployedValue);
    }
  });

  it('routes the same events as the construct: alarm state changes and launches to the evidence queue, held work to the healer, the sync schedule to the sync function', async () => {
    // Prepare
    const rules = (await aws.events.send(new ListRulesCommand({ NamePrefix: 'autoheal-' }))).Rules ?? [];
    const cdkRules = Object.values(cdk.findResources('AWS::Events::Rule')) as Array<{
      Properties: { EventPattern?: unknown; ScheduleExpression?: string };
    }>;
    const healerArn = (await aws.lambda.send(new GetFunctionCommand({ FunctionName: outputs.healer_function_name?.value }))).Configuration?.FunctionArn;
    const syncArn = (await aws.lambda.send(new GetFunctionCommand({ FunctionName: 'autoheal-alarm-sync' }))).Configuration?.FunctionArn;
    const evidenceUrl = (await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'autoheal-evidence' }))).QueueUrls?.find((u) => u.endsWith('/autoheal-evidence'));
    const evidenceArn = evidenceUrl ? (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: evidenceUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn : undefined;
    const where: Record<string, string | undefined> = { 'autoheal-alarm-state': evidenceArn, 'autoheal-lifecycle': evidenceArn, 'autoheal-held-work': healerArn, 'autoheal-alarm-sync': syncArn };

    // Assess
    expect(rules.map((r) => r.EventPattern ? JSON.parse(r.EventPattern) as unknown : r.ScheduleExpression)).toEqual(
      expect.arrayContaining(cdkRules.map((r) => r.Properties.EventPattern ?? r.Properties.ScheduleExpression)),
    );
    expect(rules).toHaveLength(cdkRules.length);
    const targets = await Promise.all(rules.map((rule) => aws.events.send(new ListTargetsByRuleCommand({ Rule: rule.Name }))));
    expect(evidenceArn).toMatch(/:autoheal-evidence$/);
    for (const [n, rule] of rules.entries()) {
      const retries = rule.Name === 'autoheal-alarm-sync' ? 2 : 8;
      expect(targets[n]?.Targets, rule.Name).toEqual([
        expect.objectContaining({ Arn: where[rule.Name as string], RetryPolicy: { MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: 3600 } }),
      ]);
    }
  });

  it('creates the alert topic the alarms notify', async () => {
    // Act
    const topic = await aws.sns.send(new GetTopicAttributesCommand({ TopicArn: outputs.alert_topic_arn?.value }));

    // Assess
    expect(topic.Attributes).toMatchObject({ DisplayName: 'autoheal alerts' });
    expect(environment.AUTOHEAL_ALARM_TOPIC_ARN).toBe(outputs.alert_topic_arn?.value);
  });

  it('watches itself as the construct does: its alarms notify the stack-health topic, and its dashboard', async () => {
    // Prepare
    const deployed = { name: 'autoheal', region: moto.region, account: outputs.alert_topic_arn?.value.split(':')[4] as string };
    const { alarms: cdkAlarms, dashboardBody } = cdkMonitoring(cdk);

    // Act
    const alarms = ((await aws.cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'autoheal-' }))).MetricAlarms ?? []).filter((a) => !a.AlarmName?.startsWith(prefix));
    const topic = await aws.sns.send(new GetTopicAttributesCommand({ TopicArn: outputs.stack_health_topic_arn?.value }));
    const dashboard = await aws.cw.send(new GetDashboardCommand({ DashboardName: outputs.dashboard_name?.value }));

    // Assess
    expect(topic.Attributes).toMatchObject({ DisplayName: 'autoheal stack health' });
    expect(outputs.stack_health_topic_arn?.value).toBe(`arn:aws:sns:${deployed.region}:${deployed.account}:autoheal-stack-health`);
    expect(alarms.map((a) => a.AlarmDescription).sort()).toEqual(cdkAlarms.map((a) => a.AlarmDescription).sort());
    for (const cdkAlarm of cdkAlarms) {
      const alarm = alarms.find((a) => a.AlarmDescription === cdkAlarm.AlarmDescription);
      const asPlanned = alarm && {
        namespace: alarm.Namespace,
        metric_name: alarm.MetricName,
        statistic: alarm.Statistic,
        period: alarm.Period,
        evaluation_periods: alarm.EvaluationPeriods,
        threshold: alarm.Threshold,
        comparison_operator: alarm.ComparisonOperator,
        treat_missing_data: alarm.TreatMissingData,
        dimensions: Object.fromEntries((alarm.Dimensions ?? []).map((d) => [d.Name, d.Value])),
        alarm_actions: alarm.AlarmActions,
      };
      expectSameAlarm(asPlanned, cdkAlarm, deployed, cdkAlarm.AlarmDescription);
    }
    expect(JSON.parse(dashboard.DashboardBody ?? 'null')).toEqual(JSON.parse(asDeployed(dashboardBody, deployed) as string));
  });

  it('grants no wildcard action in any role or policy it creates, and the healer exactly the construct healer\'s actions', async () => {
    // Prepare
    const roles = ((await aws.iam.send(new ListRolesCommand({}))).Roles ?? []).filter((r) => r.RoleName?.startsWith('autoheal-'));
    const policies = (await aws.iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies ?? [];
    const granted = new Map<string, string[]>();
    for (const { RoleName } of roles) {
      const { PolicyNames } = await aws.iam.send(new ListRolePoliciesCommand({ RoleName }));
      for (const PolicyName of PolicyNames ?? []) {
        const { PolicyDocument } = await aws.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }));
        granted.set(RoleName as string, [...(granted.get(RoleName as string) ?? []), ...allowedActions(PolicyDocument)]);
      }
      const { AttachedPolicies } = await aws.iam.send(new ListAttachedRolePoliciesCommand({ RoleName }));
      expect(AttachedPolicies, `${RoleName} has no managed policy`).toEqual([]);
    }
    for (const { PolicyName, Arn, DefaultVersionId } of policies) {
      const { PolicyVersion } = await aws.iam.send(new GetPolicyVersionCommand({ PolicyArn: Arn, VersionId: DefaultVersionId }));
      granted.set(PolicyName as string, allowedActions(PolicyVersion?.Document));
    }

    // Assess
    expect(roles.map((r) => r.RoleName).sort()).toEqual(['autoheal-alarm-sync', 'autoheal-healer']);
    const all = [...granted.values()].flat();
    expect(all.length).toBeGreaterThan(5);
    expect(all.filter((a) => a.includes('*'))).toEqual([]);
    expect(new Set(granted.get('autoheal-healer'))).toEqual(new Set(cdkActions(cdk, 'AutoHealHealerRole')));
    expect(new Set(granted.get('autoheal-alarm-sync'))).toEqual(new Set(cdkActions(cdk, 'AutoHealAlarmSyncRole')));
  });

  it('heals an instance of a tagged group: the bundle, with the deployed environment, marks it Unhealthy on its alarm', async () => {
    // Prepare: a group opted in by tag (not named), with three instances out of their grace period.
    const { instanceIds } = await createMotoGroup(moto, { name: tagged, size: 3 });
    const instanceId = instanceIds[0] as string;
    expect(instanceIds).toHaveLength(3);
    // The project's sample of the event, about this instance's autoheal alarm entering ALARM now.
    const sample = JSON.parse(readFileSync(join(root, 'test/fixtures/events/eventbridge.alarm-state-change.ok.json'), 'utf8')) as {
      time: string;
      region: string;
      resources: string[];
      detail: { alarmName: string; state: { value: string; timestamp: string }; configuration: { metrics: Array<{ metricStat: { metric: { dimensions: Record<string, string> } } }> } };
    };
    const alarmName = `${prefix}${instanceId}`;
    const now = new Date().toISOString();
    sample.time = now.replace(/\.\d+Z$/, 'Z');
    sample.region = moto.region;
    sample.resources = [`arn:aws:cloudwatch:${moto.region}:123456789012:alarm:${alarmName}`];
    sample.detail.alarmName = alarmName;
    sample.detail.state.value = 'ALARM';
    sample.detail.state.timestamp = now.replace('Z', '+0000');
    for (const m of sample.detail.configuration.metrics) m.metricStat.metric.dimensions.InstanceId = instanceId;

    // Act
    const result = await runBundle(environment, sample);

    // Assess
    expect(result).toMatchObject({ verdicts: [{ instanceId, group: tagged, action: 'mark' }] });
    const [seen] = (await aws.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }))).AutoScalingInstances ?? [];
    expect(seen?.HealthStatus?.toUpperCase()).toBe('UNHEALTHY');
  });

  it('syncs the alarms of the managed groups on Terraform\'s create, with the payload the module sends', async () => {
    // Act: the input Terraform stored, with the key the provider adds (terraform_key "tf").
    const result = await runBundle(syncEnvironment, { ...invocationInput, tf: { action: 'create', prev_input: null } }, 'alarm-sync.mjs');

    // Assess: the named group does not exist (skipped); the tagged group's three instances get their alarm.
    expect(result).toMatchObject({ action: 'create', sync: { groups: [{ group: tagged, created: 3 }], missing: [group] } });
    const alarms = (await aws.cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix }))).MetricAlarms ?? [];
    expect(alarms).toHaveLength(3);
    expect(alarms[0]).toMatchObject({ MetricName: 'StatusCheckFailed', AlarmActions: [outputs.alert_topic_arn?.value] });
  });

  it('deletes every alarm of its prefix on destroy and no other deployment\'s, and terraform destroy leaves nothing of it but the retained log group', async () => {
    // Prepare: alarms of another deployment whose name begins alike, and of an older one on the runtime default.
    const others = ['autoheal-status-check.autoheal-sc.', 'autoheal-status-check-'].map((p) => instanceAlarmInput(parseAlarmOptions({ prefix: p }), 'i-0123456789abcdef0'));
    for (const input of others) await aws.cw.send(new PutMetricAlarmCommand(input));
    // On destroy the provider invokes the alarm sync with the stored input and tf.action "delete";
    // moto cannot run it, so its bundle runs that same payload here, as the function would.
    const cleanup = await runBundle(syncEnvironment, { ...invocationInput, tf: { action: 'delete', prev_input: invocationInput } }, 'alarm-sync.mjs');

    // Act
    await tf.ok(example, ['destroy', '-auto-approve', '-input=false', '-no-color', '-var', `group_names=["${group}"]`]);

    // Assess
    expect(cleanup).toEqual({ action: 'delete', deletedAlarms: 3 });
    const otherNames = others.map((i) => i.AlarmName as string).sort();
    expect(otherNames).toEqual(['autoheal-status-check-i-0123456789abcdef0', 'autoheal-status-check.autoheal-sc.i-0123456789abcdef0']);
    expect(((await aws.cw.send(new DescribeAlarmsCommand({}))).MetricAlarms ?? []).map((a) => a.AlarmName).sort()).toEqual(otherNames);
    // The other deployments' alarms are the test's own: removed here so the fixture leaves nothing either.
    await aws.cw.send(new DeleteAlarmsCommand({ AlarmNames: otherNames }));
    expect((await aws.cw.send(new ListDashboardsCommand({}))).DashboardEntries ?? []).toEqual([]);
    expect((await aws.lambda.send(new ListFunctionsCommand({}))).Functions).toEqual([]);
    expect((await aws.events.send(new ListRulesCommand({ NamePrefix: 'autoheal-' }))).Rules).toEqual([]);
    expect((await aws.sns.send(new ListTopicsCommand({}))).Topics ?? []).toEqual([]);
    expect((await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'autoheal-' }))).QueueUrls ?? []).toEqual([]);
    expect(((await aws.iam.send(new ListRolesCommand({}))).Roles ?? []).filter((r) => r.RoleName?.startsWith('autoheal-'))).toEqual([]);
    expect((await aws.iam.send(new ListPoliciesCommand({ Scope: 'Local' }))).Policies).toEqual([]);
    // Kept, as the construct keeps it (retain_log_group, RemovalPolicy.RETAIN): the healer's decisions outlive it.
    const logGroups = (await aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/autoheal-healer-' }))).logGroups ?? [];
    expect(logGroups.map((g) => g.logGroupName)).toEqual([outputs.healer_log_group_name?.value]);
    // The test's own group is not the module's: removed here so the fixture leaves nothing either.
    await aws.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: tagged, ForceDelete: true }));
  }, 60_000);
});
