/**
 * The rails judged against what serves, on the AWS path: the Lambda handler with real SDK clients
 * against moto (Auto Scaling, EC2). moto never shows a Pending instance, so a group whose desired
 * capacity is above what serves is made the way launches fail: with AMI validation on, a launch
 * template whose image does not exist, and a SetDesiredCapacity moto accepts and cannot fulfil.
 * moto launches every instance of a group into the first subnet of VPCZoneIdentifier, so a group
 * over three zones is grown subnet by subnet.
 */
import {
  AutoScalingClient,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand, DescribeSubnetsCommand, EC2Client, ModifyLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { createHandler, type HealSummary, type SqsBatchResponse } from '../../src/lambda/handler.js';
import { toAlarmMessage } from '../../src/signals/alarm-message.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let ec2: EC2Client;
const saved = { ...process.env };

beforeAll(async () => {
  // Launches of an image moto does not know fail, as they do on AWS.
  process.env.MOTO_ENABLE_AMI_VALIDATION = 'true';
  moto = await startMoto();
  Object.assign(process.env, moto.env);
  autoScaling = new AutoScalingClient(moto.clientConfig);
  ec2 = new EC2Client(moto.clientConfig);
});
afterAll(async () => {
  autoScaling?.destroy();
  ec2?.destroy();
  process.env = saved;
  await moto?.stop();
});
beforeEach(async () => moto.reset());

function handlerUnderTest(env: NodeJS.ProcessEnv = {}) {
  const { logger, lines } = capturedLogger();
  return { handler: createHandler({ config: resolveSettings({}, env), autoScaling, alarmOptions: {}, logger }), lines };
}

/** An observer's verdict that `instanceId` is down, as the alert topic delivers it to the healer. */
function vote(instanceId: string, observer: string) {
  const signal: HealthSignal = { instanceId, state: 'unhealthy', source: 'probe', observedAt: new Date().toISOString(), eventId: `${observer}-${instanceId}`, reason: 'timeout after 1000 ms', instanceIdFrom: 'probe-target', observer };
  return { Type: 'Notification', MessageId: `m-${observer}-${instanceId}`, Timestamp: new Date().toISOString(), Message: toAlarmMessage(signal) };
}

async function unhealthy(ids: readonly string[]): Promise<string[]> {
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [...ids] }));
  return (out.AutoScalingInstances ?? []).filter((i) => i.HealthStatus?.toUpperCase() === 'UNHEALTHY').map((i) => i.InstanceId as string);
}

describe('shares of what serves, on moto', () => {
  it('a group of 10 serving instances whose desired capacity says 20: votes of two observers for 8 of them leave at most 4 Unhealthy', async () => {
    // Prepare: the scale-out to 20 cannot launch (its image does not exist).
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: 'workers-template', SourceVersion: '1', LaunchTemplateData: { ImageId: 'ami-00000000deadbeef0' } }));
    await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateName: 'workers-template', DefaultVersion: '2' }));
    await expect(autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'workers', DesiredCapacity: 20 }))).rejects.toThrow(/ami-00000000deadbeef0/);
    const [described] = (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['workers'] }))).AutoScalingGroups ?? [];
    expect([described?.DesiredCapacity, described?.Instances?.length]).toEqual([20, 10]);
    const { handler } = handlerUnderTest();

    // Act: both observers' votes for 8 of them, each its own invocation, all at once.
    const failing = group.instanceIds.slice(0, 8);
    const results = (await Promise.all(failing.flatMap((id) => [handler(vote(id, 'observer-a')), handler(vote(id, 'observer-b'))]))) as HealSummary[];

    // Assess
    expect(await unhealthy(group.instanceIds)).toHaveLength(4);
    const held = results.flatMap((r) => r.verdicts).filter((v) => v.reason === 'budgetSpent');
    expect(held.length).toBeGreaterThan(0);
  });

  it('in a group of 20 over three zones (7/7/6), zone a all reported down and then one instance of zone b: zone b\'s instance is marked, and zone a heals within the budget', async () => {
    // Prepare: seven in each of the first two zones, six in the third.
    const subnets = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? []).filter((s, n, all) => all.findIndex((x) => x.AvailabilityZone === s.AvailabilityZone) === n).slice(0, 3);
    await createMotoGroup(moto, { name: 'zoned', size: 7 });
    for (const [k, size] of [[1, 14], [2, 20]] as const) {
      await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'zoned', MaxSize: 40, VPCZoneIdentifier: subnets[k]?.SubnetId }));
      await autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'zoned', DesiredCapacity: size }));
    }
    await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'zoned', VPCZoneIdentifier: subnets.map((s) => s.SubnetId).join(',') }));
    const [g] = (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['zoned'] }))).AutoScalingGroups ?? [];
    const inZone = (k: number) => (g?.Instances ?? []).filter((i) => i.AvailabilityZone === subnets[k]?.AvailabilityZone).map((i) => i.InstanceId as string);
    expect([0, 1, 2].map((k) => inZone(k).length)).toEqual([7, 7, 6]);
    const { handler, lines } = handlerUnderTest();

    // Act: the observers outside zone a vote its seven down; then one of zone b fails.
    for (const id of inZone(0)) await Promise.all([handler(vote(id, 'observer-b')), handler(vote(id, 'observer-c'))]);
    const zoneB = inZone(1)[0] as string;
    await Promise.all([handler(vote(zoneB, 'observer-a')), handler(vote(zoneB, 'observer-c'))]);

    // Assess: the budget of 20 is 8: zone a's seven and zone b's one, no freeze.
    expect((await unhealthy([...inZone(0), zoneB])).sort()).toEqual([...inZone(0), zoneB].sort());
    expect(lines.filter((l) => l.msg === 'group held')).toEqual([]);
    expect(lines.find((l) => l.msg === 'zone reported down: healing it within the budget')).toMatchObject({ zone: subnets[0]?.AvailabilityZone, from: ['observer observer-b', 'observer observer-c'] });
  });
});

