/**
 * `autoheal probe --group NAME --port P [--path /health] [--publish TOPIC_ARN] [prober options]`:
 * probe the InService instances of Auto Scaling groups at their private IPs, following the groups
 * as they change, and feed the verdicts to the core here (SetInstanceHealth through the policy and
 * its budget) or publish them to an SNS topic like a CloudWatch alarm (the AutoHeal stack's
 * healer takes them from there). The work is in src/prober/ (prober, sinks, aws-discovery) and
 * src/healer/; this file reads flags, builds clients and owns the process (signals, exit code).
 *
 * Config order: flags > environment (the Lambda healer's AUTOHEAL_* variables, for the policy) >
 * defaults. The probed groups count as managed, as the construct's `groups` prop does: naming a
 * group on the command line opts it in.
 */
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { autoScalingClient } from '../../aws/autoscaling.js';
import { cloudWatchClient, type CloudWatchClient } from '../../aws/cloudwatch.js';
import { parseTopicArn } from '../../aws/sns.js';
import { ConfigError, describeError } from '../../errors.js';
import type { Healer } from '../../healer/types.js';
import { autohealEnv } from '../../config.js';
import { createAwsHealer } from '../../runtime/aws.js';
import { createLogger, type Logger } from '../../log.js';
import { policyOptionsSchema, quorumProblem } from '../../policy/options.js';
import { ec2InstanceFacts } from '../../fleet/aws/fleet.js';
import { describeGroupInstances, groupTargets, type AwsDiscoveryClients } from '../../prober/aws-discovery.js';
import { isTargetPort, proberOptionsSchema, targetPortRange, type ProberOptionsInput } from '../../prober/options.js';
import { startProber, type Prober, type ProberStats, type ProbeSink } from '../../prober/prober.js';
import { putMetricDataHeartbeat } from '../../prober/heartbeat.js';
import { healerSink, snsSink } from '../../prober/sinks.js';
import { ExitCode } from '../exit-codes.js';
import { flagOf } from '../flags.js';
import { onStopSignals, type ProcessHooks } from '../stop-signals.js';
import { resolveHealSettings, type HealFlags, type HealSettings } from './heal.js';

/** Defaults of the flags this command adds to the prober's own options. */
export const probeDefaults = {
  /** How often the groups are described again, so targets follow launches and terminations. */
  discoverEveryMs: 30_000,
} as const;

/** The flags as commander hands them over (strings; booleans for switches). */
export interface ProbeFlags extends HealFlags {
  group: string[];
  port: string;
  path?: string;
  check?: 'http' | 'tcp';
  expectedStatus?: string;
  publish?: string;
  intervalMs?: string;
  timeoutMs?: string;
  unhealthyThreshold?: string;
  healthyThreshold?: string;
  jitterMs?: string;
  concurrency?: string;
  repeatUnhealthyAfterMs?: string;
  discoverEveryMs?: string;
  observer?: string;
}

/** What `probe` runs with, after validation. */
export interface ProbeSettings {
  groups: string[];
  port: number;
  prober: ProberOptionsInput;
  discoverEveryMs: number;
  /** Verdicts go to this topic instead of the core in this process. */
  publish?: { topicArn: string; region: string; accountId: string };
  /** The core's settings; absent with --publish. */
  heal?: HealSettings;
}

/**
 * The clients `probe` uses; injected by tests, built by the wing otherwise. EC2 DescribeInstances
 * and, with --publish, SNS Publish (to the topic's region) are signed with the Auto Scaling client's parts.
 */
export interface ProbeClients extends AwsDiscoveryClients {
  /** With --publish: the observer's heartbeat (PutMetricData, namespace autoheal). */
  cloudwatch?: CloudWatchClient;
}

