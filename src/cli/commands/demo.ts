/**
 * `autoheal demo`: heal a local group on this machine through the whole chain (prober, SNS
 * topic, SQS queue, bridge, core), injecting failures and printing the recovery timeline.
 * The command only parses flags, owns the signals and renders; src/drill/demo.ts does the work.
 *
 * Exit codes: 0 every round healed; 1 a round did not heal, or the demo was interrupted;
 * 2 bad usage or the chain could not start. Ctrl-C stops it cleanly; a second Ctrl-C kills
 * every instance at once and exits.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { demoDefaults, demoFailures, runDemo, type DemoFailure, type DemoOptionsInput } from '../../drill/demo.js';
import { createDemoView } from '../../drill/live-view.js';
import { maxLocalInstances, type LocalGroup } from '../../fleet/local/local-group.js';
import { createLogger } from '../../log.js';
import { ExitCode } from '../exit-codes.js';
import { onStopSignals } from '../stop-signals.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`an integer from ${min} to ${max}`);
    return n;
  };
}

/** `a,b,c`: zone names, each once; the demo's options check each name. */
function zoneList(value: string): string[] {
  const zones = value.split(',').map((z) => z.trim()).filter((z) => z !== '');
  if (zones.length === 0) throw new InvalidArgumentError('a comma-separated list of zone names, e.g. a,b,c');
  return zones;
}

function share(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('a share greater than 0 and at most 1, e.g. 0.8');
  return n;
}