describe('only the deployed observers vote, on moto', () => {
  it('with AUTOHEAL_OBSERVERS=observer-a,observer-b: observer-a with mallory, and mallory-1 with mallory-2, mark nothing; observer-a with observer-b mark', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    const [one, two, three] = group.instanceIds as [string, string, string];
    const { handler, lines } = handlerUnderTest({ AUTOHEAL_OBSERVERS: 'observer-a,observer-b' });
    const batch = (votes: Array<ReturnType<typeof vote>>) => ({ Records: votes.map((v) => ({ messageId: v.MessageId, eventSource: 'aws:sqs', body: JSON.stringify(v) })) });

    // Act: each pair in one batch, so each pair's votes meet inside the quorum window.
    await handler(batch([vote(one, 'observer-a'), vote(one, 'mallory')]));
    await handler(batch([vote(two, 'mallory-1'), vote(two, 'mallory-2')]));
    await handler(batch([vote(three, 'observer-a'), vote(three, 'observer-b')]));

    // Assess
    expect(await unhealthy(group.instanceIds)).toEqual([three]);
    const refused = lines.filter((l) => l.reason === 'unknownObserver').map((l) => l.instanceId);
    expect(refused.sort()).toEqual([one, two, two].sort());
  });
});

describe('facts and tags that fail closed, on moto', () => {
  it('with autoheal:paused=1 on a group, nothing of it is marked', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 4 });
    await autoScaling.send(new CreateOrUpdateTagsCommand({ Tags: [{ ResourceId: 'workers', ResourceType: 'auto-scaling-group', Key: 'autoheal:paused', Value: '1', PropagateAtLaunch: false }] }));
    const { handler } = handlerUnderTest();

    // Act
    const out = (await handler({ Type: 'Notification', MessageId: 'm', Timestamp: new Date().toISOString(), Message: statusCheckAlarmMessage(group.instanceIds[0] as string) })) as HealSummary;

    // Assess
    expect(out.verdicts).toEqual([{ instanceId: group.instanceIds[0], group: 'workers', action: 'skip', reason: 'paused' }]);
    expect(await unhealthy(group.instanceIds)).toEqual([]);
  });

  it('an EC2 answer without the instance\'s launch time skips it as unavailable, and its record is retried; the other record of the batch is marked', async () => {
    // Prepare: EC2 through a proxy to moto that drops one instance's launchTime from the answer.
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const [blind, seen] = group.instanceIds as [string, string];
    const proxy = await dropLaunchTimeOf(blind, moto.endpoint);
    process.env.AWS_ENDPOINT_URL_EC2 = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const { handler, lines } = handlerUnderTest();
      const event = { Records: [blind, seen].map((id) => ({ messageId: `m-${id}`, eventSource: 'aws:sqs', body: statusCheckAlarmMessage(id) })) };

      // Act
      const out = (await handler(event)) as SqsBatchResponse;

      // Assess
      expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: `m-${blind}` }] });
      expect(await unhealthy(group.instanceIds)).toEqual([seen]);
      expect(lines.find((l) => l.msg === 'verdict: work failed')).toMatchObject({ instanceId: blind, reason: 'unavailable', retryable: true, error: expect.stringMatching(/launch time missing/) });
    } finally {
      delete process.env.AWS_ENDPOINT_URL_EC2;
      await new Promise((r) => proxy.close(r));
    }
  });
});

/** An HTTP proxy to `upstream` that removes `<launchTime>…</launchTime>` from the item of `instanceId` in EC2 answers. */
async function dropLaunchTimeOf(instanceId: string, upstream: string): Promise<Server> {
  const target = new URL(upstream);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const forward = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          const body = Buffer.concat(parts)
            .toString('utf8')
            .replace(new RegExp(`(<instanceId>${instanceId}</instanceId>[\\s\\S]*?)<launchTime>[^<]*</launchTime>`), '$1');
          const { 'content-length': _length, ...headers } = answer.headers;
          res.writeHead(answer.statusCode ?? 502, headers).end(body);
        });
      });
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
