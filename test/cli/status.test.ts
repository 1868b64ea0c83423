import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { collectStatus, renderStatusTable, runStatus, statusSettings, type StatusClients } from '../../src/cli/commands/status.js';
import type { InstanceFacts } from '../../src/aws/ec2.js';
import { resolveSettings } from '../../src/config.js';

const asg = mockClient(AutoScalingClient);
const cw = mockClient(CloudWatchClient);
const a = 'i-0000000000000000a';
const b = 'i-0000000000000000b';
const gone = 'i-0000000000000000c';
// EC2's facts (read with the Auto Scaling client's signer, outside aws-sdk-client-mock's reach): a fake reader.
const facts = new Map<string, InstanceFacts>([
  [a, { privateIp: '127.0.0.2', tags: {}, launchedAt: new Date('2026-05-14T19:00:02Z') }],
  [b, { privateIp: '127.0.0.3', tags: {}, launchedAt: new Date('2026-05-14T19:00:02Z') }],
]);
const clients: StatusClients = {
  autoscaling: new AutoScalingClient({ region: 'eu-west-1' }),
  cloudwatch: new CloudWatchClient({ region: 'eu-west-1' }),
  instanceFacts: async (ids) => new Map(ids.flatMap((id) => (facts.has(id) ? [[id, facts.get(id) as InstanceFacts] as const] : []))),
};
const settings = resolveSettings({ groups: 'web' }, {});
const nowMs = Date.parse('2026-05-14T20:12:30Z');
let servers: Server[] = [];

