/**
 * `autoheal status [--group a,b] [--json] [--port P [--path /health]]`: the operator's view of one
 * group, several, or every managed group (opt-in tag, or AUTOHEAL_GROUPS / --groups). Every field
 * comes from a real source, read now:
 *
 * - the group: DescribeAutoScalingGroups (desired capacity, grace period, tags, suspended
 *   processes, instance maintenance policy: the replacement order, instances with lifecycle and
 *   health); managed, paused and the budget follow from
 *   them and the settings (the Lambda's AUTOHEAL_* environment, or flags);
 * - per instance: EC2 DescribeInstances (private IP, launch time, tags: grace and suppression),
 *   autoheal's alarm (`${prefix}${instanceId}`, DescribeAlarms, with CloudWatch's reason), a probe
 *   made now with --port (src/prober/checks.ts), and the last scaling activity about it;
 * - rails (rate limit, freeze, loop breaker, votes): read from the rails' ledger when a table is
 *   given (AUTOHEAL_LEDGER_TABLE, --ledger-table) — the healers' own memory; otherwise replayed from
 *   the scaling activities that name a user health-check (autoheal's SetInstanceHealth) and the
 *   times the alarms entered ALARM (src/operate/group-state.ts). `derivedFrom` says which;
 * - observers: their heartbeats (ListMetrics + one GetMetricData, src/operate/heartbeats.ts);
 * - verdict: what the policy (the real decide()) would decide now, were the instance's evidence to
 *   say it is down — e.g. `{ action: "skip", reason: "budgetSpent", detail }` while the budget is spent.
 *
 * What autoheal decided earlier is `autoheal history`.
 */
import { Option, type Command } from 'commander';
import { Agent } from 'node:http';
import { groupNamesWithTag } from '../../alarms/groups.js';
import { alarmNameFor, groupAlarmNameFor } from '../../alarms/manager.js';
import { describeAlarmStates, type AlarmStateView } from '../../alarms/states.js';
import { autoScalingClient, describeAutoScalingGroups, describeScalingActivities, type AutoScalingClient, type ScalingActivity } from '../../aws/autoscaling.js';
import { cloudWatchClient, type CloudWatchClient } from '../../aws/cloudwatch.js';
import { awsTimeoutEnv } from '../../aws/settings.js';
import { resolveSettings, listOf, type Settings } from '../../config.js';
import { ConfigError, describeError } from '../../errors.js';
import { ec2InstanceFacts, groupView, type InstanceFactsReader } from '../../fleet/aws/fleet.js';
import type { GroupView } from '../../fleet/port.js';
import { readHeartbeats, type ObserverHeartbeat } from '../../operate/heartbeats.js';
import { groupState, groupStateFromLedger, type GroupState, type RecordedMark } from '../../operate/group-state.js';
import { dynamoDbClient } from '../../aws/dynamodb.js';
import type { LedgerPort } from '../../healer/ledger.js';
import type { GroupLedger } from '../../policy/ledger.js';
import { dynamoLedger } from '../../runtime/dynamodb-ledger.js';
import { replacementOrder, replacementText, type ReplacementOrder } from '../../operate/replacement.js';
import { replacementModes } from '../../fleet/replacement.js';
import type { Verdict } from '../../policy/types.js';
import { findEc2InstanceId } from '../../signals/read.js';
import { httpCheck, tcpCheck, type CheckResult } from '../../prober/checks.js';
import { isTargetPort, proberOptionsSchema, targetPortRange } from '../../prober/options.js';
import { ExitCode } from '../exit-codes.js';
import { mapLimited } from '../../concurrency.js';

/** Auto Scaling's cause text when SetInstanceHealth (autoheal, or any custom check) marked an instance. */
export const userHealthCheckCause = 'in response to a user health-check';
/** Scaling activities read per group: DescribeScalingActivities' page size. */
export const activitiesRead = 100;
/** Checks in flight at once when --port is given. */
const probeConcurrency = 32;

