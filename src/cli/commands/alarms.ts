/**
 * `autoheal alarms sync --group NAME [--dry-run]`: create the group's missing StatusCheckFailed
 * alarms and delete orphans, idempotently; prints what it created, updated and deleted as JSON.
 * The work is in src/alarms/; this file reads flags and builds clients.
 */
import { Option, type Command } from 'commander';
import { autoScalingClient, type AutoScalingClient } from '../../aws/autoscaling.js';
import { cloudWatchClient, type CloudWatchClient } from '../../aws/cloudwatch.js';
import { awsTimeoutEnv } from '../../aws/settings.js';
import { createAlarmManager, type SyncReport } from '../../alarms/manager.js';
import { defaultAlarmPrefix, type AlarmOptionsInput } from '../../alarms/options.js';
import { ConfigError, describeError } from '../../errors.js';
import { AwsFleet } from '../../fleet/aws/fleet.js';
import { createLogger } from '../../log.js';
import { ExitCode } from '../exit-codes.js';

/** Flags of `alarms sync`, as commander hands them over. */
export interface AlarmsSyncFlags {
  group: string[];
  dryRun?: boolean;
  prefix?: string;
  topicArn?: string;
  periodSeconds?: string;
  evaluationPeriods?: string;
  threshold?: string;
  mode?: 'per-instance' | 'metrics-insights';
  region?: string;
}

/** The alarm options the flags ask for (validated by the alarm manager, which names each bad one). */
export function alarmOptionsFromFlags(flags: AlarmsSyncFlags): AlarmOptionsInput {
  const num = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));
  const options: AlarmOptionsInput = {};
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  if (flags.topicArn !== undefined) options.alarmActions = [flags.topicArn];
  const period = num(flags.periodSeconds);
  if (period !== undefined) options.periodSeconds = period;
  const evaluations = num(flags.evaluationPeriods);
  if (evaluations !== undefined) options.evaluationPeriods = evaluations;
  const threshold = num(flags.threshold);
  if (threshold !== undefined) options.threshold = threshold;
  if (flags.mode !== undefined) options.mode = flags.mode;
  return options;
}

/** Runs one sync per group with the given clients; returns the reports. */
export async function runAlarmsSync(
  flags: AlarmsSyncFlags,
  clients: { cloudwatch: CloudWatchClient; autoscaling: AutoScalingClient },
): Promise<SyncReport[]> {
  const manager = createAlarmManager({
    cloudwatch: clients.cloudwatch,
    fleet: new AwsFleet(clients.autoscaling),
    options: alarmOptionsFromFlags(flags),
    logger: createLogger({ component: 'alarms' }),
  });
  const reports: SyncReport[] = [];
  for (const group of flags.group) reports.push(await manager.syncGroupAlarms(group, { dryRun: flags.dryRun ?? false }));
  return reports;
}

export function register(program: Command): void {
  const alarms = program
    .command('alarms')
    .summary("manage autoheal's StatusCheckFailed alarms")
    .description("Manage autoheal's StatusCheckFailed alarms: one per instance of each managed group (or one Metrics Insights alarm per group).");
  alarms
    .command('sync')
    .summary("create a group's missing StatusCheckFailed alarms and delete orphans")
    .description(
      [
        'Creates the missing StatusCheckFailed alarms of each group (one per live instance, named PREFIX + instance id), ' +
          'updates those whose settings drifted, and deletes orphans (alarms of the prefix whose instance is in no group ' +
          'any more). Idempotent: a second run changes nothing. With --mode metrics-insights it keeps one Metrics Insights ' +
          'alarm per group (PREFIX + "group-" + group name, each instance a contributor) and removes the per-instance ones.',
        'Prints one JSON report per group on stdout: {group, dryRun, created, updated, deleted, unchanged}.',
        'IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeAutoScalingInstances, cloudwatch:DescribeAlarms, ' +
          'and cloudwatch:PutMetricAlarm and cloudwatch:DeleteAlarms on arn:aws:cloudwatch:REGION:ACCOUNT:alarm:PREFIX*.',
        `Exit codes: ${ExitCode.ok} done; ${ExitCode.usage} bad usage, ${awsTimeoutEnv}, or the group does not exist; ${ExitCode.noResult} an AWS call failed or ` +
          `was not answered in time (${awsTimeoutEnv}, default 10000 ms per attempt, three times that with retries).`,
      ].join('\n\n'),
    )
    .requiredOption('--group <name...>', 'the Auto Scaling group(s) to sync')
    .option('--dry-run', 'print what would change, change nothing')
    .option('--prefix <prefix>', `alarm names are PREFIX + instance id (default: ${defaultAlarmPrefix})`)
    .option('--topic-arn <arn>', 'SNS topic the alarms notify on ALARM (the AutoHeal stack output AlertTopicArn)')
    .option('--period-seconds <s>', 'metric period: 10, 20, 30 or a multiple of 60 (default: 60)')
    .option('--evaluation-periods <n>', 'breaching periods before ALARM (default: 2)')
    .option('--threshold <x>', 'ALARM when Maximum(StatusCheckFailed) >= x (default: 1)')
    .addOption(
      new Option('--mode <mode>', 'one alarm per instance, or one Metrics Insights alarm per group')
        .choices(['per-instance', 'metrics-insights'])
        .default('per-instance'),
    )
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (flags: AlarmsSyncFlags) => {
      const clients = { cloudwatch: cloudWatchClient({ region: flags.region }), autoscaling: autoScalingClient({ region: flags.region }) };
      try {
        const reports = await runAlarmsSync(flags, clients);
        for (const report of reports) process.stdout.write(`${JSON.stringify(report)}\n`);
        process.exitCode = ExitCode.ok;
      } catch (error) {
        process.stderr.write(`autoheal alarms sync: ${describeError(error)}\n`);
        process.exitCode = error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
      } finally {
        clients.cloudwatch.destroy();
        clients.autoscaling.destroy();
      }
    });
}
