/**
 * The verdict channel (issue 19, items 1 and 2) as the synthesized stack has it with detection
 * `probe`: only the observers' role and the named host's role may send (an explicit Deny with a
 * principal condition), the healer takes it through the intake's mapping, no subscription drops
 * OK verdicts, the healer's AUTOHEAL_OBSERVERS names every deployed observer, and each observer
 * sends to the channel with SendMessage on it and nothing else of SQS or SNS.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoHeal, type AutoHealProps } from '../../src/cdk/index.js';
import { autohealEnv } from '../../src/config.js';
import { observerEnv } from '../../src/observer/settings.js';
import { parseVoters } from '../../src/policy/voters.js';
import { stubBundleDir } from '../helpers/bundles.js';

let bundleDir: string;
let outdir: string;
let observers: Template;
let hostOnly: Template;
let open: Template;

const subnets = [
  { subnetId: 'subnet-0aaa', availabilityZone: 'us-east-1a' },
  { subnetId: 'subnet-0bbb', availabilityZone: 'us-east-1b' },
  { subnetId: 'subnet-0ccc', availabilityZone: 'us-east-1c' },
];

type Resource = { Properties: Record<string, unknown> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown; Condition?: Record<string, Record<string, unknown>> };

function synth(id: string, props: (stack: Stack) => Omit<AutoHealProps, 'bundleDir'>): Template {
  const stack = new Stack(new App({ outdir }), id);
  new AutoHeal(stack, 'AutoHeal', { ...props(stack), bundleDir });
  return Template.fromStack(stack);
}

const hostRole = (stack: Stack): iam.IRole => iam.Role.fromRoleArn(stack, 'ProbeHost', 'arn:aws:iam::123456789012:role/probe-host');

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function idOf(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids, `${type} ${prefix}`).toHaveLength(1);
  return ids[0] as string;
}

function queueStatements(t: Template): Statement[] {
  const verdictQueue = idOf(t, 'AWS::SQS::Queue', 'AutoHealVerdictQueue');
  return Object.values(t.findResources('AWS::SQS::QueuePolicy'))
    .map((p) => (p as Resource).Properties)
    .filter((p) => JSON.stringify(p.Queues).includes(verdictQueue))
    .flatMap((p) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
}

function functionsWith(t: Template, handler: string): Array<Record<string, unknown>> {
  return Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: handler } })).map((f) => (f as Resource).Properties);
}

const envOf = (fn: Record<string, unknown>): Record<string, unknown> => (fn.Environment as { Variables: Record<string, unknown> }).Variables;

beforeAll(() => {
  bundleDir = stubBundleDir();
  outdir = mkdtempSync(join(tmpdir(), 'autoheal-cdk-out-'));
  observers = synth('Channel', (stack) => ({ groups: ['web'], detection: ['alarms', 'probe'], probe: { subnets, hostRole: hostRole(stack) } }));
  hostOnly = synth('HostOnly', (stack) => ({ groups: ['web'], detection: ['probe'], probe: { hostRole: hostRole(stack) } }));
  open = synth('Open', () => ({ groups: ['web'], detection: ['probe'] }));
});
afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

describe('the verdict channel', () => {
  it('denies SendMessage to every principal whose role is not the observers\' or the named host\'s', () => {
    // Assess
    const denies = queueStatements(observers).filter((s) => s.Effect === 'Deny' && [s.Action].flat().includes('sqs:SendMessage'));
    const observerRole = idOf(observers, 'AWS::IAM::Role', 'AutoHealObserversRole');
    expect(denies).toContainEqual({
      Sid: 'OnlyObserversSend',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AutoHealVerdictQueue/), 'Arn'] },
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [observerRole, 'Arn'] }, 'arn:aws:iam::123456789012:role/probe-host'] } },
    });
    // No statement of the channel allows anyone: the Deny is what binds principals of the account.
    expect(queueStatements(observers).filter((s) => s.Effect === 'Allow')).toEqual([]);
    // The host alone, without observers, is the only sender.
    expect(queueStatements(hostOnly).find((s) => s.Sid === 'OnlyObserversSend')?.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': ['arn:aws:iam::123456789012:role/probe-host'] },
    });
  });

  it('is taken by the healer through the intake\'s mapping: batches, partial responses, bounded concurrency, a dead-letter queue, a backlog alarm', () => {
    // Assess
    const queue = idOf(observers, 'AWS::SQS::Queue', 'AutoHealVerdictQueue');
    const deadLetters = idOf(observers, 'AWS::SQS::Queue', 'AutoHealVerdictDeadLetterQueue');
    observers.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^AutoHealHealer') },
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    observers.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] }, maxReceiveCount: 10 },
    });
    observers.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
    });
  });

  it('leaves no subscription that drops OK verdicts: none takes probe verdicts from the topic', () => {
    for (const t of [observers, hostOnly, open]) {
      // Assess
      t.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'lambda' }, 0);
      for (const sub of Object.values(t.findResources('AWS::SNS::Subscription')).map((s) => (s as Resource).Properties)) {
        const states = (sub.FilterPolicy as { NewStateValue?: unknown } | undefined)?.NewStateValue;
        if (states !== undefined) expect(states, JSON.stringify(sub)).toContain('OK');
        expect(JSON.stringify(sub.FilterPolicy ?? {})).not.toContain('autoheal-probe-');
      }
    }
  });

  it('tells the healer every deployed observer by name (AUTOHEAL_OBSERVERS), as the observers name themselves', () => {
    // Assess
    const [healer] = functionsWith(observers, 'lambda.handler');
    const voters = parseVoters(String(envOf(healer ?? {})[autohealEnv.observers]));
    const deployed = functionsWith(observers, 'observer.handler').map((fn) => envOf(fn)[observerEnv.name]);
    expect(deployed).toHaveLength(3);
    expect(voters).toEqual(deployed.map((name) => ({ name })));
    expect(deployed.sort()).toEqual(['observer-us-east-1a', 'observer-us-east-1b', 'observer-us-east-1c']);
    // Without observers, no list: the host's names count as given (docs/observers.md says how to list them).
    const [hostHealer] = functionsWith(hostOnly, 'lambda.handler');
    expect(envOf(hostHealer ?? {})).not.toHaveProperty(autohealEnv.observers);
  });

  it('gives each observer the channel\'s URL and SendMessage on it, and no topic to publish verdicts to', () => {
    // Assess
    const queue = idOf(observers, 'AWS::SQS::Queue', 'AutoHealVerdictQueue');
    for (const fn of functionsWith(observers, 'observer.handler')) {
      expect(envOf(fn)[observerEnv.verdictQueueUrl]).toEqual({ Ref: queue });
      expect(envOf(fn)).not.toHaveProperty(observerEnv.topicArn);
    }
    const role = idOf(observers, 'AWS::IAM::Role', 'AutoHealObserversRole');
    const statements = Object.values(observers.findResources('AWS::IAM::Policy'))
      .map((p) => (p as Resource).Properties)
      .filter((p) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
    const messaging = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:') || a.startsWith('sns:')));
    expect(messaging).toEqual([{ Sid: 'SendVerdicts', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queue, 'Arn'] } }]);
  });

  it('without observers or a named host stays open to the account\'s own grants, as the topic was, and names no voter', () => {
    // Assess
    expect(queueStatements(open).filter((s) => s.Sid === 'OnlyObserversSend')).toEqual([]);
    const [healer] = functionsWith(open, 'lambda.handler');
    expect(envOf(healer ?? {})).not.toHaveProperty(autohealEnv.observers);
  });
});
