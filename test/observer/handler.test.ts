/**
 * The observer Lambda bundle (dist/observer.mjs, `npm run build` first), imported from a folder
 * of its own as Lambda runs it, against moto (Auto Scaling, EC2, SNS): it discovers the group's
 * InService instances and their private IPs through the real API shapes, beats an EMF heartbeat
 * on stdout, and — every instance accepting and never answering — sees every target go silent at
 * once, knows it is cut off and withholds its verdicts instead of reporting the group dead.
 *
 * Every probe stays on this machine: the group lives in a moto VPC of 127.0.0.0/16 (moto does not
 * check the range), so the instances' private IPs are loopback addresses, where the test listens.
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand, CreateLaunchConfigurationCommand } from '@aws-sdk/client-auto-scaling';
import { CreateSubnetCommand, CreateVpcCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoDbClient } from '../../src/aws/dynamodb.js';
import { observerEnv } from '../../src/observer/settings.js';
import { ensureLedgerTable } from '../../src/runtime/dynamodb-ledger.js';
import { parseEvent } from '../../src/signals/index.js';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';

const bundle = fileURLToPath(new URL('../../dist/observer.mjs', import.meta.url));
let moto: MotoFixture;
const silent: SilentServer[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(async () => {
  await Promise.all(silent.map((s) => s.close()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await moto?.stop();
});

/** Runs the handler once in a child process, as the Lambda runtime would; resolves with stdout lines and its result. */
function invoke(env: Record<string, string>): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-observer-'));
  copyFileSync(bundle, join(dir, 'observer.mjs'));
  const script =
    "const m = await import('./observer.mjs');" +
    'const out = await m.handler({}, { getRemainingTimeInMillis: () => 60000 });' +
    "process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: stdout.split('\n').filter((l) => l !== ''), stderr }));
  });
}

