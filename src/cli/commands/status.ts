/**
 * `autoheal status --group NAME [--json] [--port P [--path /health]]`: one table of a group's
 * instances. Every column comes from a real source, read now:
 *
 * - lifecycle and health: DescribeAutoScalingGroups; private IP: EC2 DescribeInstances;
 * - alarm: autoheal's alarm of the instance (`${prefix}${instanceId}`) through DescribeAlarms,
 *   with CloudWatch's state reason; in metrics-insights mode the group alarm is shown above;
 * - probe: with --port, each instance is checked once now, exactly as `autoheal probe` checks it
 *   (src/prober/checks.ts); without --port the column is empty (autoheal keeps no probe history);
 * - last action: the group's scaling activities (DescribeScalingActivities, the newest 100, six
 *   weeks at most). An instance autoheal marked shows Auto Scaling's own record, "an instance was
 *   taken out of service in response to a user health-check" (SetInstanceHealth, which is what
 *   autoheal calls). Instances already replaced that way are listed below the table.
 *
 * What autoheal decided and skipped (budget spent, grace period, …) is in the healer's log
 * group; the README gives the Logs Insights query.
 */
import { AutoScalingClient, DescribeScalingActivitiesCommand, type Activity } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Option, type Command } from 'commander';
import { Agent } from 'node:http';
import { awsClientSettings, awsTimeoutEnv } from '../../aws-config.js';
import { alarmNameFor, groupAlarmNameFor } from '../../alarms/manager.js';
import { defaultAlarmPrefix } from '../../alarms/options.js';
import { describeAlarmStates, type AlarmStateView } from '../../alarms/states.js';
import { callAws } from '../../aws-calls.js';
import { ConfigError, describeError } from '../../errors.js';
import { describeGroupInstances } from '../../prober/aws-discovery.js';
import { httpCheck, tcpCheck, type CheckResult } from '../../prober/checks.js';
import { proberOptionsSchema } from '../../prober/options.js';
import { ExitCode } from '../exit-codes.js';

/** Auto Scaling's cause text when SetInstanceHealth (autoheal, or any custom check) marked an instance. */
export const userHealthCheckCause = 'in response to a user health-check';
/** Scaling activities read per status: DescribeScalingActivities' page size. */
export const activitiesRead = 100;
/** Checks in flight at once when --port is given. */
const probeConcurrency = 32;

/** The flags as commander hands them over. */
export interface StatusFlags {
  group: string;
  json?: boolean;
  port?: string;
  path?: string;
  check?: 'http' | 'tcp';
  timeoutMs?: string;
  prefix?: string;
  region?: string;
}

/** One scaling activity about an instance. */
export interface ActivityView {
  /** `launch`, `terminate`, or `other`. */
  kind: 'launch' | 'terminate' | 'other';
  startedAt?: string;
  status?: string;
  description: string;
  cause: string;
  /** The instance was taken out of service because SetInstanceHealth marked it (autoheal's action). */
  byUserHealthCheck: boolean;
}

/** One row of the table. */
export interface InstanceStatus {
  instanceId: string;
  privateIp: string | null;
  lifecycleState: string;
  healthStatus: string;
  alarm: AlarmStateView | null;
  /** The check made now with --port; null without it, or when the instance has no private IP. */
  probe: CheckResult | null;
  lastAction: ActivityView | null;
}

/** Everything `status` prints. */
export interface GroupStatus {
  group: string;
  alarmPrefix: string;
  /** The group's Metrics Insights alarm (alarm mode `metrics-insights`), when it exists. */
  groupAlarm: AlarmStateView | null;
  probed: { port: number; check: 'http' | 'tcp'; path: string } | null;
  instances: InstanceStatus[];
  /** Instances no longer in the group that a user health-check (autoheal) took out of service, newest first. */
  replacedByHealthCheck: Array<{ instanceId: string } & ActivityView>;
}

/** The clients `status` uses. */
export interface StatusClients {
  autoscaling: AutoScalingClient;
  ec2: EC2Client;
  cloudwatch: CloudWatchClient;
}

const instanceIdInText = /\b(i-[0-9a-f]{8,17})\b/;

function activityView(a: Activity): ActivityView {
  const description = a.Description ?? '';
  const cause = a.Cause ?? '';
  return {
    kind: /^Launching/i.test(description) ? 'launch' : /^Terminating/i.test(description) ? 'terminate' : 'other',
    ...(a.StartTime ? { startedAt: a.StartTime.toISOString() } : {}),
    ...(a.StatusCode ? { status: a.StatusCode } : {}),
    description,
    cause,
    byUserHealthCheck: cause.includes(userHealthCheckCause),
  };
}

/** The newest activities of the group, newest first (the API returns them so). */
async function readActivities(client: AutoScalingClient, group: string, signal?: AbortSignal): Promise<Activity[]> {
  const out = await callAws('autoscaling:DescribeScalingActivities', signal, (abortSignal) =>
    client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group, MaxRecords: activitiesRead }), {
      abortSignal,
    }),
  );
  return out.Activities ?? [];
}

