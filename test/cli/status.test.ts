import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { collectStatus, register, renderStatusTable } from '../../src/cli/commands/status.js';

const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const cw = mockClient(CloudWatchClient);
const clients = {
  autoscaling: new AutoScalingClient({ region: 'eu-west-1' }),
  ec2: new EC2Client({ region: 'eu-west-1' }),
  cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
};
const a = 'i-0000000000000000a';
const b = 'i-0000000000000000b';
const gone = 'i-0000000000000000c';
let servers: Server[] = [];

beforeEach(() => {
  asg.reset();
  ec2.reset();
  cw.reset();
  asg.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'web',
        MinSize: 2,
        MaxSize: 4,
        DesiredCapacity: 2,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(0),
        Instances: [
          { InstanceId: a, LifecycleState: 'InService', HealthStatus: 'Healthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false },
          { InstanceId: b, LifecycleState: 'Terminating', HealthStatus: 'Unhealthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false },
        ],
      },
    ],
  });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: [{ InstanceId: a, PrivateIpAddress: '127.0.0.2' }, { InstanceId: b, PrivateIpAddress: '127.0.0.3' }] }],
  });
  cw.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      { AlarmName: `autoheal-status-check-${a}`, StateValue: 'OK' },
      {
        AlarmName: `autoheal-status-check-${b}`,
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed: 2 datapoints [1.0, 1.0] were greater than or equal to the threshold (1.0).',
      },
    ],
  });
  // Newest first, as DescribeScalingActivities returns them; causes as Auto Scaling writes them.
  asg.on(DescribeScalingActivitiesCommand).resolves({
    Activities: [
      {
        ActivityId: '4',
        AutoScalingGroupName: 'web',
        Description: `Terminating EC2 instance: ${b}`,
        Cause: 'At 2026-05-14T20:11:53Z an instance was taken out of service in response to a user health-check.',
        StartTime: new Date('2026-05-14T20:11:54Z'),
        StatusCode: 'InProgress',
      },
      {
        ActivityId: '3',
        AutoScalingGroupName: 'web',
        Description: `Launching a new EC2 instance: ${b}`,
        Cause: 'At 2026-05-14T19:00:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.',
        StartTime: new Date('2026-05-14T19:00:02Z'),
        StatusCode: 'Successful',
      },
      {
        ActivityId: '2',
        AutoScalingGroupName: 'web',
        Description: `Terminating EC2 instance: ${gone}`,
        Cause: 'At 2026-05-14T18:59:30Z an instance was taken out of service in response to a user health-check.',
        StartTime: new Date('2026-05-14T18:59:31Z'),
        StatusCode: 'Successful',
      },
    ],
  });
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

describe('autoheal status', () => {
  it('joins the group, its alarms and its scaling activities per instance, asking each source exactly', async () => {
    // Act
    const status = await collectStatus(clients, { group: 'web' });

    // Assess
    expect(status.instances).toEqual([
      {
        instanceId: a,
        privateIp: '127.0.0.2',
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        alarm: { name: `autoheal-status-check-${a}`, state: 'OK' },
        probe: null,
        lastAction: null,
      },
      {
        instanceId: b,
        privateIp: '127.0.0.3',
        lifecycleState: 'Terminating',
        healthStatus: 'Unhealthy',
        alarm: expect.objectContaining({ state: 'ALARM', reason: expect.stringMatching(/^Threshold Crossed/) }),
        probe: null,
        lastAction: expect.objectContaining({ kind: 'terminate', status: 'InProgress', byUserHealthCheck: true }),
      },
    ]);
    expect(status.replacedByHealthCheck).toEqual([
      expect.objectContaining({ instanceId: gone, kind: 'terminate', startedAt: '2026-05-14T18:59:31.000Z', byUserHealthCheck: true }),
    ]);
    expect(status.groupAlarm).toBeNull();
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNames: ['autoheal-status-check-group-web', `autoheal-status-check-${a}`, `autoheal-status-check-${b}`],
      MaxRecords: 100,
    });
    expect(asg.commandCalls(DescribeScalingActivitiesCommand)[0]?.args[0].input).toEqual({ AutoScalingGroupName: 'web', MaxRecords: 100 });
  });

  it('with --port probes each instance once now at its private IP', async () => {
    // Prepare: instance a answers 200 on 127.0.0.2, instance b answers 503 on 127.0.0.3, same port.
    const healthy = createServer((_req, res) => res.writeHead(200).end());
    const sick = createServer((_req, res) => res.writeHead(503).end());
    servers = [healthy, sick];
    const port = await new Promise<number>((resolve) => healthy.listen(0, '127.0.0.2', () => resolve((healthy.address() as AddressInfo).port)));
    await new Promise<void>((resolve) => sick.listen(port, '127.0.0.3', () => resolve()));

    // Act
    const status = await collectStatus(clients, { group: 'web', port: String(port), path: '/health', timeoutMs: '1000' });

    // Assess
    expect(status.probed).toEqual({ port, check: 'http', path: '/health' });
    expect(status.instances.map((i) => i.probe)).toEqual([
      { ok: true, status: 200 },
      { ok: false, status: 503, error: 'status 503' },
    ]);
    expect(renderStatusTable(status)).toMatch(/FAIL status 503/);
  });

  it('prints one table with the alarm reason and the replaced instances, and JSON with --json', async () => {
    // Prepare
    const program = new Command('autoheal').exitOverride();
    register(program);
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    process.exitCode = undefined;
    try {
      // Act
      await program.parseAsync(['node', 'autoheal', 'status', '--group', 'web', '--region', 'eu-west-1']);
      const table = out.join('');
      const tableExit = process.exitCode;
      out.length = 0;
      await program.parseAsync(['node', 'autoheal', 'status', '--group', 'web', '--json', '--region', 'eu-west-1']);

      // Assess
      expect(tableExit).toBe(0);
      const lines = table.split('\n');
      expect(lines[1]).toMatch(/^INSTANCE\s+PRIVATE IP\s+LIFECYCLE\s+HEALTH\s+ALARM\s+PROBE\s+LAST ACTION$/);
      expect(lines[3]).toMatch(
        new RegExp(`^${b}\\s+127\\.0\\.0\\.3\\s+Terminating\\s+Unhealthy\\s+ALARM\\s+-\\s+2026-05-14T20:11:54Z terminate \\[InProgress\\]: marked Unhealthy: user health-check \\(autoheal\\)$`),
      );
      expect(table).toContain(`${b} alarm: Threshold Crossed`);
      expect(table).toContain(`  ${gone}  2026-05-14T18:59:31Z terminate: marked Unhealthy: user health-check (autoheal)`);
      expect(JSON.parse(out.join(''))).toMatchObject({ group: 'web', instances: [{ instanceId: a }, { instanceId: b }] });
    } finally {
      stdout.mockRestore();
      process.exitCode = undefined;
    }
  });

  it('exits 2 for a group that does not exist and for probe flags without --port', async () => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });

    // Act / Assess
    await expect(collectStatus(clients, { group: 'web' })).rejects.toThrow(/Auto Scaling group "web" not found/);
    await expect(collectStatus(clients, { group: 'web', path: '/x' })).rejects.toThrow(/--path: only with --port/);
  });
});