describe('observer Lambda bundle (moto)', () => {
  it('discovers the group, beats its heartbeat as EMF, and withholds verdicts when it reaches no instance at all', async () => {
    // Prepare: a group of 3 InService instances in moto, and the alert topic.
    const asg = new AutoScalingClient(moto.clientConfig);
    const sns = new SNSClient(moto.clientConfig);
    await asg.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'lc', ImageId: 'ami-12c6146b', InstanceType: 't3.micro' }));
    const ec2 = new EC2Client(moto.clientConfig);
    const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '127.0.0.0/16' }));
    const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: Vpc?.VpcId, CidrBlock: '127.0.1.0/24', AvailabilityZone: 'us-east-1a' }));
    await asg.send(
      new CreateAutoScalingGroupCommand({ AutoScalingGroupName: 'web', LaunchConfigurationName: 'lc', MinSize: 3, MaxSize: 3, DesiredCapacity: 3, VPCZoneIdentifier: Subnet?.SubnetId }),
    );
    const described = await ec2.send(new DescribeInstancesCommand({}));
    const ips = (described.Reservations ?? []).flatMap((r) => (r.Instances ?? []).flatMap((i) => (i.PrivateIpAddress ? [i.PrivateIpAddress] : [])));
    ec2.destroy();
    expect(ips).toHaveLength(3);
    for (const ip of ips) expect(ip, 'a loopback address: no probe leaves this machine').toMatch(/^127\./);
    // Each instance accepts and never answers, as instances behind a cut network look.
    for (const ip of ips) silent.push(await startSilentServer({ host: ip, port: 8080 }));
    const { TopicArn = '' } = await sns.send(new CreateTopicCommand({ Name: 'alerts' }));
    asg.destroy();
    sns.destroy();

    // Act
    const { code, lines, stderr } = await invoke({
      ...moto.env,
      [observerEnv.name]: 'observer-us-east-1a',
      [observerEnv.groups]: 'web',
      [observerEnv.port]: '8080',
      [observerEnv.topicArn]: TopicArn,
      [observerEnv.intervalMs]: '500',
      [observerEnv.timeoutMs]: '200',
      [observerEnv.runForMs]: '4000',
      [observerEnv.discoverEveryMs]: '1000',
      LOG_LEVEL: 'warn',
    });

    // Assess
    expect(code, stderr).toBe(0);
    const json = lines.flatMap((l) => {
      try {
        return [JSON.parse(l.replace(/^RESULT /, '')) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const beats = json.filter((j) => '_aws' in j);
    expect(beats.length).toBeGreaterThanOrEqual(1);
    expect(beats[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'autoheal',
            Dimensions: [['Observer']],
            Metrics: [
              { Name: 'ObserverHeartbeat', Unit: 'Count' },
              { Name: 'ObserverDegraded', Unit: 'Count' },
              { Name: 'ObserverTargets', Unit: 'Count' },
              { Name: 'ObserverUnreachableGroups', Unit: 'Count' },
              { Name: 'ObserverLatenessMs', Unit: 'Milliseconds' },
              { Name: 'ObserverDiscoveryFailed', Unit: 'Count' },
            ],
          },
        ],
      },
      Observer: 'observer-us-east-1a',
      ObserverHeartbeat: 1,
    });
    const result = lines.find((l) => l.startsWith('RESULT '));
    const summary = JSON.parse((result ?? 'RESULT {}').slice('RESULT '.length)) as {
      observer: string;
      stats: { targets: number; checks: number; signalsSent: number; signalsWithheld: number };
      selfCheck: { degraded: boolean; reasons: string[] };
    };
    expect(summary.observer).toBe('observer-us-east-1a');
    expect(summary.stats.targets).toBe(3);
    expect(summary.stats.checks).toBeGreaterThan(0);
    // Every target failed at once: the observer is cut off, not the group; nothing was reported unhealthy.
    expect(summary.selfCheck).toMatchObject({ degraded: true, reasons: expect.arrayContaining(['cutOff']) });
    expect(summary.stats.signalsSent).toBe(0);
    expect(summary.stats.signalsWithheld).toBeGreaterThan(0);
    expect(json.some((j) => j.msg === 'prober: observer degraded; withholding unhealthy verdicts')).toBe(true);
  }, 60_000);

  it("sends a round's verdicts as one envelope to the verdict queue, never votes against a group it cannot reach, and reports it", async () => {
    // Prepare: group "api" of 4 (one stays healthy, three answer twice and then 503 together) and
    // group "dark" of 2 that accept and never answer, as instances whose security group drops the
    // observer look. Each instance's private IP is its own loopback address.
    const asg = new AutoScalingClient(moto.clientConfig);
    const ec2 = new EC2Client(moto.clientConfig);
    const sqs = new SQSClient(moto.clientConfig);
    await asg.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: 'lc-q', ImageId: 'ami-12c6146b', InstanceType: 't3.micro' }));
    const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '127.0.0.0/16' }));
    const subnet = async (cidr: string) => (await ec2.send(new CreateSubnetCommand({ VpcId: Vpc?.VpcId, CidrBlock: cidr, AvailabilityZone: 'us-east-1a' }))).Subnet?.SubnetId;
    const ipsOf = async (group: string, size: number, cidr: string): Promise<string[]> => {
      await asg.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: group, LaunchConfigurationName: 'lc-q', MinSize: size, MaxSize: size, DesiredCapacity: size, VPCZoneIdentifier: await subnet(cidr) }));
      const described = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:aws:autoscaling:groupName', Values: [group] }] }));
      return (described.Reservations ?? []).flatMap((r) => (r.Instances ?? []).flatMap((i) => (i.PrivateIpAddress ? [i.PrivateIpAddress] : [])));
    };
    const api = await ipsOf('api', 4, '127.0.2.0/24');
    const dark = await ipsOf('dark', 2, '127.0.3.0/24');
    expect(api).toHaveLength(4);
    expect(dark).toHaveLength(2);
    for (const ip of [...api, ...dark]) expect(ip, 'a loopback address: no probe leaves this machine').toMatch(/^127\./);
    for (const [i, ip] of api.entries()) {
      let answered = 0;
      const server = createServer((_req, res) => {
        answered++;
        res.writeHead(i === 0 || answered <= 2 ? 200 : 503).end();
      });
      await new Promise<void>((resolve) => server.listen(8081, ip, resolve));
      servers.push(server);
    }
    for (const ip of dark) silent.push(await startSilentServer({ host: ip, port: 8081 }));
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'autoheal-verdicts' }));
    asg.destroy();
    ec2.destroy();

    // Act: a run long enough for a second heartbeat (every 10 s).
    const { code, lines, stderr } = await invoke({
      ...moto.env,
      [observerEnv.name]: 'observer-us-east-1a',
      [observerEnv.groups]: 'api,dark',
      [observerEnv.port]: '8081',
      [observerEnv.verdictQueueUrl]: QueueUrl,
      [observerEnv.intervalMs]: '500',
      [observerEnv.timeoutMs]: '200',
      [observerEnv.runForMs]: '11000',
      [observerEnv.discoverEveryMs]: '1000',
      LOG_LEVEL: 'warn',
    });
    const messages: Message[] = [];
    for (let got = 1; got > 0; ) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }));
      got = out.Messages?.length ?? 0;
      messages.push(...(out.Messages ?? []));
    }
    sqs.destroy();

    // Assess: what the healer reads, through the signals parser, with the channel's SenderId beside it.
    expect(code, stderr).toBe(0);
    const parsed = parseEvent({ Messages: messages });
    expect(parsed.rejected).toEqual([]);
    const unhealthy = parsed.signals.filter((s) => s.state === 'unhealthy');
    expect(new Set(unhealthy.map((s) => s.instanceId)).size).toBe(3);
    expect(parsed.signals.every((s) => s.observer === 'observer-us-east-1a' && s.source === 'probe' && typeof s.sender === 'string' && s.sender !== '')).toBe(true);
    // The three instances that failed together were voted against in one message.
    const bodies = messages.map((m) => JSON.parse(m.Body ?? '{}') as { kind: string; verdicts: Array<{ state: string }> });
    expect(bodies.every((b) => b.kind === 'autoheal.verdicts')).toBe(true);
    expect(bodies.some((b) => b.verdicts.filter((v) => v.state === 'unhealthy').length === 3)).toBe(true);
    // No vote about "dark": a report instead, in the queue and in the heartbeat.
    expect(parsed.observerReports).toContainEqual(expect.objectContaining({ observer: 'observer-us-east-1a', group: 'dark', sender: expect.any(String) }));
    expect((parsed.observerReports ?? []).every((r) => r.group === 'dark')).toBe(true);
    const beats = lines.flatMap((l) => (l.startsWith('{') && l.includes('"_aws"') ? [JSON.parse(l) as Record<string, unknown>] : []));
    expect(beats.at(-1)).toMatchObject({ Observer: 'observer-us-east-1a', ObserverTargets: 6, ObserverUnreachableGroups: 1, unreachableGroups: ['dark'], ObserverDegraded: 0 });
  }, 60_000);

  it('two runs of one observer at once with the ledger table: one probes, the other steps aside and says so; the lease is released at the end', async () => {
    // Prepare: the ledger table, as `autoheal ledger create` makes it, and a queue for the verdicts.
    const dynamo = dynamoDbClient({ ...moto.clientConfig });
    await ensureLedgerTable(dynamo, 'autoheal-ledger', { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    const sqs = new SQSClient(moto.clientConfig);
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'autoheal-verdicts-lease' }));
    sqs.destroy();
    const env = {
      ...moto.env,
      [observerEnv.name]: 'observer-us-east-1b',
      [observerEnv.groups]: 'web',
      [observerEnv.port]: '8080',
      [observerEnv.verdictQueueUrl]: QueueUrl,
      [observerEnv.ledgerTable]: 'autoheal-ledger',
      [observerEnv.intervalMs]: '500',
      [observerEnv.timeoutMs]: '200',
      [observerEnv.runForMs]: '3000',
    };

    // Act: two fresh processes at once, as two overlapping schedules would start them.
    const runs = await Promise.all([invoke(env), invoke(env)]);

    // Assess
    const results = runs.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse((r.lines.find((l) => l.startsWith('RESULT ')) ?? 'RESULT {}').slice('RESULT '.length)) as { steppedAside?: { heldBy: string }; stats: { checks: number } };
    });
    const aside = results.filter((r) => r.steppedAside !== undefined);
    expect(aside).toHaveLength(1);
    expect(aside[0]?.stats.checks).toBe(0);
    expect(runs.some((r) => r.lines.some((l) => l.includes('another run holds the lease; stepping aside')))).toBe(true);
    const lease = await dynamo.send(new GetItemCommand({ TableName: 'autoheal-ledger', Key: { pk: { S: 'lease#observer-us-east-1b' } } }));
    expect(lease.Item?.leaseUntilMs?.N).toBe('0');
    // Released: the next run takes it.
    const next = await invoke({ ...env, [observerEnv.runForMs]: '1000' });
    expect(next.lines.find((l) => l.startsWith('RESULT '))).not.toMatch(/steppedAside/);
    dynamo.destroy();
  }, 60_000);

  it('fails the cold start naming every bad variable', async () => {
    const { code, stderr } = await invoke({ ...moto.env, [observerEnv.port]: 'eighty', [observerEnv.topicArn]: 'not-an-arn' });
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/AUTOHEAL_OBSERVER_NAME: required/);
    expect(stderr).toMatch(/AUTOHEAL_OBSERVER_GROUPS: required/);
    expect(stderr).toMatch(/AUTOHEAL_OBSERVER_PORT: expected a number, got "eighty"/);
    expect(stderr).toMatch(/AUTOHEAL_OBSERVER_TOPIC_ARN: not an SNS topic ARN/);
  }, 30_000);
});