/** Runs `work` over `items`, at most `limit` at once, keeping the order of results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Validated probe settings of --port/--path/--check/--timeout-ms; null without --port. */
function probeSettings(flags: StatusFlags): { port: number; check: 'http' | 'tcp'; path: string; timeoutMs: number; expectedStatus: number } | null {
  if (flags.port === undefined) {
    const stray = (['path', 'check', 'timeoutMs'] as const).filter((k) => flags[k] !== undefined);
    if (stray.length > 0) throw new ConfigError(`--${stray[0] === 'timeoutMs' ? 'timeout-ms' : stray[0]}: only with --port`);
    return null;
  }
  const port = Number(flags.port);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) throw new ConfigError(`--port: must be an integer from 1 to 65535, got "${flags.port}"`);
  const timeoutMs = flags.timeoutMs === undefined ? undefined : Number(flags.timeoutMs);
  // The prober's own schema names the limits; a single check has no interval, so it is the timeout.
  const parsed = proberOptionsSchema.safeParse({
    ...(flags.path !== undefined ? { path: flags.path } : {}),
    ...(flags.check !== undefined ? { check: flags.check } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs, intervalMs: Math.max(timeoutMs, 50) } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new ConfigError(`--${flag}: ${issue?.message ?? 'invalid'}`);
  }
  return { port, check: parsed.data.check, path: parsed.data.path, timeoutMs: parsed.data.timeoutMs, expectedStatus: parsed.data.expectedStatus };
}

/** Reads the group's status from its sources (see the file comment). A missing group is a ConfigError. */
export async function collectStatus(clients: StatusClients, flags: StatusFlags, signal?: AbortSignal): Promise<GroupStatus> {
  const prefix = flags.prefix ?? defaultAlarmPrefix;
  const probe = probeSettings(flags);
  const instances = await describeGroupInstances(clients, flags.group, signal);
  const groupAlarmName = groupAlarmNameFor(prefix, flags.group);
  const [alarms, activities] = await Promise.all([
    describeAlarmStates(clients.cloudwatch, [groupAlarmName, ...instances.map((i) => alarmNameFor(prefix, i.instanceId))], signal),
    readActivities(clients.autoscaling, flags.group, signal),
  ]);

  const latest = new Map<string, ActivityView>();
  for (const a of activities) {
    const id = instanceIdInText.exec(a.Description ?? '')?.[1];
    if (id !== undefined && !latest.has(id)) latest.set(id, activityView(a));
  }

  let checks: Array<CheckResult | null> = instances.map(() => null);
  if (probe) {
    const agent = new Agent({ keepAlive: false, maxSockets: probeConcurrency });
    try {
      checks = await mapLimited(instances, probeConcurrency, async (i) => {
        if (i.privateIp === undefined) return null;
        return probe.check === 'http'
          ? httpCheck({ host: i.privateIp, port: probe.port, path: probe.path, expectedStatus: probe.expectedStatus }, probe.timeoutMs, agent)
          : tcpCheck({ host: i.privateIp, port: probe.port }, probe.timeoutMs);
      });
    } finally {
      agent.destroy();
    }
  }

  const inGroup = new Set(instances.map((i) => i.instanceId));
  return {
    group: flags.group,
    alarmPrefix: prefix,
    groupAlarm: alarms.get(groupAlarmName) ?? null,
    probed: probe ? { port: probe.port, check: probe.check, path: probe.path } : null,
    instances: instances.map((i, n) => ({
      instanceId: i.instanceId,
      privateIp: i.privateIp ?? null,
      lifecycleState: i.lifecycleState,
      healthStatus: i.healthStatus,
      alarm: alarms.get(alarmNameFor(prefix, i.instanceId)) ?? null,
      probe: checks[n] ?? null,
      lastAction: latest.get(i.instanceId) ?? null,
    })),
    replacedByHealthCheck: [...latest]
      .filter(([id, a]) => !inGroup.has(id) && a.byUserHealthCheck)
      .map(([instanceId, a]) => ({ instanceId, ...a })),
  };
}

/** A short cause: "user health-check (autoheal)", "EC2 health check", "capacity", or the text itself. */
function shortCause(a: ActivityView): string {
  if (a.byUserHealthCheck) return 'marked Unhealthy: user health-check (autoheal)';
  if (/EC2 (instance )?(health|status) check/i.test(a.cause)) return 'EC2 health check';
  if (/ELB system health check/i.test(a.cause)) return 'ELB health check';
  if (/difference between desired and (actual|running) capacity/i.test(a.cause)) return 'capacity';
  return a.cause.replace(/^At \S+ /, '').slice(0, 60);
}

function actionText(a: ActivityView | null): string {
  if (!a) return '-';
  const at = a.startedAt ? `${a.startedAt.slice(0, 19)}Z ` : '';
  const status = a.status && a.status !== 'Successful' ? ` [${a.status}]` : '';
  return `${at}${a.kind === 'other' ? a.description : a.kind}${status}: ${shortCause(a)}`;
}

