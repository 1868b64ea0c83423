/**
 * `autoheal history [--since 12h] [--group NAME] [--json] (--log-group NAME | --file F)`: every
 * decision autoheal made — marks, skips with their reason key, failures — in time order. On AWS
 * from the healer's log group (stack output HealerLogGroupName) through CloudWatch Logs Insights;
 * locally from a JSON-lines file (what `autoheal demo` names at its end, or a captured healer log).
 * The work is in src/operate/history.ts; this file parses flags and prints.
 */
import type { Command } from 'commander';
import { logsClient, type CloudWatchLogsClient } from '../../aws/logs.js';
import { ConfigError, describeError } from '../../errors.js';
import { describeExit } from '../../fleet/local/group-events.js';
import { queryDecisions, readDecisionsFile, type Decision, type HistoryFilter } from '../../operate/history.js';
import { ExitCode } from '../exit-codes.js';

export interface HistoryFlags {
  since: string;
  until?: string;
  group?: string;
  json?: boolean;
  file?: string;
  logGroup?: string;
  region?: string;
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `12h`, `30m`, `2d`, `90s`, or an ISO 8601 time, as milliseconds since the epoch. */
export function timeFlag(flag: string, value: string, nowMs: number): number {
  const relative = /^(\d+)([smhd])$/.exec(value.trim());
  if (relative) return nowMs - Number(relative[1]) * (units[relative[2] as string] as number);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ConfigError(`${flag}: expected a duration such as 12h, 30m, 2d or an ISO 8601 time, got "${value}"`);
  return ms;
}

/** The filter the flags describe. */
export function historyFilter(flags: HistoryFlags, nowMs: number): HistoryFilter {
  const sinceMs = timeFlag('--since', flags.since, nowMs);
  const untilMs = flags.until === undefined ? nowMs : timeFlag('--until', flags.until, nowMs);
  if (sinceMs > untilMs) throw new ConfigError(`--since (${new Date(sinceMs).toISOString()}) is after --until (${new Date(untilMs).toISOString()})`);
  return { sinceMs, untilMs, ...(flags.group !== undefined ? { group: flags.group } : {}) };
}

/** One line per decision; under a mark, the evidence its instance left when it was replaced (a demo's file). */
export function renderHistory(decisions: readonly Decision[]): string {
  if (decisions.length === 0) return 'no decisions in that time\n';
  const lines = decisions.flatMap((d) => {
    const what = d.action === 'failed' ? `FAILED ${d.reason}` : d.action === 'mark' ? `mark${d.dryRun ? ' (dry run)' : ''}` : `skip ${d.reason}`;
    const why = d.error ?? d.detail;
    const e = d.evidence;
    const evidence = e
      ? [
          `${' '.repeat(26)}replaced: ${describeExit(e.exit)}${e.availabilityZone ? ` in zone ${e.availabilityZone}` : ''}; ${e.lastOutput.length === 0 ? 'no output' : 'last output:'}`,
          ...e.lastOutput.map((line) => `${' '.repeat(28)}| ${line}`),
        ]
      : [];
    return [`${d.at}  ${(d.group ?? '-').padEnd(16)}  ${d.instanceId.padEnd(19)}  ${what.padEnd(24)}${why ? `  ${why}` : ''}`, ...evidence];
  });
  return `${lines.join('\n')}\n`;
}

export async function runHistory(flags: HistoryFlags, client?: CloudWatchLogsClient, nowMs: number = Date.now()): Promise<number> {
  let used: CloudWatchLogsClient | undefined;
  try {
    const filter = historyFilter(flags, nowMs);
    if ((flags.file === undefined) === (flags.logGroup === undefined)) {
      throw new ConfigError('name where the decisions are: --log-group NAME (the stack output HealerLogGroupName) or --file F (a demo run\'s decisions), one of them');
    }
    let decisions: Decision[];
    let truncated = false;
    if (flags.file !== undefined) {
      decisions = await readDecisionsFile(flags.file, filter);
    } else {
      used = client ?? logsClient({ region: flags.region });
      ({ decisions, truncated } = await queryDecisions(used, flags.logGroup as string, filter));
    }
    process.stdout.write(flags.json ? `${JSON.stringify({ decisions, truncated }, null, 2)}\n` : renderHistory(decisions));
    if (truncated) process.stderr.write('autoheal history: Logs Insights returned its limit of 10000 rows; narrow --since/--until or --group\n');
    return ExitCode.ok;
  } catch (error) {
    process.stderr.write(`autoheal history: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  } finally {
    if (used && !client) used.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('history')
    .summary('every decision autoheal made (marks, skips with their reason, failures), in time order')
    .description(
      [
        'Lists what the healer decided: each mark, each skip with its reason key (budgetSpent, frozen, inGracePeriod, …) and each failure, oldest first.',
        'On AWS: --log-group NAME (the stack output HealerLogGroupName), read through CloudWatch Logs Insights (StartQuery, GetQueryResults) over the healer\'s "verdict" and "verdict: work failed" lines; at most 10000 decisions per query. IAM: logs:StartQuery, logs:GetQueryResults.',
        'Locally: --file F, the JSON-lines file `autoheal demo` names at its end (or a captured healer log); at most 256 MiB, lines of at most 1 MiB.',
        '--json prints {decisions: [{at, action (mark|skip|failed), reason, group, instanceId, detail, source, eventId, error?, evidence?}], truncated}. evidence, on a mark in a demo\'s file: what the instance left when it was replaced, {at, exit: {code, signal}, lastOutput, availabilityZone?}.',
        `Exit codes: ${ExitCode.ok} printed; ${ExitCode.noResult} the query failed; ${ExitCode.usage} bad flags or an unreadable file.`,
      ].join('\n\n'),
    )
    .option('--since <when>', 'from this long ago (12h, 30m, 2d) or this ISO 8601 time', '12h')
    .option('--until <when>', 'up to this long ago or this ISO 8601 time (default: now)')
    .option('--group <name>', 'only decisions about this Auto Scaling group')
    .option('--json', 'print JSON')
    .option('--log-group <name>', "the healer's log group (stack output HealerLogGroupName)")
    .option('--file <path>', "a demo run's decisions file (JSON lines)")
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (flags: HistoryFlags) => {
      process.exitCode = await runHistory(flags);
    });
}