beforeEach(() => {
  asg.reset();
  cw.reset();
  cw.on(ListMetricsCommand).resolves({ Metrics: [] });
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
    const [status] = (await collectStatus(clients, { group: 'web' }, { settings, nowMs })).groups;

    // Assess: b was marked 37 s ago (the activity's cause): the budget of 1 is in use, a is held by it.
    expect(status).toMatchObject({ name: 'web', managed: true, managedBy: 'byName', paused: false, budget: { limit: 1, inUse: 1 } });
    expect(status?.rails).toMatchObject({ marksInWindow: 1, markLimit: 2, rateLimited: false, hold: null });
    expect(status?.instances).toEqual([
      {
        instanceId: a,
        privateIp: '127.0.0.2',
        availabilityZone: 'eu-west-1a',
        launchedAt: '2026-05-14T19:00:02.000Z',
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
        evidence: 'healthy',
        alarm: { name: `autoheal-status-check-${a}`, state: 'OK' },
        probe: null,
        lastAction: null,
        verdict: { action: 'skip', reason: 'budgetSpent', detail: '1 of budget 1 Unhealthy or not yet replaced (0.4 of 2 serving)' },
      },
      {
        instanceId: b,
        privateIp: '127.0.0.3',
        availabilityZone: 'eu-west-1a',
        launchedAt: '2026-05-14T19:00:02.000Z',
        lifecycleState: 'Terminating',
        healthStatus: 'Unhealthy',
        evidence: 'unhealthy',
        alarm: expect.objectContaining({ state: 'ALARM', reason: expect.stringMatching(/^Threshold Crossed/) }),
        probe: null,
        lastAction: expect.objectContaining({ kind: 'terminate', status: 'InProgress', byUserHealthCheck: true }),
        verdict: { action: 'skip', reason: 'notInService', detail: 'lifecycle state Terminating' },
      },
    ]);
    expect(status?.replacedByHealthCheck).toEqual([
      expect.objectContaining({ instanceId: gone, kind: 'terminate', startedAt: '2026-05-14T18:59:31.000Z', byUserHealthCheck: true }),
    ]);
    expect(status?.groupAlarm).toBeNull();
    // The one DescribeAlarms reader by name (src/aws/cloudwatch.ts) asks for composite alarms too.
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNames: ['autoheal-status-check-group-web', `autoheal-status-check-${a}`, `autoheal-status-check-${b}`],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
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
    const report = await collectStatus(clients, { group: 'web', port: String(port), path: '/health', timeoutMs: '1000' }, { settings, nowMs });
    const [status] = report.groups;

    // Assess
    expect(status?.probed).toEqual({ port, check: 'http', path: '/health' });
    expect(status?.instances.map((i) => i.probe)).toEqual([
      { ok: true, status: 200 },
      { ok: false, status: 503, error: 'status 503' },
    ]);
    expect(status?.instances.map((i) => i.evidence)).toEqual(['healthy', 'unhealthy']);
    expect(renderStatusTable(report)).toMatch(/FAIL status 503/);
  });

  it('prints one table with the group header, the alarm reason, the held instance and the replaced ones, and JSON with --json', async () => {
    // Prepare
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: `autoheal-status-check-${a}`, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 2 datapoints', StateUpdatedTimestamp: new Date(nowMs - 60_000) },
      ],
    });
    try {
      // Act
      const tableExit = await runStatus({ group: 'web', groups: 'web' }, clients);
      const table = out.join('');
      out.length = 0;
      const jsonExit = await runStatus({ group: 'web', groups: 'web', json: true }, clients);

      // Assess
      expect([tableExit, jsonExit]).toEqual([0, 0]);
      const lines = table.split('\n');
      expect(lines[0]).toMatch(/^group web: managed \(byName\); budget 1 of 1 in use \(SPENT\); desired 2; 2 instances$/);
      expect(lines[2]).toBe('  observers: none publish heartbeats');
      expect(lines[4]).toBe('  replacement: terminate, then launch: capacity DIPS by one instance per replacement until it is InService (no instance maintenance policy)');
      expect(lines[5]).toMatch(/^INSTANCE\s+PRIVATE IP\s+LIFECYCLE\s+HEALTH\s+ALARM\s+PROBE\s+IF DOWN NOW\s+LAST ACTION$/);
      expect(lines[7]).toMatch(
        new RegExp(`^${b}\\s+127\\.0\\.0\\.3\\s+Terminating\\s+Unhealthy\\s+none\\s+-\\s+skip notInService\\s+2026-05-14T20:11:54Z terminate \\[InProgress\\]: marked Unhealthy: user health-check \\(autoheal\\)$`),
      );
      expect(table).toContain(`${a} held: budgetSpent (1 of budget 1 Unhealthy or not yet replaced (0.4 of 2 serving))`);
      expect(table).toContain(`${a} alarm: Threshold Crossed`);
      expect(table).toContain(`  ${gone}  2026-05-14T18:59:31Z terminate: marked Unhealthy: user health-check (autoheal)`);
      expect(JSON.parse(out.join(''))).toMatchObject({ groups: [{ name: 'web', instances: [{ instanceId: a, verdict: { reason: 'budgetSpent' } }, { instanceId: b }] }] });
    } finally {
      stdout.mockRestore();
    }
  });

  it('shows the replacement order of the group\'s instance maintenance policy, and whether it dips capacity', async () => {
    // Prepare: a group with launch-before-terminate (moto stores no maintenance policy).
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
          Instances: [{ InstanceId: a, LifecycleState: 'InService', HealthStatus: 'Healthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false }],
          InstanceMaintenancePolicy: { MinHealthyPercentage: 100, MaxHealthyPercentage: 110 },
        },
      ],
    });

    // Act
    const report = await collectStatus(clients, { groups: 'web' }, { settings, nowMs });

    // Assess
    expect(report.groups[0]?.replacement).toEqual({ order: 'launch-before-terminate', minHealthyPercentage: 100, maxHealthyPercentage: 110, dipsCapacity: false, overridesStack: false });
    expect(renderStatusTable(report)).toContain('  replacement: launch before terminate: capacity does not dip');
  });

  it('says when a group overrides the stack\'s launch-before-terminate, and not when it follows it', async () => {
    // Prepare: the stack asks for launch-before-terminate (AUTOHEAL_REPLACEMENT); the first group has
    // no maintenance policy, the second a terminate-and-launch one, the third the stack's.
    const group = (name: string, policy?: { MinHealthyPercentage: number; MaxHealthyPercentage: number }) => ({
      AutoScalingGroupName: name,
      MinSize: 1,
      MaxSize: 4,
      DesiredCapacity: 1,
      DefaultCooldown: 300,
      AvailabilityZones: ['eu-west-1a'],
      HealthCheckType: 'EC2',
      CreatedTime: new Date(0),
      Instances: [],
      ...(policy ? { InstanceMaintenancePolicy: policy } : {}),
    });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [group('none'), group('tal', { MinHealthyPercentage: 90, MaxHealthyPercentage: 100 }), group('lbt', { MinHealthyPercentage: 100, MaxHealthyPercentage: 110 })],
    });
    const wanted = resolveSettings({ groups: 'none,tal,lbt' }, { AUTOHEAL_REPLACEMENT: 'launch-before-terminate' });

    // Act
    const report = await collectStatus(clients, { groups: 'none,tal,lbt' }, { settings: wanted, nowMs });
    const table = renderStatusTable(report);

    // Assess
    expect(report.groups.map((g) => [g.name, g.replacement.overridesStack])).toEqual([
      ['lbt', false],
      ['none', true],
      ['tal', true],
    ]);
    const lines = table.split('\n').filter((l) => l.startsWith('  replacement: '));
    expect(lines[0]).not.toContain('OVERRIDES');
    expect(lines[1]).toBe(
      "  replacement: terminate, then launch: capacity DIPS by one instance per replacement until it is InService (no instance maintenance policy); the group OVERRIDES the stack's launch-before-terminate (its own instance maintenance policy wins)",
    );
    expect(lines[2]).toContain("terminate and launch at once: capacity DIPS, down to 90 % of desired, while a replacement boots (min healthy 90 %, max 100 %); the group OVERRIDES the stack's launch-before-terminate");
  });

  it('takes the stack\'s order from --replacement over AUTOHEAL_REPLACEMENT, and refuses an order it does not know', () => {
    // Act / Assess
    expect(statusSettings({ replacement: 'launch-before-terminate' }, { AUTOHEAL_REPLACEMENT: 'unchanged' }).replacement).toBe('launch-before-terminate');
    expect(statusSettings({}, {}).replacement).toBe('unchanged');
    expect(() => statusSettings({}, { AUTOHEAL_REPLACEMENT: 'launch-first' })).toThrow(
      'AUTOHEAL_REPLACEMENT: expected unchanged or launch-before-terminate, got "launch-first"',
    );
  });

  it('exits 2 for a group that does not exist and for probe flags without --port', async () => {
    // Prepare
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });

    // Act / Assess
    await expect(collectStatus(clients, { group: 'web' }, { settings })).rejects.toThrow(/Auto Scaling group "web" not found/);
    await expect(collectStatus(clients, { group: 'web', path: '/x' }, { settings })).rejects.toThrow(/--path: only with --port/);
  });
});
