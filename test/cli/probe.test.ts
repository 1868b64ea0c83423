import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runProbeCommand, startProbe, type ProbeFlags, type ProbeRun } from '../../src/cli/commands/probe.js';
import { silentLogger } from '../../src/log.js';
import { describeInstancesXml, instanceIdsOf, publishXml, startQueryStandIn, type QueryStandIn } from '../helpers/query-stand-in.js';

// Auto Scaling through aws-sdk-client-mock. EC2 DescribeInstances and SNS Publish are signed with
// the Auto Scaling client's parts and sent over HTTP (src/aws/ec2.ts, sns.ts): a stand-in answers them.
const asg = mockClient(AutoScalingClient);
const clients = { autoscaling: new AutoScalingClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }) };
let groupIds: string[] = [];
let aws: QueryStandIn;
beforeAll(async () => {
  aws = await startQueryStandIn((request) =>
    request.action === 'Publish'
      ? { body: publishXml('m-1') }
      : { body: describeInstancesXml(instanceIdsOf(request).map((instanceId) => ({ instanceId, privateIp: ipOf(groupIds.indexOf(instanceId) + 1), launchTime: '2026-01-01T00:00:00.000Z' }))) },
  );
});
afterAll(() => aws.close());
const id = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;
const ipOf = (n: number): string => `127.0.0.${n + 1}`;
const fast = { intervalMs: '100', timeoutMs: '80', unhealthyThreshold: '2', repeatUnhealthyAfterMs: '0' };

/** One "instance": an HTTP server on its own loopback address, all on the same port; `status` is what /health answers. */
interface Instance {
  n: number;
  server: Server;
  status: number;
}
let instances: Instance[] = [];
let runs: ProbeRun[] = [];

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts `count` instances at 127.0.0.2, 127.0.0.3, … on one free port (Linux routes 127.0.0.0/8 to lo). */
async function startInstances(count: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const made: Instance[] = [];
    try {
      let port = 0;
      for (let n = 1; n <= count; n++) {
        const instance: Instance = { n, status: 200, server: createServer((_req, res) => res.writeHead(instance.status).end()) };
        made.push(instance);
        port = await listen(instance.server, ipOf(n), port);
      }
      instances = made;
      return port;
    } catch (error) {
      await Promise.all(made.map((i) => new Promise((r) => i.server.close(r))));
      if (attempt >= 5) throw error;
    }
  }
}

/** The group as Auto Scaling and EC2 describe it: every instance InService and Healthy unless marked. */
function mockGroup(count: number, desired = count): void {
  const ids = Array.from({ length: count }, (_, k) => id(k + 1));
  const unhealthy = (i: string): boolean =>
    asg.commandCalls(SetInstanceHealthCommand).some((c) => c.args[0].input.InstanceId === i);
  asg.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'web',
        MinSize: 0,
        MaxSize: 10,
        DesiredCapacity: desired,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        HealthCheckGracePeriod: 0,
        CreatedTime: new Date(0),
        Tags: [],
        Instances: ids.map((InstanceId) => ({
          InstanceId,
          LifecycleState: 'InService' as const,
          HealthStatus: unhealthy(InstanceId) ? 'Unhealthy' : 'Healthy',
          AvailabilityZone: 'eu-west-1a',
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  }));
  asg.on(DescribeAutoScalingInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
    AutoScalingInstances: (input.InstanceIds ?? []).filter((i) => ids.includes(i)).map((InstanceId) => ({
      InstanceId,
      AutoScalingGroupName: 'web',
      AvailabilityZone: 'eu-west-1a',
      LifecycleState: 'InService',
      HealthStatus: unhealthy(InstanceId) ? 'UNHEALTHY' : 'HEALTHY',
      ProtectedFromScaleIn: false,
    })),
  }));
  asg.on(SetInstanceHealthCommand).resolves({});
  groupIds = ids;
}

function flags(port: number, extra: Partial<ProbeFlags> = {}): ProbeFlags {
  return { group: ['web'], port: String(port), path: '/health', ...fast, ...extra };
}

beforeEach(() => {
  asg.reset();
  aws.requests.length = 0;
  vi.stubEnv('AWS_ENDPOINT_URL_EC2', aws.url);
  vi.stubEnv('AWS_ENDPOINT_URL_SNS', aws.url);
});
afterEach(async () => {
  await Promise.all(runs.map((r) => r.stop()));
  runs = [];
  await Promise.all(instances.map((i) => new Promise((r) => i.server.close(r))));
  instances = [];
  vi.unstubAllEnvs();
});

async function start(f: ProbeFlags): Promise<ProbeRun> {
  const run = await startProbe(f, clients, silentLogger);
  runs.push(run);
  return run;
}

