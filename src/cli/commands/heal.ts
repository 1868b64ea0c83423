/**
 * `autoheal heal [FILE|-] [--dry-run]`: run one event through the whole core against the real
 * Auto Scaling API (createHealer with AwsFleet and AwsAlarmState), and print every verdict as
 * JSON on stdout. This file only reads flags and environment and builds the clients.
 *
 * Config order: flags > environment (the Lambda's AUTOHEAL_* variables, read by
 * src/lambda/config.ts) > defaults. AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL apply as in
 * every AWS SDK.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Command } from 'commander';
import { awsClientSettings } from '../../aws-config.js';
import { AwsAlarmState } from '../../fleet/aws/alarm-state.js';
import { AwsFleet } from '../../fleet/aws/fleet.js';
import { createHealer } from '../../healer/healer.js';
import type { HealReport, VerdictRecord } from '../../healer/types.js';
import { lambdaConfigFromEnv, lambdaEnv } from '../../lambda/config.js';
import { capList, createLogger, maxItemsPerEvent } from '../../log.js';
import type { PolicyOptions } from '../../policy/options.js';
import { ExitCode } from '../exit-codes.js';
import { maxInputBytes, readEventText } from '../input.js';
import { groupsFlag, policyFromFlags } from '../policy-flags.js';

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
}

/** What `heal` runs with, after flags were laid over the environment and validated. */
export interface HealSettings {
  policy: PolicyOptions;
  dryRun: boolean;
  respectGracePeriod: boolean;
  region?: string;
}

/** Lays the flags over the Lambda's environment configuration; throws a ConfigError naming each bad flag or variable. */
export function resolveHealSettings(flags: HealFlags, env: NodeJS.ProcessEnv = process.env): HealSettings {
  const fromEnv = lambdaConfigFromEnv(env);
  const number = (text: string | undefined): number | undefined =>
    text === undefined ? undefined : text.trim() === '' ? Number.NaN : Number(text);
  const policy = policyFromFlags(fromEnv.policy, {
    maxUnhealthyShare: number(flags.maxUnhealthyShare),
    staleAfterMs: number(flags.staleAfterMs),
    groups: flags.groups === undefined ? undefined : groupsFlag(flags.groups),
    optInTag: flags.optInTag,
  });
  return {
    policy,
    dryRun: flags.dryRun === true || fromEnv.dryRun,
    // --no-respect-grace-period wins; otherwise AUTOHEAL_RESPECT_GRACE_PERIOD decides.
    respectGracePeriod: flags.respectGracePeriod === false ? false : fromEnv.respectGracePeriod,
    ...(flags.region ? { region: flags.region } : {}),
  };
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
  const aws = awsClientSettings(settings.region);
  const autoScaling = new AutoScalingClient(aws);
  const cloudWatch = new CloudWatchClient(aws);
  try {
    const healer = createHealer({
      fleet: new AwsFleet(autoScaling),
      alarms: new AwsAlarmState(cloudWatch),
      policy: settings.policy,
      dryRun: settings.dryRun,
      respectGracePeriod: settings.respectGracePeriod,
      logger: createLogger({ component: 'heal' }),
    });
    // Lifecycle events are listed, not acted on here: `autoheal alarms sync` keeps the alarms.
    const { output, exitCode } = renderHealReport(await healer.handle(text));
    process.stdout.write(output);
    return exitCode;
  } finally {
    autoScaling.destroy();
    cloudWatch.destroy();
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
          `${[lambdaEnv.maxUnhealthyShare, lambdaEnv.optInTag, lambdaEnv.groups, lambdaEnv.dryRun, lambdaEnv.respectGracePeriod, lambdaEnv.staleAfterMs, lambdaEnv.logLevel].join(', ')}. ` +
          'AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL(_AUTO_SCALING|_CLOUDWATCH) apply as in every AWS SDK. ' +
          'IAM: autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups, ' +
          'autoscaling:SetInstanceHealth (not with --dry-run), cloudwatch:DescribeAlarms (stale evidence).',
        `Exit codes: ${ExitCode.ok} every signal was decided and every mark succeeded (skips count as handled); ` +
          `${ExitCode.noResult} the event carried no health signal (nothing about an instance, or only launch/terminate), or some work failed (the verdict carries "error"); ` +
          `${ExitCode.usage} the input cannot be read or a flag or variable is invalid.`,
      ].join('\n\n'),
    )
    .option('--dry-run', `decide and print, never call SetInstanceHealth (default: ${lambdaEnv.dryRun} or false)`)
    .option('--max-unhealthy-share <x>', 'share of a group\'s desired capacity that may be Unhealthy at once, 0 < x <= 1 (default: 0.4)')
    .option('--opt-in-tag <key=value>', 'the tag that opts a group in (default: autoheal:enabled=true)')
    .option('--groups <names>', 'comma-separated groups managed without the tag (default: none)')
    .option('--stale-after-ms <ms>', 'alarm evidence older than this is re-checked before acting (default: 120000)')
    .option('--no-respect-grace-period', 'send ShouldRespectGracePeriod=false (default: respect it)')
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  autoheal heal --dry-run event.json\n' +
        '  aws sqs receive-message --queue-url "$URL" --query \'Messages[0].Body\' --output text | autoheal heal -\n',
    )
    .action(async (file: string, flags: HealFlags) => {
      process.exitCode = await runHeal(file, flags);
    });
}