function probeText(p: CheckResult | null, probed: boolean): string {
  if (!probed) return '-';
  if (!p) return 'no IP';
  return p.ok ? `ok${p.status !== undefined ? ` ${p.status}` : ''}` : `FAIL ${p.error ?? ''}`.trim();
}

/** The table `status` prints without --json. */
export function renderStatusTable(status: GroupStatus): string {
  const header = ['INSTANCE', 'PRIVATE IP', 'LIFECYCLE', 'HEALTH', 'ALARM', 'PROBE', 'LAST ACTION'];
  const rows = status.instances.map((i) => [
    i.instanceId,
    i.privateIp ?? '-',
    i.lifecycleState,
    i.healthStatus,
    i.alarm?.state ?? 'none',
    probeText(i.probe, status.probed !== null),
    actionText(i.lastAction),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] as number))).join('  ');
  const lines = [
    `group ${status.group}: ${status.instances.length} instances; alarms ${status.alarmPrefix}INSTANCE_ID` +
      (status.groupAlarm ? `; group alarm ${status.groupAlarm.name} ${status.groupAlarm.state}` : '') +
      (status.probed ? `; probed now: ${status.probed.check} :${status.probed.port}${status.probed.check === 'http' ? status.probed.path : ''}` : ''),
    line(header),
    ...rows.map(line),
  ];
  for (const i of status.instances) {
    if (i.alarm?.state === 'ALARM' && i.alarm.reason) lines.push(`${i.instanceId} alarm: ${i.alarm.reason}`);
  }
  if (status.replacedByHealthCheck.length > 0) {
    lines.push('', 'replaced after a user health-check (autoheal), newest first:');
    for (const r of status.replacedByHealthCheck) lines.push(`  ${r.instanceId}  ${actionText(r)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reads and prints; resolves with the exit code. */
export async function runStatus(flags: StatusFlags, clients?: StatusClients): Promise<number> {
  const aws = awsClientSettings(flags.region);
  const used: StatusClients = clients ?? { autoscaling: new AutoScalingClient(aws), ec2: new EC2Client(aws), cloudwatch: new CloudWatchClient(aws) };
  try {
    const status = await collectStatus(used, flags);
    process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatusTable(status));
    return ExitCode.ok;
  } catch (error) {
    process.stderr.write(`autoheal status: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  } finally {
    if (!clients) for (const c of Object.values(used)) c.destroy();
  }
}

export function register(program: Command): void {
  const d = proberOptionsSchema.parse({});
  program
    .command('status')
    .summary("one table of a group's instances: lifecycle, health, alarm, probe, autoheal's last action")
    .description(
      [
        "Prints one row per instance of the group: lifecycle and health (DescribeAutoScalingGroups), private IP " +
          "(EC2 DescribeInstances), the state of autoheal's alarm for it (DescribeAlarms on PREFIX + instance id; " +
          'ALARM rows add CloudWatch\'s reason), a probe result, and the last scaling activity about it ' +
          `(DescribeScalingActivities, the newest ${activitiesRead}, six weeks at most). An instance autoheal marked ` +
          `shows Auto Scaling's own cause "${userHealthCheckCause}" (SetInstanceHealth); instances already replaced ` +
          'that way are listed below the table.',
        'The probe column: with --port, each instance is checked once now at PRIVATE_IP:PORT, as `autoheal probe` ' +
          'checks it; without --port it is "-" (autoheal keeps no probe history). What the healer decided and ' +
          'skipped (budget spent, grace period, ...) is in its log group (stack output HealerLogGroupName).',
        'IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeScalingActivities, ec2:DescribeInstances, ' +
          'cloudwatch:DescribeAlarms. --json prints {group, alarmPrefix, groupAlarm, probed, instances: [{instanceId, ' +
          'privateIp, lifecycleState, healthStatus, alarm, probe, lastAction}], replacedByHealthCheck}.',
        `Exit codes: ${ExitCode.ok} printed; ${ExitCode.noResult} an AWS call failed or was not answered in time (${awsTimeoutEnv}, default 10000 ms per attempt, ` +
          `three times that with retries); ${ExitCode.usage} bad flags or ${awsTimeoutEnv}, or the group does not exist.`,
      ].join('\n\n'),
    )
    .requiredOption('--group <name>', 'the Auto Scaling group')
    .option('--json', 'print JSON instead of the table')
    .option('--port <port>', 'probe each instance once now at PRIVATE_IP:PORT (default: no probe)')
    .option('--path <path>', `with --port: HTTP path to GET (default: ${d.path})`)
    .addOption(new Option('--check <kind>', `with --port: http or tcp (default: ${d.check})`).choices(['http', 'tcp']))
    .option('--timeout-ms <ms>', `with --port: a check not answered within this failed (default: ${d.timeoutMs})`)
    .option('--prefix <prefix>', `autoheal's alarm-name prefix (default: ${defaultAlarmPrefix})`)
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (flags: StatusFlags) => {
      process.exitCode = await runStatus(flags);
    });
}
