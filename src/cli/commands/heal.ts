/**
 * `autoheal heal [FILE|-] [--dry-run]`: run one event through the whole core against the real
 * Auto Scaling API (the AWS composition root, src/runtime/aws.ts), and print every verdict as
 * JSON on stdout. This file only reads flags and builds the healer.
 *
 * Config order (src/config.ts): flags > environment (AUTOHEAL_*) > defaults. AWS_REGION,
 * AWS_PROFILE and AWS_ENDPOINT_URL apply as in every AWS SDK.
 *
 * With a ledger table (AUTOHEAL_LEDGER_TABLE, --ledger-table) every `heal` process shares the
 * rails' memory with every other healer: votes meet, and the budget and the rate limit hold
 * across processes. Without one, each process keeps its own, and says so once.
 */
import type { Command } from 'commander';
import { awsTimeoutEnv } from '../../aws/settings.js';
import { autohealEnv, resolveSettings, type Settings } from '../../config.js';
import type { HealReport, VerdictRecord } from '../../healer/types.js';
import { capList, createLogger, maxItemsPerEvent } from '../../log.js';
import { openAwsHealer } from '../../runtime/aws-commands.js';
import { ExitCode } from '../exit-codes.js';
import { maxInputBytes, readEventText } from '../input.js';

/** The flags as commander hands them over. */
export interface HealFlags {
  dryRun?: boolean;
  maxUnhealthyShare?: string;
  optInTag?: string;
  groups?: string;
  staleAfterMs?: string;
  /** false with --no-respect-grace-period. */
  respectGracePeriod?: boolean;
  region?: string;
  ledgerTable?: string;
}

/** What `heal` runs with, after flags were laid over the environment and validated. */
export type HealSettings = Settings & { region?: string };

/** Lays the flags over the environment; throws a ConfigError naming each bad flag or variable. */
export function resolveHealSettings(flags: HealFlags, env: NodeJS.ProcessEnv = process.env): HealSettings {
  const settings = resolveSettings(
    {
      ...(flags.maxUnhealthyShare !== undefined ? { maxUnhealthyShare: flags.maxUnhealthyShare } : {}),
      ...(flags.staleAfterMs !== undefined ? { staleAfterMs: flags.staleAfterMs } : {}),
      ...(flags.groups !== undefined ? { groups: flags.groups } : {}),
      ...(flags.optInTag !== undefined ? { optInTag: flags.optInTag } : {}),
      ...(flags.dryRun === true ? { dryRun: true } : {}),
      // --no-respect-grace-period wins; otherwise AUTOHEAL_RESPECT_GRACE_PERIOD decides.
      ...(flags.respectGracePeriod === false ? { respectGracePeriod: false } : {}),
      ...(flags.ledgerTable !== undefined ? { ledgerTable: flags.ledgerTable } : {}),
    },
    env,
  );
  return { ...settings, ...(flags.region ? { region: flags.region } : {}) };
}

/** One verdict as `heal` prints it. */
export interface HealVerdictOutput {
  instanceId: string;
  group: string | null;
  action: 'mark' | 'skip';
  /** The Reason key (`unhealthy`, `budgetSpent`, …); `detail` says why in words. */
  reason: string;
  detail?: string;
  source: string;
  eventId: string;
  /** The verdict was mark, and dry-run kept SetInstanceHealth from being called. */
  dryRun: boolean;
  error?: string;
  ms: number;
}

function verdictOutput(v: VerdictRecord): HealVerdictOutput {
  return {
    instanceId: v.signal.instanceId,
    group: v.groupName ?? null,
    action: v.verdict.action,
    reason: v.verdict.reason,
    ...(v.verdict.detail !== undefined ? { detail: v.verdict.detail } : {}),
    source: v.signal.source,
    eventId: v.signal.eventId,
    dryRun: v.dryRun,
    ...(v.error !== undefined ? { error: v.error } : {}),
    ms: v.ms,
  };
}

/**
 * The JSON `heal` prints for one report, and its exit code. Every verdict is listed (each is an
 * action or a decision about one instance); at most {@link maxItemsPerEvent} rejections are,
 * and `rejectedOmitted` counts the rest.
 */
export function renderHealReport(report: HealReport): { output: string; exitCode: number } {
  const rejected = capList(report.rejected);
  const out = {
    verdicts: report.verdicts.map(verdictOutput),
    ...(report.lifecycle.length > 0 ? { lifecycle: report.lifecycle } : {}),
    rejected: rejected.items,
    ...(rejected.omitted > 0 ? { rejectedOmitted: rejected.omitted } : {}),
  };
  const failed = report.verdicts.some((v) => v.error !== undefined);
  return {
    output: `${JSON.stringify(out, null, 2)}\n`,
    exitCode: report.verdicts.length === 0 || failed ? ExitCode.noResult : ExitCode.ok,
  };
}

