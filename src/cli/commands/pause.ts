/**
 * `autoheal pause GROUP [--for 2h | --until ISO]` and `autoheal resume GROUP`: the operator's
 * switches, written as the group tags the healer reads (src/policy/decide.ts, rails.ts):
 *
 * - pause writes `autoheal:paused` = `true` (until removed) or an ISO 8601 end time: every mark of
 *   the group is skipped with reason `paused`, and held until it ends;
 * - resume deletes `autoheal:paused` and writes `autoheal:resumed-at` = now: a freeze or
 *   loop-breaker hold that began before it is lifted (held work is decided again on the next
 *   scheduled run, or the next alarm).
 *
 * The tag keys follow the settings (AUTOHEAL_* environment as the healer has it; defaults above).
 */
import type { Command } from 'commander';
import { autoScalingClient, createOrUpdateTags, deleteTags, type AutoScalingClient } from '../../aws/autoscaling.js';
import { resolveSettings } from '../../config.js';
import { ConfigError, describeError } from '../../errors.js';
import { AwsFleet } from '../../fleet/aws/fleet.js';
import { ExitCode } from '../exit-codes.js';
import { timeFlag } from './history.js';

export interface PauseFlags {
  for?: string;
  until?: string;
  region?: string;
}

/** The pause tag's value: `true`, or the end as ISO 8601. */
export function pauseValue(flags: PauseFlags, nowMs: number): string {
  if (flags.for !== undefined && flags.until !== undefined) throw new ConfigError('--for and --until: give one of them');
  if (flags.for !== undefined) {
    const m = /^(\d+)([smhd])$/.exec(flags.for.trim());
    if (!m) throw new ConfigError(`--for: expected a duration such as 30m, 2h or 1d, got "${flags.for}"`);
    // timeFlag reads a duration as "that long ago": mirror it forward.
    const endMs = 2 * nowMs - timeFlag('--for', flags.for, nowMs);
    // A pause that has already ended would say "paused" and pause nothing.
    if (endMs <= nowMs) throw new ConfigError(`--for: must be longer than 0, got "${flags.for}" (a pause that has already ended pauses nothing)`);
    return new Date(endMs).toISOString();
  }
  if (flags.until !== undefined) {
    const ms = Date.parse(flags.until);
    if (Number.isNaN(ms) || ms <= nowMs) throw new ConfigError(`--until: expected an ISO 8601 time in the future, got "${flags.until}"`);
    return new Date(ms).toISOString();
  }
  return 'true';
}

async function withGroup(group: string, region: string | undefined, client: AutoScalingClient | undefined, work: (c: AutoScalingClient) => Promise<string>): Promise<number> {
  const used = client ?? autoScalingClient({ region });
  try {
    const [found] = await new AwsFleet(used).describeGroups([group]);
    if (!found) throw new ConfigError(`Auto Scaling group "${group}" not found`);
    process.stdout.write(`${await work(used)}\n`);
    return ExitCode.ok;
  } catch (error) {
    process.stderr.write(`autoheal: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  } finally {
    if (!client) used.destroy();
  }
}

export async function runPause(group: string, flags: PauseFlags, client?: AutoScalingClient, nowMs: number = Date.now()): Promise<number> {
  let value: string;
  let key: string;
  try {
    value = pauseValue(flags, nowMs);
    key = resolveSettings().policy.pauseTagKey;
  } catch (error) {
    process.stderr.write(`autoheal pause: ${describeError(error)}\n`);
    return ExitCode.usage;
  }
  return withGroup(group, flags.region, client, async (c) => {
    await createOrUpdateTags(c, group, { [key]: value });
    return `paused ${group}: ${key}=${value}${value === 'true' ? ' (until `autoheal resume`)' : ''}`;
  });
}

export async function runResume(group: string, flags: Pick<PauseFlags, 'region'>, client?: AutoScalingClient, nowMs: number = Date.now()): Promise<number> {
  let policy;
  try {
    policy = resolveSettings().policy;
  } catch (error) {
    process.stderr.write(`autoheal resume: ${describeError(error)}\n`);
    return ExitCode.usage;
  }
  const at = new Date(nowMs).toISOString();
  return withGroup(group, flags.region, client, async (c) => {
    await deleteTags(c, group, [policy.pauseTagKey]);
    await createOrUpdateTags(c, group, { [policy.resumeTagKey]: at });
    return `resumed ${group}: ${policy.pauseTagKey} removed, ${policy.resumeTagKey}=${at} (frozen, loopBreaker and frozenUntilResume holds that began before it are lifted)`;
  });
}

export function register(program: Command): void {
  program
    .command('pause')
    .summary('pause healing of a group (tag autoheal:paused)')
    .description(
      'Writes the group tag autoheal:paused: `true` (until `autoheal resume`), or the end time with --for/--until. While it holds, every mark of the group is skipped with reason paused. IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:CreateOrUpdateTags. Exit codes: 0 done, 1 an AWS call failed, 2 bad flags or no such group.',
    )
    .argument('<group>', 'the Auto Scaling group')
    .option('--for <duration>', 'pause for this long (30m, 2h, 1d)')
    .option('--until <time>', 'pause until this ISO 8601 time')
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (group: string, flags: PauseFlags) => {
      process.exitCode = await runPause(group, flags);
    });
  program
    .command('resume')
    .summary('resume healing of a group: remove autoheal:paused, lift frozen, loopBreaker and frozenUntilResume holds (autoheal:resumed-at)')
    .description(
      'Deletes the group tag autoheal:paused and writes autoheal:resumed-at = now: a freeze or loop-breaker hold that began before it is lifted. Held instances are decided again on the next scheduled run. IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:DeleteTags, autoscaling:CreateOrUpdateTags. Exit codes: 0 done, 1 an AWS call failed, 2 no such group.',
    )
    .argument('<group>', 'the Auto Scaling group')
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (group: string, flags: Pick<PauseFlags, 'region'>) => {
      process.exitCode = await runResume(group, flags);
    });
}