/** The flags as commander hands them over. */
export interface StatusFlags {
  /** One group or several, comma-separated; absent: every managed group. */
  group?: string;
  json?: boolean;
  port?: string;
  path?: string;
  check?: 'http' | 'tcp';
  timeoutMs?: string;
  prefix?: string;
  region?: string;
  ledgerTable?: string;
  /** Settings as the healer has them (default: the AUTOHEAL_* environment). */
  maxUnhealthyShare?: string;
  optInTag?: string;
  groups?: string;
  /** The replacement order the stack asks of its groups (default: AUTOHEAL_REPLACEMENT, or unchanged). */
  replacement?: string;
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

/** One instance. */
export interface InstanceStatus {
  instanceId: string;
  privateIp: string | null;
  availabilityZone: string | null;
  launchedAt: string | null;
  lifecycleState: string;
  healthStatus: string;
  /** What the evidence says now: the alarm (ALARM: unhealthy) or, with --port, the probe. */
  evidence: 'unhealthy' | 'healthy' | 'none';
  alarm: AlarmStateView | null;
  /** The check made now with --port; null without it, or when the instance has no private IP. */
  probe: CheckResult | null;
  lastAction: ActivityView | null;
  /** What the policy decides now were this instance's evidence to say it is down. */
  verdict: Verdict;
}

/** One group. */
export interface GroupStatus {
  name: string;
  managed: boolean;
  managedBy: GroupState['managedBy'];
  paused: boolean;
  pausedUntil: string | null;
  budget: { limit: number; inUse: number };
  desiredCapacity: number;
  suspendedProcesses: string[];
  /** How the group replaces a marked instance (its instance maintenance policy), whether that dips capacity, and whether it overrides the stack's order. */
  replacement: ReplacementOrder;
  rails: GroupState['rails'];
  /** The stack's observers (heartbeats carry no group) and their newest heartbeat. */
  observers: ObserverHeartbeat[];
  alarmPrefix: string;
  /** The group's Metrics Insights alarm (alarm mode `metrics-insights`), when it exists. */
  groupAlarm: AlarmStateView | null;
  probed: { port: number; check: 'http' | 'tcp'; path: string } | null;
  instances: InstanceStatus[];
  /** Instances no longer in the group that a user health-check (autoheal) took out of service, newest first. */
  replacedByHealthCheck: Array<{ instanceId: string } & ActivityView>;
}

/** Everything `status` prints. */
export interface StatusReport {
  at: string;
  groups: GroupStatus[];
}

/** The clients `status` uses. */
export interface StatusClients {
  autoscaling: AutoScalingClient;
  cloudwatch: CloudWatchClient;
  /** EC2 facts of the instances (IP, launch time, tags); default: EC2 DescribeInstances with the Auto Scaling client's settings. */
  instanceFacts?: InstanceFactsReader;
  /** The rails' ledger the healers share, and where it is; absent: the rails are replayed from AWS. */
  ledger?: { port: LedgerPort; where: string };
}

const causeTime = /^At (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/;

function activityView(a: ScalingActivity): ActivityView {
  const { description, cause } = a;
  return {
    kind: /^Launching/i.test(description) ? 'launch' : /^Terminating/i.test(description) ? 'terminate' : 'other',
    ...(a.startedAt ? { startedAt: a.startedAt.toISOString() } : {}),
    ...(a.statusCode ? { status: a.statusCode } : {}),
    description,
    cause,
    byUserHealthCheck: cause.includes(userHealthCheckCause),
  };
}

/** Marks recorded in the activities: the time the cause names ("At …Z an instance was taken out of service…"), else the start. */
export function marksOfActivities(activities: readonly ScalingActivity[], launchedAtMs: (instanceId: string) => number | undefined): RecordedMark[] {
  const launches = new Map<string, number>();
  for (const a of activities) {
    const id = findEc2InstanceId(a.description);
    if (id && /^Launching/i.test(a.description) && a.startedAt) launches.set(id, a.startedAt.getTime());
  }
  const marks: RecordedMark[] = [];
  for (const a of activities) {
    const id = findEc2InstanceId(a.description);
    if (!id || !a.cause.includes(userHealthCheckCause)) continue;
    const named = causeTime.exec(a.cause)?.[1];
    const atMs = named ? Date.parse(named) : a.startedAt?.getTime();
    if (atMs === undefined || Number.isNaN(atMs)) continue;
    const launched = launchedAtMs(id) ?? launches.get(id);
    marks.push({ instanceId: id, atMs, ...(launched !== undefined ? { launchedAtMs: launched } : {}) });
  }
  return marks;
}


/** Validated probe settings of --port/--path/--check/--timeout-ms; null without --port. */
function probeSettings(flags: StatusFlags): { port: number; check: 'http' | 'tcp'; path: string; timeoutMs: number; expectedStatus: number } | null {
  if (flags.port === undefined) {
    const stray = (['path', 'check', 'timeoutMs'] as const).filter((k) => flags[k] !== undefined);
    if (stray.length > 0) throw new ConfigError(`--${stray[0] === 'timeoutMs' ? 'timeout-ms' : stray[0]}: only with --port`);
    return null;
  }
  const port = Number(flags.port);
  if (!isTargetPort(port)) throw new ConfigError(`--port: must be ${targetPortRange}, got "${flags.port}"`);
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


/** The settings status decides with: flags over the AUTOHEAL_* environment over the defaults, as the healer resolves them. */
export function statusSettings(flags: StatusFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  return resolveSettings(
    {
      ...(flags.maxUnhealthyShare !== undefined ? { maxUnhealthyShare: flags.maxUnhealthyShare } : {}),
      ...(flags.optInTag !== undefined ? { optInTag: flags.optInTag } : {}),
      ...(flags.groups !== undefined ? { groups: flags.groups } : {}),
      ...(flags.ledgerTable !== undefined ? { ledgerTable: flags.ledgerTable } : {}),
      ...(flags.replacement !== undefined ? { replacement: flags.replacement } : {}),
    },
    env,
  );
}

/** The groups asked for: --group's names, or every managed group (opt-in tag, and the named ones), sorted. */
async function groupNames(clients: StatusClients, flags: StatusFlags, settings: Settings, signal?: AbortSignal): Promise<string[]> {
  if (flags.group !== undefined) {
    const names = listOf(flags.group);
    if (names.length === 0) throw new ConfigError('--group: name at least one Auto Scaling group (or leave --group out for every managed group)');
    return [...new Set(names)];
  }
  const tagged = await groupNamesWithTag(clients.autoscaling, { key: settings.policy.optInTagKey, value: settings.policy.optInTagValue }, signal);
  return [...new Set([...tagged, ...settings.policy.groups])].sort();
}

/** The evidence of an instance now: a failing probe or an alarm in ALARM says unhealthy. */
function evidenceOf(alarm: AlarmStateView | undefined, probe: CheckResult | null): InstanceStatus['evidence'] {
  if (probe && !probe.ok) return 'unhealthy';
  if (alarm?.state === 'ALARM') return 'unhealthy';
  if (probe?.ok || alarm?.state === 'OK') return 'healthy';
  return 'none';
}

/** Reads the status of the groups from their sources (see the file comment). A named group that does not exist is a ConfigError. */
export async function collectStatus(clients: StatusClients, flags: StatusFlags, options: { settings?: Settings; nowMs?: number; signal?: AbortSignal } = {}): Promise<StatusReport> {
  const { signal } = options;
  const settings = options.settings ?? statusSettings(flags);
  const prefix = flags.prefix ?? settings.alarmPrefix;
  const probe = probeSettings(flags);
  const names = await groupNames(clients, flags, settings, signal);
  // The wing's groups, not the fleet's: status also shows each group's maintenance policy.
  const described = names.length === 0 ? [] : await describeAutoScalingGroups(clients.autoscaling, { names }, signal);
  const policies = new Map(described.map((g) => [g.name, g.maintenancePolicy]));
  const groups = described.map(groupView);
  const missing = names.filter((n) => !groups.some((g) => g.name === n));
  if (missing.length > 0) throw new ConfigError(`Auto Scaling group${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not found`);
  groups.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));

  const ids = groups.flatMap((g) => g.instances.map((i) => i.instanceId));
  const facts = ids.length === 0 ? new Map() : await (clients.instanceFacts ?? ec2InstanceFacts(clients.autoscaling))(ids, signal);
  for (const g of groups) {
    for (const i of g.instances) {
      const f = facts.get(i.instanceId);
      if (f?.launchedAt) i.launchedAt = f.launchedAt;
      if (f) i.tags = f.tags;
    }
  }
  const alarmNames = groups.flatMap((g) => [groupAlarmNameFor(prefix, g.name), ...g.instances.map((i) => alarmNameFor(prefix, i.instanceId))]);
  const [alarms, activities, observers, ledgers] = await Promise.all([
    alarmNames.length === 0 ? new Map<string, AlarmStateView>() : describeAlarmStates(clients.cloudwatch, alarmNames, signal),
    // The newest activities of each group, newest first (the API returns them so).
    Promise.all(groups.map((g) => describeScalingActivities(clients.autoscaling, g.name, activitiesRead, signal))),
    readHeartbeats(clients.cloudwatch, options.nowMs ?? Date.now(), signal),
    // A ledger that cannot be read fails the command, naming the table: never a replay in its place.
    clients.ledger ? Promise.all(groups.map(async (g) => (await clients.ledger?.port.read(g.name, signal))?.ledger)) : [],
  ]);
  // Read everything first, then take the time: the verdicts see the freshest clock.
  const nowMs = options.nowMs ?? Date.now();

  let checks = new Map<string, CheckResult | null>();
  if (probe) {
    const agent = new Agent({ keepAlive: false, maxSockets: probeConcurrency });
    const targets = groups.flatMap((g) => g.instances);
    try {
      const results = await mapLimited(targets, probeConcurrency, async (i) => {
        const ip = facts.get(i.instanceId)?.privateIp;
        if (ip === undefined) return null;
        return probe.check === 'http'
          ? httpCheck({ host: ip, port: probe.port, path: probe.path, expectedStatus: probe.expectedStatus }, probe.timeoutMs, agent)
          : tcpCheck({ host: ip, port: probe.port }, probe.timeoutMs);
      });
      checks = new Map(targets.map((t, n) => [t.instanceId, results[n] ?? null]));
    } finally {
      agent.destroy();
    }
  }

  return {
    at: new Date(nowMs).toISOString(),
    groups: groups.map((g, n) => {
      const stored = ledgers[n];
      const ledger = clients.ledger && stored ? { ledger: stored, where: clients.ledger.where } : undefined;
      return groupStatus(g, activities[n] ?? [], { alarms, checks, observers, prefix, probe, settings, nowMs, facts, replacement: replacementOrder(policies.get(g.name), settings.replacement), ...(ledger ? { ledger } : {}) });
    }),
  };
}

function groupStatus(
  g: GroupView,
  activities: readonly ScalingActivity[],
  ctx: {
    alarms: Map<string, AlarmStateView>;
    checks: Map<string, CheckResult | null>;
    observers: ObserverHeartbeat[];
    prefix: string;
    probe: ReturnType<typeof probeSettings>;
    settings: Settings;
    nowMs: number;
    facts: Map<string, { privateIp?: string }>;
    replacement: ReplacementOrder;
    ledger?: { ledger: GroupLedger; where: string };
  },
): GroupStatus {
  const launched = new Map(g.instances.flatMap((i) => (i.launchedAt ? [[i.instanceId, i.launchedAt.getTime()] as const] : [])));
  const marks = marksOfActivities(activities, (id) => launched.get(id));
  const reports = g.instances.flatMap((i) => {
    const alarm = ctx.alarms.get(alarmNameFor(ctx.prefix, i.instanceId));
    return alarm?.state === 'ALARM' && alarm.updatedAt ? [{ instanceId: i.instanceId, atMs: alarm.updatedAt.getTime() }] : [];
  });
  const state = ctx.ledger ? groupStateFromLedger(g, ctx.ledger.ledger, ctx.ledger.where, ctx.settings.policy, ctx.nowMs) : groupState(g, marks, reports, ctx.settings.policy, ctx.nowMs);

  const latest = new Map<string, ActivityView>();
  for (const a of activities) {
    const id = findEc2InstanceId(a.description);
    if (id !== undefined && !latest.has(id)) latest.set(id, activityView(a));
  }
  const inGroup = new Set(g.instances.map((i) => i.instanceId));
  return {
    name: g.name,
    managed: state.managed,
    managedBy: state.managedBy,
    paused: state.paused,
    pausedUntil: state.pausedUntil,
    budget: state.budget,
    desiredCapacity: g.desiredCapacity,
    suspendedProcesses: g.suspendedProcesses,
    replacement: ctx.replacement,
    rails: state.rails,
    observers: ctx.observers,
    alarmPrefix: ctx.prefix,
    groupAlarm: ctx.alarms.get(groupAlarmNameFor(ctx.prefix, g.name)) ?? null,
    probed: ctx.probe ? { port: ctx.probe.port, check: ctx.probe.check, path: ctx.probe.path } : null,
    instances: g.instances.map((i) => {
      const alarm = ctx.alarms.get(alarmNameFor(ctx.prefix, i.instanceId));
      const probe = ctx.checks.get(i.instanceId) ?? null;
      return {
        instanceId: i.instanceId,
        privateIp: ctx.facts.get(i.instanceId)?.privateIp ?? null,
        availabilityZone: i.availabilityZone ?? null,
        launchedAt: i.launchedAt?.toISOString() ?? null,
        lifecycleState: i.lifecycleState,
        healthStatus: i.healthStatus,
        evidence: evidenceOf(alarm, probe),
        alarm: alarm ?? null,
        probe,
        lastAction: latest.get(i.instanceId) ?? null,
        verdict: state.verdicts.get(i.instanceId) ?? { action: 'skip', reason: 'notInGroup' },
      };
    }),
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

function verdictText(v: Verdict): string {
  return v.action === 'mark' ? 'mark' : `skip ${v.reason}`;
}

function ago(iso: string, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

/** One observer: its newest heartbeat, and what it probed and cannot reach when it says. */
function observerLine(o: ObserverHeartbeat, nowMs: number): string {
  const seen = [
    ...(o.targets !== null ? [`${o.targets} targets`] : []),
    ...(o.unreachableGroups ? [`${o.unreachableGroups} group${o.unreachableGroups === 1 ? '' : 's'} unreachable`] : []),
  ];
  return `${o.name} ${o.lastHeartbeat ? ago(o.lastHeartbeat, nowMs) : 'no heartbeat in 3 h'}${o.silent ? ' (SILENT)' : ''}${seen.length > 0 ? ` (${seen.join(', ')})` : ''}`;
}

/** The header lines of one group: managed, paused, budget, rails, observers, alarms, replacement order. */
function groupHeader(g: GroupStatus, nowMs: number): string[] {
  const r = g.rails;
  const lines = [
    `group ${g.name}: ${g.managed ? `managed (${g.managedBy})` : 'NOT managed (no opt-in tag, not named)'}` +
      `${g.paused ? `; PAUSED${g.pausedUntil ? ` until ${g.pausedUntil}` : ' until the tag is removed'}` : ''}` +
      `; budget ${g.budget.inUse} of ${g.budget.limit} in use${g.budget.inUse >= g.budget.limit ? ' (SPENT)' : ''}` +
      `; desired ${g.desiredCapacity}; ${g.instances.length} instances`,
    `  rails: ${r.marksInWindow} of ${r.markLimit} marks in ${r.rateWindowMinutes} min${r.rateLimited ? ' (RATE LIMITED)' : ''}` +
      `${r.hold ? `; HELD ${r.hold.reason} until ${r.hold.until ?? '`autoheal resume`'}: ${r.hold.detail}` : '; no hold'}` +
      `${r.resumedAt ? `; resumed at ${r.resumedAt}` : ''}` +
      `${r.votes && r.votes.length > 0 ? `; votes ${r.votes.map((v) => `${v.instanceId} (${v.observers.join(', ')})`).join(', ')}` : ''}` +
      `${g.suspendedProcesses.length > 0 ? `; suspended ${g.suspendedProcesses.join(', ')}` : ''} (${r.derivedFrom})`,
    `  observers: ${g.observers.length === 0 ? 'none publish heartbeats' : g.observers.map((o) => observerLine(o, nowMs)).join(', ')}`,
    `  alarms ${g.alarmPrefix}INSTANCE_ID` +
      (g.groupAlarm ? `; group alarm ${g.groupAlarm.name} ${g.groupAlarm.state}` : '') +
      (g.probed ? `; probed now: ${g.probed.check} :${g.probed.port}${g.probed.check === 'http' ? g.probed.path : ''}` : ''),
    `  replacement: ${replacementText(g.replacement)}`,
  ];
  return lines;
}

/** The tables `status` prints without --json: per group a header and one row per instance. */
export function renderStatusTable(report: StatusReport): string {
  const nowMs = Date.parse(report.at);
  if (report.groups.length === 0) return 'no managed group found (opt-in tag or AUTOHEAL_GROUPS)\n';
  const out: string[] = [];
  for (const g of report.groups) {
    const header = ['INSTANCE', 'PRIVATE IP', 'LIFECYCLE', 'HEALTH', 'ALARM', 'PROBE', 'IF DOWN NOW', 'LAST ACTION'];
    const rows = g.instances.map((i) => [
      i.instanceId,
      i.privateIp ?? '-',
      i.lifecycleState,
      i.healthStatus,
      i.alarm?.state ?? 'none',
      probeText(i.probe, g.probed !== null),
      verdictText(i.verdict),
      actionText(i.lastAction),
    ]);
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
    const line = (cells: string[]): string => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] as number))).join('  ');
    const lines = [...groupHeader(g, nowMs), line(header), ...rows.map(line)];
    for (const i of g.instances) {
      if (i.evidence === 'unhealthy' && i.verdict.action === 'skip' && i.verdict.reason !== 'alreadyUnhealthy') {
        lines.push(`${i.instanceId} held: ${i.verdict.reason}${i.verdict.detail ? ` (${i.verdict.detail})` : ''}`);
      }
      if (i.alarm?.state === 'ALARM' && i.alarm.reason) lines.push(`${i.instanceId} alarm: ${i.alarm.reason}`);
    }
    if (g.replacedByHealthCheck.length > 0) {
      lines.push('', 'replaced after a user health-check (autoheal), newest first:');
      for (const r of g.replacedByHealthCheck) lines.push(`  ${r.instanceId}  ${actionText(r)}`);
    }
    out.push(lines.join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}

/** Reads and prints; resolves with the exit code. */
export async function runStatus(flags: StatusFlags, clients?: StatusClients): Promise<number> {
  const used: StatusClients = clients ?? { autoscaling: autoScalingClient({ region: flags.region }), cloudwatch: cloudWatchClient({ region: flags.region }) };
  const dynamo = { client: undefined as ReturnType<typeof dynamoDbClient> | undefined };
  try {
    const settings = statusSettings(flags);
    if (!used.ledger && settings.ledgerTable !== undefined) {
      dynamo.client = dynamoDbClient({ region: flags.region });
      used.ledger = { port: dynamoLedger({ client: dynamo.client, table: settings.ledgerTable }), where: `table ${settings.ledgerTable}` };
    }
    const status = await collectStatus(used, flags, { settings });
    process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatusTable(status));
    return ExitCode.ok;
  } catch (error) {
    process.stderr.write(`autoheal status: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  } finally {
    dynamo.client?.destroy();
    if (!clients) {
      used.autoscaling.destroy();
      used.cloudwatch.destroy();
    }
  }
}

export function register(program: Command): void {
  const d = proberOptionsSchema.parse({});
  program
    .command('status')
    .summary('the operator\'s view of managed groups: managed, paused, budget, rails, observers, and per instance what autoheal would do now')
    .description(
      [
        'For one group, several (--group a,b) or every managed group (the opt-in tag, and AUTOHEAL_GROUPS): whether ' +
          'autoheal manages it (byTag or byName), whether it is paused (autoheal:paused, until when), the unhealthy ' +
          'budget {limit, inUse}, the rate limit and any hold (frozen, loopBreaker, frozenUntilResume), and the observers\' newest heartbeats with the targets each probed and the groups it cannot reach.',
        'Per instance: lifecycle and health, the alarm (ALARM rows add CloudWatch\'s reason), a probe made now with ' +
          '--port, the last scaling activity, and the verdict: what the policy decides now were the instance reported ' +
          'down (e.g. skip budgetSpent while the budget is spent; "held:" lines explain the instances in ALARM not marked).',
        'The rails (marks in the rate window, budget in use, holds, votes) are read from the healers\' ledger table when one ' +
          'is given (AUTOHEAL_LEDGER_TABLE, --ledger-table; IAM dynamodb:GetItem on it). Without one they are replayed from the scaling activities that name a ' +
          `user health-check (autoheal's SetInstanceHealth, the newest ${activitiesRead}) and the times the alarms entered ` +
          'ALARM; rails.derivedFrom says which. Settings come from the AUTOHEAL_* environment as the healer\'s do, or the flags below. What autoheal ' +
          'decided earlier: `autoheal history`.',
        'Each group\'s replacement line says in which order it replaces a marked instance (its instance maintenance policy) and whether that dips capacity; ' +
          'with the stack\'s order launch-before-terminate (AUTOHEAL_REPLACEMENT, --replacement) it says when the group overrides it (replacement.overridesStack).',
        'IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeScalingActivities, ec2:DescribeInstances, ' +
          'cloudwatch:DescribeAlarms, cloudwatch:ListMetrics, cloudwatch:GetMetricData. --json prints {at, groups: [{name, ' +
          'managed, managedBy, paused, pausedUntil, budget: {limit, inUse}, rails, observers, instances: [{instanceId, ' +
          'lifecycleState, healthStatus, evidence, alarm, probe, lastAction, verdict: {action, reason, detail}}], ...}]}.',
        `Exit codes: ${ExitCode.ok} printed; ${ExitCode.noResult} an AWS call failed or was not answered in time (${awsTimeoutEnv}, default 10000 ms per attempt, ` +
          `three times that with retries); ${ExitCode.usage} bad flags or ${awsTimeoutEnv}, or a named group does not exist.`,
      ].join('\n\n'),
    )
    .option('--group <names>', 'the Auto Scaling group, or several comma-separated (default: every managed group)')
    .option('--json', 'print JSON instead of the tables')
    .option('--port <port>', 'probe each instance once now at PRIVATE_IP:PORT (default: no probe)')
    .option('--path <path>', `with --port: HTTP path to GET (default: ${d.path})`)
    .addOption(new Option('--check <kind>', `with --port: http or tcp (default: ${d.check})`).choices(['http', 'tcp']))
    .option('--timeout-ms <ms>', `with --port: a check not answered within this failed (default: ${d.timeoutMs})`)
    .option('--prefix <prefix>', "autoheal's alarm-name prefix (default: AUTOHEAL_ALARM_PREFIX, or autoheal-status-check-)")
    .option('--max-unhealthy-share <share>', 'the budget share, as the healer has it (default: AUTOHEAL_MAX_UNHEALTHY_SHARE, or 0.4)')
    .option('--opt-in-tag <key=value>', 'the opt-in tag (default: AUTOHEAL_OPT_IN_TAG, or autoheal:enabled=true)')
    .option('--groups <names>', 'groups managed by name (default: AUTOHEAL_GROUPS)')
    .addOption(
      new Option('--replacement <order>', "the replacement order the stack sets, to say which groups override it (default: AUTOHEAL_REPLACEMENT, or unchanged)").choices([
        ...replacementModes,
      ]),
    )
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .option('--ledger-table <name>', "read the rails from the healers' ledger table (default: AUTOHEAL_LEDGER_TABLE; none: replay them from the scaling activities)")
    .action(async (flags: StatusFlags) => {
      process.exitCode = await runStatus(flags);
    });
}