/** Reads, heals and prints; resolves with the exit code. Bad input or settings throw a ConfigError (exit 2 in main.ts). */
export async function runHeal(file: string, flags: HealFlags): Promise<number> {
  const text = await readEventText(file);
  const settings = resolveHealSettings(flags);
  const { healer, close } = openAwsHealer(settings, { ...(settings.region ? { region: settings.region } : {}), logger: createLogger({ component: 'heal' }) });
  try {
    // Lifecycle events are listed, not acted on here: `autoheal alarms sync` keeps the alarms.
    const { output, exitCode } = renderHealReport(await healer.handle(text));
    process.stdout.write(output);
    return exitCode;
  } finally {
    close();
  }
}

export function register(program: Command): void {
  program
    .command('heal')
    .argument('[file]', 'the event: a JSON file, or - (the default) for stdin', '-')
    .summary('run one event through the core against Auto Scaling and print each verdict')
    .description(
      [
        'Reads one event (any input `autoheal explain` understands), decides for each instance it names ' +
          'with the same policy as the Lambda healer (opt-in tag or named group, InService, grace period, ' +
          'stale evidence re-checked in CloudWatch, the unhealthy budget), and marks it Unhealthy with ' +
          'SetInstanceHealth unless --dry-run. Prints JSON {"verdicts":[...],"rejected":[...]} on stdout ' +
          '(each verdict: instanceId, group, action, reason, detail, source, eventId, dryRun, error?, ms); ' +
          '"lifecycle" is added for launch/terminate events, which are listed but not acted on. At most ' +
          `${maxItemsPerEvent} rejections are listed; "rejectedOmitted" counts the others. Logs are ` +
          `JSON lines on stderr. Input: at most ${maxInputBytes} bytes.`,
        'Config order: flags > environment > defaults. Environment: the Lambda healer\'s ' +
          `${[autohealEnv.maxUnhealthyShare, autohealEnv.optInTag, autohealEnv.groups, autohealEnv.dryRun, autohealEnv.respectGracePeriod, autohealEnv.staleAfterMs, autohealEnv.logLevel].join(', ')}. ` +
          'AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL(_AUTO_SCALING|_EC2|_CLOUDWATCH) apply as in every AWS SDK; ' +
          `${awsTimeoutEnv} bounds each AWS call (default 10000 ms per attempt, three times that with retries). ` +
          'IAM: autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups, ' +
          'autoscaling:SetInstanceHealth (not with --dry-run), cloudwatch:DescribeAlarms (stale evidence); ' +
          'with a ledger table dynamodb:GetItem and dynamodb:PutItem on it.',
        `Exit codes: ${ExitCode.ok} every signal was decided and every mark succeeded (skips count as handled); ` +
          `${ExitCode.noResult} the event carried no health signal (nothing about an instance, or only launch/terminate), or some work failed (the verdict carries "error"); ` +
          `${ExitCode.usage} the input cannot be read or a flag or variable is invalid.`,
      ].join('\n\n'),
    )
    .option('--dry-run', `decide and print, never call SetInstanceHealth (default: ${autohealEnv.dryRun} or false)`)
    .option('--max-unhealthy-share <x>', 'share of a group\'s desired capacity that may be Unhealthy at once, 0 < x <= 1 (default: 0.4)')
    .option('--opt-in-tag <key=value>', 'the tag that opts a group in (default: autoheal:enabled=true)')
    .option('--groups <names>', 'comma-separated groups managed without the tag (default: none)')
    .option('--stale-after-ms <ms>', 'alarm evidence older than this is re-checked before acting (default: 120000)')
    .option('--no-respect-grace-period', 'send ShouldRespectGracePeriod=false (default: respect it)')
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .option('--ledger-table <name>', `the DynamoDB table of the rails' ledger, shared by every healer (default: ${autohealEnv.ledgerTable}, or none: this process only)`)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  autoheal heal --dry-run event.json\n' +
        '  autoheal heal --ledger-table autoheal-ledger event.json\n' +
        '  aws sqs receive-message --queue-url "$URL" --query \'Messages[0].Body\' --output text | autoheal heal -\n',
    )
    .action(async (file: string, flags: HealFlags) => {
      process.exitCode = await runHeal(file, flags);
    });
}