describe('autoheal probe', () => {
  it('marks the instance that answers 503 Unhealthy with the exact SetInstanceHealth input, and no other', async () => {
    // Prepare
    const port = await startInstances(3);
    mockGroup(3);
    const run = await start(flags(port));
    await run.prober.events.once('prober:targets:changed', (e) => e.count === 3);

    // Act
    (instances[1] as Instance).status = 503;
    const marked = await run.healer?.events.once('healer:verdict:marked');

    // Assess
    expect(marked?.signal.instanceId).toBe(id(2));
    expect(asg.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceId: id(2), HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: true },
    ]);
    expect(run.prober.targets().map((t) => `${t.instanceId}@${t.host}:${t.port}`)).toEqual(
      [1, 2, 3].map((n) => `${id(n)}@${ipOf(n)}:${port}`),
    );
  });

  it('keeps the budget when most instances fail at once: 2 of 5 marked, the rest skipped as budgetSpent', async () => {
    // Prepare
    const port = await startInstances(5);
    mockGroup(5);
    const run = await start(flags(port, { maxUnhealthyShare: '0.4' }));
    await run.prober.events.once('prober:targets:changed', (e) => e.count === 5);
    const decided: string[] = [];
    const allDecided = new Promise<void>((resolve) => {
      const note = (v: { signal: { instanceId: string; state: string } }): void => {
        if (v.signal.state === 'unhealthy') decided.push(v.signal.instanceId);
        if (decided.length === 4) resolve();
      };
      run.healer?.events.on('healer:verdict:marked', note);
      run.healer?.events.on('healer:verdict:skipped', note);
    });

    // Act
    for (const i of instances.slice(1)) i.status = 503;
    await allDecided;
    const summary = await run.stop();

    // Assess
    const calls = asg.commandCalls(SetInstanceHealthCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    for (const input of calls) expect(input).toMatchObject({ HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: true });
    expect(calls.map((c) => c.InstanceId)).not.toContain(id(1));
    expect(summary.marked).toHaveLength(2);
    expect(summary.skipped).toEqual({ budgetSpent: 2 });
  });

  it('with --publish sends the verdict to the topic as a CloudWatch alarm message and marks nothing', async () => {
    // Prepare
    const port = await startInstances(2);
    mockGroup(2);
    const topic = 'arn:aws:sns:eu-west-1:123456789012:AutoHeal-AlertTopic';
    const run = await start(flags(port, { publish: topic, observer: 'host-a' }));
    await run.prober.events.once('prober:targets:changed', (e) => e.count === 2);

    // Act
    (instances[0] as Instance).status = 503;
    await run.prober.events.once('prober:signal:sent');

    // Assess
    const input = aws.requests.find((r) => r.action === 'Publish')?.params;
    expect(input).toMatchObject({ TopicArn: topic, Subject: `ALARM: "autoheal-probe-${id(1)}"` });
    expect(JSON.parse(input?.Message ?? '{}')).toMatchObject({
      AlarmName: `autoheal-probe-${id(1)}`,
      NewStateValue: 'ALARM',
      AWSAccountId: '123456789012',
      // The observer rides along, so the healer's quorum counts this host once.
      Trigger: { Dimensions: [{ name: 'InstanceId', value: id(1) }, { name: 'Observer', value: 'host-a' }] },
    });
    expect(run.healer).toBeUndefined();
    expect(asg.commandCalls(SetInstanceHealthCommand)).toHaveLength(0);
  });

  it('drains on the first SIGTERM and exits 0 with a JSON summary; a second signal forces exit 1', async () => {
    // Prepare
    const port = await startInstances(1);
    mockGroup(1);
    const hooks = Object.assign(new EventEmitter(), { exit: vi.fn() });
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      let started!: (run: ProbeRun) => void;
      const running = new Promise<ProbeRun>((resolve) => (started = resolve));
      const exitCode = runProbeCommand(flags(port), { clients, hooks, logger: silentLogger, onStarted: (run) => started(run) });
      const run = await running;
      await run.prober.events.once('prober:check:succeeded');

      // Act
      hooks.emit('SIGTERM', 'SIGTERM');
      hooks.emit('SIGINT', 'SIGINT');

      // Assess
      expect(await exitCode).toBe(0);
      expect(hooks.exit).toHaveBeenCalledWith(1);
      expect(JSON.parse(out.join(''))).toMatchObject({ groups: ['web'], sink: 'healer', marked: [], skipped: {} });
      expect(hooks.listenerCount('SIGTERM')).toBe(0);
    } finally {
      stdout.mockRestore();
    }
  });

  it('exits 2 naming the flag for bad settings, and for a group that does not exist', async () => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    const err: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    try {
      // Act
      const badFlags = await runProbeCommand(flags(8080, { timeoutMs: '500', port: '70000' }), { clients, logger: silentLogger });
      const badTopic = await runProbeCommand(flags(8080, { publish: 'my-topic', dryRun: true }), { clients, logger: silentLogger });
      const missing = await runProbeCommand(flags(8080), { clients, logger: silentLogger });

      // Assess
      expect([badFlags, badTopic, missing]).toEqual([2, 2, 2]);
      expect(err[0]).toMatch(/--port: must be an integer from 1 to 65535.*--timeout-ms: timeoutMs \(500\) must be at most intervalMs \(100\)/);
      expect(err[1]).toMatch(/--publish: expected an SNS topic ARN.*--dry-run apply only without --publish/);
      expect(err[2]).toMatch(/Auto Scaling group "web" not found/);
    } finally {
      stderr.mockRestore();
    }
  });
});