interface Flags {
  instances: number;
  failure: DemoFailure;
  observers: number;
  partition?: number;
  partitionMs: number;
  selfCheck: boolean;
  strictRails?: boolean;
  rounds: number;
  intervalMs: number;
  unhealthyThreshold: number;
  probeTimeoutMs?: number;
  mass?: number;
  maxUnhealthyShare: number;
  exitNoticeMs: number;
  shutdownMs: number;
  roundTimeoutMs: number;
  startTimeoutMs: number;
  command?: string;
  zones?: string[];
  zone?: string;
  json: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .summary('heal a local group on this machine through the whole chain (no AWS account needed)')
    .description(
      [
        'Heal a local group on this machine, no AWS account needed: instance processes, the prober publishing to an SNS topic, an SQS queue (fauxqs, in-process, loopback only), the bridge and the core. Each round injects a failure and prints the recovery timeline stage by stage; a summary follows.',
        'Observers: --observers N probers (default 3), each with its own name, publish to the topic; the core marks only when 2 of them agree within 30 s (quorum 2; with --observers 1 the quorum is 1 and one observer marks alone). Each observer checks itself first (its loop late? every target failing at once? then it is cut off) and withholds unhealthy verdicts while degraded. --failure observer-partition cuts one observer off from the healthy group for --partition-ms: nothing may be marked (with one observer: no more than the budget). --failure observer-blind cuts it off from the start, so it never sees the group answer (a wrong security group, port or path): it reports the group unreachable instead of voting against it. --partition K cuts K observers off during any failure: the others still heal it. The cut is an injected black hole (the observer\'s checks to the group time out); the output says so. The JSON lists falseMarks (instances marked that the demo never failed) and their count.',
        'With --mass, most of the group fails at once: only the unhealthy budget (--max-unhealthy-share) is marked at a time, the rest are skipped with reason budgetSpent, and the group heals in waves.',
        'Zones: --zones a,b,c spreads the instances over zones as Auto Scaling balances a group (each launch to the zone with the fewest serving instances); the healer sees each instance\'s zone, and the timeline names it. --zone a fails every instance of zone a at once each round (with --failure freeze, crash or sick; not with --mass), to see what the rails do with a zone that goes down.',
        'Evidence: each round shows, for every instance that was replaced, the verdict that marked it, how its process ended and its last output lines (stdout and stderr); --json has them as rounds[].evidence, and `autoheal history --file` shows them under each mark.',
        'Ctrl-C stops cleanly (no process or port is left behind), also during start-up; a second Ctrl-C kills every instance at once. No instance outlives the demo even when it is killed with SIGKILL: a reaper process kills them all, frozen ones and --command ones included.',
        'An instance that exits, or does not listen within --start-timeout-ms, before the group first stands ends the demo at once with a message naming the command and what happened (exit code 2).',
        'Exit codes: 0 every round healed, 1 a round did not heal or the demo was interrupted, 2 bad usage or start-up failure.',
      ].join('\n\n'),
    )
    .option('--instances <n>', 'instances in the local group', integer(1, maxLocalInstances), demoDefaults.instances)
    .addOption(
      new Option('--failure <mode>', 'freeze (SIGSTOP), crash (SIGKILL), sick (/health answers 503), observer-partition (one observer cut off, instances healthy), or observer-blind (one observer never reaches the group)')
        .choices(demoFailures)
        .default(demoDefaults.failure),
    )
    .option('--observers <n>', 'observers probing the group (quorum 2; 1 observer: quorum 1)', integer(1, 5), demoDefaults.observers)
    .option('--partition <k>', 'cut k observers off from the group during the failure (at most observers - 1)', integer(0, 4))
    .option('--partition-ms <ms>', 'how long --failure observer-partition or observer-blind runs', integer(1_000, 600_000), demoDefaults.partitionMs)
    .option('--no-self-check', "turn the observers' self-check off (to see the core's rails alone)")
    .option('--strict-rails', "keep the core's loop breaker, rate limit and suspicion window as they are (by default a drill of instance failures relaxes them: it fails fresh instances round after round on purpose)")
    .option('--rounds <n>', 'rounds of inject-and-heal', integer(1, 1000), demoDefaults.rounds)
    .option('--interval-ms <ms>', 'probe interval', integer(50, 60_000), demoDefaults.intervalMs)
    .option('--probe-timeout-ms <ms>', 'a probe not answered within this failed (default: 80, or 80% of a shorter interval)', integer(10, 60_000))
    .option('--unhealthy-threshold <n>', 'consecutive failed probes that make an instance unhealthy', integer(1, 10), demoDefaults.unhealthyThreshold)
    .option('--mass <share>', 'fail this share of the group at once (e.g. 0.8) to see the unhealthy budget at work', share)
    .option('--max-unhealthy-share <share>', 'the unhealthy budget: share of the group that may be marked at once', share, demoDefaults.maxUnhealthyShare)
    .option('--exit-notice-ms <ms>', "how long the group's own check takes to notice an exited process", integer(0, 3_600_000), demoDefaults.exitNoticeMs)
    .option('--shutdown-ms <ms>', 'how long a Terminating instance keeps running (EC2 shutdown, shortened)', integer(0, 60_000), demoDefaults.shutdownMs)
    .option('--round-timeout-ms <ms>', 'a round not healed by then counts as not healed', integer(1_000, 3_600_000), demoDefaults.roundTimeoutMs)
    .option('--start-timeout-ms <ms>', 'an instance not listening on its port by then failed to start', integer(100, 600_000), demoDefaults.startTimeoutMs)
    .option('--command <cmd>', 'run this shell command as each instance instead of the built-in server (listen on 127.0.0.1:$PORT)')
    .option('--zones <list>', 'spread the instances over these zones, e.g. a,b,c (as Auto Scaling balances a group)', zoneList)
    .option('--zone <name>', 'fail every instance of this zone at once each round (one of --zones)')
    .option('--json', 'print one JSON document on stdout: every round with each stage in ms, the instance ids, healed, and the evidence of each replaced instance', false)
    .action(async (flags: Flags) => {
      const logger = createLogger({ component: 'demo', level: (process.env.LOG_LEVEL as 'info' | undefined) ?? 'warn' });
      const view = flags.json ? undefined : createDemoView(process.stdout, process.stdout.isTTY === true);
      const abort = new AbortController();
      let group: LocalGroup | undefined;
      const removeSignals = onStopSignals({
        drain: (name) => {
          process.stderr.write(`autoheal demo: ${name}: stopping (again to force)\n`);
          abort.abort(new Error(`interrupted by ${name}`));
        },
        // Forced: no more waiting for anyone.
        force: () => group?.killNow(),
      });

      const options: DemoOptionsInput = {
        instances: flags.instances,
        failure: flags.failure,
        observers: flags.observers,
        partitionMs: flags.partitionMs,
        selfCheck: flags.selfCheck,
        ...(flags.strictRails ? { drillRails: false } : {}),
        ...(flags.partition !== undefined ? { partition: flags.partition } : {}),
        rounds: flags.rounds,
        intervalMs: flags.intervalMs,
        unhealthyThreshold: flags.unhealthyThreshold,
        maxUnhealthyShare: flags.maxUnhealthyShare,
        exitNoticeMs: flags.exitNoticeMs,
        shutdownMs: flags.shutdownMs,
        roundTimeoutMs: flags.roundTimeoutMs,
        startTimeoutMs: flags.startTimeoutMs,
        ...(flags.mass !== undefined ? { mass: flags.mass } : {}),
        ...(flags.probeTimeoutMs !== undefined ? { probeTimeoutMs: flags.probeTimeoutMs } : {}),
        ...(flags.command !== undefined ? { command: flags.command } : {}),
        ...(flags.zones !== undefined ? { zones: flags.zones } : {}),
        ...(flags.zone !== undefined ? { zone: flags.zone } : {}),
      };
      try {
        const result = await runDemo(options, {
          signal: abort.signal,
          logger,
          onReady: (parts, parsed) => {
            group = parts.group;
            view?.ready(parts, parsed);
          },
          onRoundStart: (round, injections) => view?.roundStart(round, flags.rounds, injections),
          onRoundEnd: (round) => view?.roundEnd(round),
        });
        view?.close();
        if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else view?.summary(result);
        if (!flags.json && result.decisionsFile) process.stdout.write(`\nevery decision: autoheal history --file ${result.decisionsFile}\n`);
        process.exitCode = result.healed ? ExitCode.ok : ExitCode.noResult;
      } finally {
        view?.close();
        removeSignals();
      }
    });
}