/** What a probe run reports when it stops (JSON on stdout). */
export interface ProbeSummary {
  groups: string[];
  sink: 'healer' | 'sns';
  stats: ProberStats;
  /** Instances the healer marked Unhealthy (or would have, with dry-run). */
  marked: string[];
  /** Verdicts that skipped an unhealthy instance, by reason (`budgetSpent`, `notInService`, …). */
  skipped: Record<string, number>;
}

/** A running probe: the prober, the healer (without --publish), and how to stop it. */
export interface ProbeRun {
  settings: ProbeSettings;
  prober: Prober;
  healer?: Healer;
  /** Stops probing: aborts the signals being sent, lets checks in flight end by their timeout; resolves with the summary. */
  stop(): Promise<ProbeSummary>;
  readonly promise: Promise<ProbeSummary>;
}

/** Validates the flags; throws one ConfigError naming each bad flag or variable. */
export function resolveProbeSettings(flags: ProbeFlags, env: NodeJS.ProcessEnv = process.env): ProbeSettings {
  const problems: string[] = [];
  const number = (name: keyof ProbeFlags): number | undefined => {
    const text = flags[name];
    if (typeof text !== 'string') return undefined;
    const n = text.trim() === '' ? Number.NaN : Number(text);
    if (Number.isNaN(n)) problems.push(`${flagOf(name)}: expected a number, got "${text}"`);
    return n;
  };

  const groups = [...new Set(flags.group.map((g) => g.trim()))];
  if (groups.some((g) => g === '')) problems.push('--group: a group name is empty');
  const port = number('port');
  if (port !== undefined && !isTargetPort(port)) {
    problems.push(`--port: must be ${targetPortRange}, got "${flags.port}"`);
  }

  const prober: ProberOptionsInput = {};
  const numeric = ['intervalMs', 'timeoutMs', 'unhealthyThreshold', 'healthyThreshold', 'jitterMs', 'concurrency', 'expectedStatus', 'repeatUnhealthyAfterMs'] as const;
  for (const key of numeric) {
    const n = number(key);
    if (n !== undefined && !Number.isNaN(n)) prober[key] = n;
  }
  if (flags.check !== undefined) prober.check = flags.check;
  // The quorum counts observers by name: two hosts must not share one, so the host's name by default.
  prober.observer = flags.observer ?? hostname();
  if (flags.path !== undefined) prober.path = flags.path;
  // The limits and their messages come from the prober's own schema; only the names are mapped.
  const checked = proberOptionsSchema.safeParse(prober);
  if (!checked.success) for (const i of checked.error.issues) problems.push(`${flagOf(String(i.path[0] ?? ''))}: ${i.message}`);

  const discoverEveryMs = number('discoverEveryMs') ?? probeDefaults.discoverEveryMs;
  if (!Number.isNaN(discoverEveryMs) && !(Number.isInteger(discoverEveryMs) && discoverEveryMs >= 1_000)) {
    problems.push(`--discover-every-ms: must be an integer >= 1000, got "${flags.discoverEveryMs}"`);
  }

  let publish: ProbeSettings['publish'];
  if (flags.publish !== undefined) {
    const topic = parseTopicArn(flags.publish);
    if (!topic) problems.push(`--publish: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "${flags.publish}"`);
    else publish = { topicArn: flags.publish, region: topic.region, accountId: topic.accountId };
    const coreOnly = [
      ...(['dryRun', 'maxUnhealthyShare', 'optInTag'] as const).filter((k) => flags[k] !== undefined),
      ...(flags.respectGracePeriod === false ? ['noRespectGracePeriod'] : []),
    ];
    if (coreOnly.length > 0) {
      problems.push(`--publish: the healer behind the topic decides; ${coreOnly.map(flagOf).join(', ')} apply only without --publish`);
    }
  }

  let heal: HealSettings | undefined;
  if (flags.publish === undefined) {
    try {
      heal = resolveHealSettings(flags, env);
      // Naming a group here opts it in, as the construct's `groups` prop does.
      // Healing here, this prober is the only observer: a quorum of 2 could never form, so it is 1
      // unless AUTOHEAL_PROBE_QUORUM says otherwise (the observer's self-check still withholds).
      const probeQuorum = env[autohealEnv.probeQuorum]?.trim() ? heal.policy.probeQuorum : 1;
      const unreachable = quorumProblem(probeQuorum, 1);
      if (unreachable) throw new ConfigError(`${autohealEnv.probeQuorum}: ${unreachable} (healing in this process, this prober is the only observer)`);
      const policy = policyOptionsSchema.parse({ ...heal.policy, probeQuorum, groups: [...new Set([...heal.policy.groups, ...groups])] });
      heal = { ...heal, policy };
    } catch (error) {
      problems.push(describeError(error));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return {
    groups,
    port: port as number,
    prober,
    discoverEveryMs,
    ...(publish ? { publish } : {}),
    ...(heal ? { heal } : {}),
  };
}

/**
 * Starts probing: checks that every group exists (a ConfigError otherwise), then runs the prober
 * with the healer or SNS sink until {@link ProbeRun.stop}.
 */
export async function startProbe(flags: ProbeFlags, clients: ProbeClients, logger: Logger): Promise<ProbeRun> {
  const settings = resolveProbeSettings(flags);
  for (const group of settings.groups) await describeGroupInstances(clients, group);

  let sink: ProbeSink;
  let healer: Healer | undefined;
  if (settings.publish) {
    sink = snsSink({ client: clients.autoscaling, topicArn: settings.publish.topicArn, accountId: settings.publish.accountId });
  } else if (settings.heal) {
    ({ healer } = createAwsHealer({
      settings: settings.heal,
      autoScaling: clients.autoscaling,
      instanceFacts: ec2InstanceFacts(clients.autoscaling),
      logger: logger.child({ component: 'healer' }),
    }));
    sink = healerSink(healer);
  } else {
    throw new ConfigError('probe: neither --publish nor the core settings');
  }

  const marked = new Set<string>();
  const skipped: Record<string, number> = {};
  healer?.events.on('healer:verdict:marked', (v) => marked.add(v.signal.instanceId));
  healer?.events.on('healer:verdict:skipped', (v) => {
    if (v.signal.state === 'unhealthy') skipped[v.verdict.reason] = (skipped[v.verdict.reason] ?? 0) + 1;
  });

  const prober = startProber(settings.prober, {
    sink,
    discover: groupTargets(clients, { groups: settings.groups, port: settings.port }),
    discoverEveryMs: settings.discoverEveryMs,
    ...(settings.publish ? { region: settings.publish.region } : {}),
    // The heartbeat goes through PutMetricData: a host's stdout reaches CloudWatch only through an agent.
    ...(settings.publish && clients.cloudwatch ? { heartbeat: putMetricDataHeartbeat(clients.cloudwatch) } : {}),
    logger,
  });
  prober.events.on('prober:observer:degraded', (e) => logger.warn(e, 'probe: observer degraded; withholding unhealthy verdicts'));
  prober.events.on('prober:observer:recovered', (e) => logger.warn(e, 'probe: observer recovered'));
  prober.events.on('prober:targets:changed', (e) => logger.info(e, 'probe: targets changed'));
  prober.events.on('prober:target:unhealthy', (e) => logger.warn(e, 'probe: target unhealthy'));
  prober.events.on('prober:target:healthy', (e) => logger.info(e, 'probe: target healthy again'));
  prober.events.on('prober:signal:sent', (e) =>
    logger.info({ instanceId: e.signal.instanceId, state: e.signal.state, ms: Math.round(e.ms) }, 'probe: verdict delivered'),
  );

  const summary = (): ProbeSummary => ({
    groups: settings.groups,
    sink: settings.publish ? 'sns' : 'healer',
    stats: prober.stats(),
    marked: [...marked].sort(),
    skipped,
  });
  const promise = prober.promise.then(summary);
  return {
    settings,
    prober,
    ...(healer ? { healer } : {}),
    stop: async () => {
      await prober.stop();
      return summary();
    },
    promise,
  };
}

/** Where `runProbeCommand` listens for signals and how it forces an exit; injected by tests. */
/**
 * Runs `probe` until a signal stops it; resolves with the exit code. The first SIGTERM/SIGINT
 * stops the prober (verdicts being sent are aborted; it settles within --timeout-ms), a second one
 * exits at once.
 */
export async function runProbeCommand(
  flags: ProbeFlags,
  options: { clients?: ProbeClients; hooks?: ProcessHooks; logger?: Logger; onStarted?: (run: ProbeRun) => void } = {},
): Promise<number> {
  const logger = options.logger ?? createLogger({ component: 'probe' });
  const owned = options.clients === undefined;
  const clients: ProbeClients = options.clients ?? {
    autoscaling: autoScalingClient({ region: flags.region }),
    ...(flags.publish ? { cloudwatch: cloudWatchClient({ region: flags.region }) } : {}),
  };
  const close = (): void => {
    if (!owned) return;
    clients.autoscaling.destroy();
    clients.cloudwatch?.destroy();
  };

  let run: ProbeRun;
  try {
    run = await startProbe(flags, clients, logger);
  } catch (error) {
    close();
    process.stderr.write(`autoheal probe: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  }
  logger.info(
    { groups: run.settings.groups, port: run.settings.port, sink: run.settings.publish ? run.settings.publish.topicArn : 'healer', dryRun: run.settings.heal?.dryRun ?? false },
    'probe: started; SIGTERM or SIGINT drains, a second signal exits at once',
  );

  const removeSignals = onStopSignals(
    {
      drain: (signal) => {
        logger.info({ signal }, 'probe: stopping: no more checks; verdicts in flight aborted');
        void run.stop();
      },
      force: (signal) => logger.warn({ signal }, 'probe: second signal: exiting now'),
    },
    options.hooks,
  );
  options.onStarted?.(run);

  let summary: ProbeSummary;
  try {
    summary = await run.promise;
  } finally {
    removeSignals();
    close();
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return ExitCode.ok;
}

export function register(program: Command): void {
  const d = proberOptionsSchema.parse({});
  program
    .command('probe')
    .summary("probe a group's instances at their private IPs and heal them (or publish verdicts to a topic)")
    .description(
      [
        "Discovers the InService instances of each --group and their private IPs (DescribeAutoScalingGroups, " +
          `EC2 DescribeInstances), describes the groups again every --discover-every-ms so the targets follow ` +
          'launches and terminations, and checks every instance at PRIVATE_IP:PORT on a fixed schedule (HTTP GET ' +
          '--path expecting --expected-status, or a TCP connect). An instance failing --unhealthy-threshold checks ' +
          'in a row is unhealthy. Run it on any host in the groups\' VPC that can reach the instances.',
        'Without --publish, verdicts go to the autoheal core in this process: the same policy as the Lambda ' +
          'healer (InService, grace period, duplicates, the unhealthy budget), then SetInstanceHealth. The probed ' +
          'groups count as managed (naming a group opts it in). With --publish TOPIC_ARN, each verdict is published ' +
          'to the topic as a CloudWatch alarm message named autoheal-probe-INSTANCE_ID, and the healer behind the ' +
          'topic (the AutoHeal stack with detection "probe") decides.',
        'Config order: flags > environment > defaults. Environment (without --publish): the Lambda healer\'s ' +
          `${[autohealEnv.maxUnhealthyShare, autohealEnv.optInTag, autohealEnv.groups, autohealEnv.dryRun, autohealEnv.respectGracePeriod, autohealEnv.logLevel].join(', ')}. ` +
          'AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL(_AUTO_SCALING|_EC2|_SNS) apply as in every AWS SDK.',
        'IAM: autoscaling:DescribeAutoScalingGroups and ec2:DescribeInstances; without --publish also ' +
          'autoscaling:DescribeAutoScalingInstances and autoscaling:SetInstanceHealth (not with --dry-run); with ' +
          '--publish sns:Publish on the topic and cloudwatch:PutMetricData for the heartbeat (metric ObserverHeartbeat, ' +
          'namespace autoheal, dimension Observer; the AutoHeal stack output ProberPolicyArn grants exactly that).',
        'Logs are JSON lines on stderr (targets, transitions, verdicts). SIGTERM or SIGINT stops checking, aborts ' +
          'the verdicts being sent (they are not waited for) and lets checks in flight end by their timeout, so it ' +
          'stops within --timeout-ms; then it prints a JSON summary on stdout {groups, sink, stats, marked, skipped} and ' +
          `exits ${ExitCode.ok}; a second signal exits at once (${ExitCode.noResult}).`,
        `Exit codes: ${ExitCode.ok} stopped by a signal after draining; ${ExitCode.noResult} an AWS call failed at start, or a second signal; ` +
          `${ExitCode.usage} bad flags or variables, or a group does not exist.`,
      ].join('\n\n'),
    )
    .requiredOption('--group <name...>', 'the Auto Scaling group(s) to probe')
    .requiredOption('--port <port>', 'the port every instance answers on')
    .option('--path <path>', `HTTP path to GET (default: ${d.path})`)
    .addOption(new Option('--check <kind>', `http: GET --path; tcp: connect only (default: ${d.check})`).choices(['http', 'tcp']))
    .option('--expected-status <n>', `the HTTP status of a healthy answer (default: ${d.expectedStatus})`)
    .option('--publish <topicArn>', 'publish verdicts to this SNS topic (the stack output AlertTopicArn) instead of healing here')
    .option('--observer <name>', "this observer's name in its verdicts and heartbeat; the healer's quorum counts distinct names (default: the host name)")
    .option('--interval-ms <ms>', `each instance is checked once per interval (default: ${d.intervalMs})`)
    .option('--timeout-ms <ms>', `a check not answered within this failed; at most the interval (default: ${d.timeoutMs})`)
    .option('--unhealthy-threshold <n>', `consecutive failures that make an instance unhealthy (default: ${d.unhealthyThreshold})`)
    .option('--healthy-threshold <n>', `consecutive successes that make it healthy again (default: ${d.healthyThreshold})`)
    .option('--jitter-ms <ms>', `spread the checks over this much of the interval (default: ${d.jitterMs})`)
    .option('--concurrency <n>', `checks in flight at once, at most (default: ${d.concurrency})`)
    .option('--repeat-unhealthy-after-ms <ms>', `send a still-unhealthy verdict again this often, 0 never (default: ${d.repeatUnhealthyAfterMs})`)
    .option('--discover-every-ms <ms>', `describe the groups again this often (default: ${probeDefaults.discoverEveryMs})`)
    .option('--dry-run', `without --publish: decide and log, never call SetInstanceHealth (default: ${autohealEnv.dryRun} or false)`)
    .option('--max-unhealthy-share <x>', "without --publish: share of a group's desired capacity that may be Unhealthy at once, 0 < x <= 1 (default: 0.4)")
    .option('--opt-in-tag <key=value>', 'without --publish: the tag that opts other groups in (default: autoheal:enabled=true)')
    .option('--no-respect-grace-period', 'without --publish: send ShouldRespectGracePeriod=false (default: respect it)')
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  autoheal probe --group my-workers --port 8080 --path /health --interval-ms 2000\n' +
        '  autoheal probe --group my-workers --port 8080 --publish arn:aws:sns:eu-west-1:123456789012:AutoHeal-AlertTopic\n',
    )
    .action(async (flags: ProbeFlags) => {
      process.exitCode = await runProbeCommand(flags);
    });
}
