/**
 * The Lambda healer's configuration, read once per container from its environment. The CDK
 * construct imports {@link lambdaEnv} to set the same names. Unset or empty variables take the
 * defaults of the policy options; anything set but invalid fails the cold start with a message
 * naming the variable, so a misconfigured function never runs with silent defaults.
 */
import { z } from 'zod';
import { envReader } from '../env.js';
import { ConfigError } from '../errors.js';
import { parseOptInTag, policyOptionsSchema, type PolicyOptions, type PolicyOptionsInput } from '../policy/options.js';

/** The environment variables the Lambda healer reads. */
export const lambdaEnv = {
  /** Share of a group's desired capacity that may be Unhealthy at once, 0 < x <= 1 (default 0.4). */
  maxUnhealthyShare: 'AUTOHEAL_MAX_UNHEALTHY_SHARE',
  /** The opt-in tag as `key=value` (default `autoheal:enabled=true`). */
  optInTag: 'AUTOHEAL_OPT_IN_TAG',
  /** Comma-separated names of groups managed without the tag. */
  groups: 'AUTOHEAL_GROUPS',
  /** `true` to decide and log without calling SetInstanceHealth (default `false`). */
  dryRun: 'AUTOHEAL_DRY_RUN',
  /** `false` to send ShouldRespectGracePeriod=false (default `true`). */
  respectGracePeriod: 'AUTOHEAL_RESPECT_GRACE_PERIOD',
  /** Alarm evidence older than this many milliseconds is re-checked before acting (default 120000). */
  staleAfterMs: 'AUTOHEAL_STALE_AFTER_MS',
  /** Prefix of autoheal's per-instance alarms (default `autoheal-status-check-`). */
  alarmPrefix: 'AUTOHEAL_ALARM_PREFIX',
  /** The SNS topic the per-instance alarms notify (used by the alarm manager). */
  alarmTopicArn: 'AUTOHEAL_ALARM_TOPIC_ARN',
  /** pino level: fatal, error, warn, info (default), debug, trace or silent. */
  logLevel: 'LOG_LEVEL',
} as const;

/** The default prefix of autoheal's per-instance alarms, `${prefix}${instanceId}`. */
export const defaultAlarmPrefix = 'autoheal-status-check-';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The Lambda healer's validated configuration. */
export interface LambdaConfig {
  policy: PolicyOptions;
  dryRun: boolean;
  respectGracePeriod: boolean;
  alarmPrefix: string;
  alarmTopicArn?: string;
  logLevel: (typeof logLevels)[number];
}

/** Reads and validates the configuration; throws one {@link ConfigError} listing every problem. */
export function lambdaConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaConfig {
  const problems: string[] = [];
  const { read, bool, number } = envReader(env, problems);

  const policyInput: PolicyOptionsInput = {};
  const share = number(lambdaEnv.maxUnhealthyShare);
  if (share !== undefined) policyInput.maxUnhealthyShare = share;
  const staleAfterMs = number(lambdaEnv.staleAfterMs);
  if (staleAfterMs !== undefined) policyInput.staleAfterMs = staleAfterMs;
  const tag = read(lambdaEnv.optInTag);
  if (tag !== undefined) {
    const parsed = parseOptInTag(tag);
    if ('error' in parsed) problems.push(`${lambdaEnv.optInTag}: ${parsed.error}`);
    else Object.assign(policyInput, parsed);
  }
  const groups = read(lambdaEnv.groups);
  if (groups !== undefined) policyInput.groups = groups.split(',').map((g) => g.trim()).filter((g) => g !== '');

  // The limits and their messages come from the policy's own schema; only the names are mapped.
  const envOf: Record<string, string> = {
    maxUnhealthyShare: lambdaEnv.maxUnhealthyShare,
    staleAfterMs: lambdaEnv.staleAfterMs,
    optInTagKey: lambdaEnv.optInTag,
    optInTagValue: lambdaEnv.optInTag,
    groups: lambdaEnv.groups,
  };
  const policy = policyOptionsSchema.safeParse(policyInput);
  if (!policy.success) {
    for (const issue of policy.error.issues) problems.push(`${envOf[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`);
  }

  const logLevel = read(lambdaEnv.logLevel) ?? 'info';
  const level = z.enum(logLevels).safeParse(logLevel);
  if (!level.success) problems.push(`${lambdaEnv.logLevel}: expected one of ${logLevels.join(', ')}, got "${logLevel}"`);

  const config = {
    dryRun: bool(lambdaEnv.dryRun, false),
    respectGracePeriod: bool(lambdaEnv.respectGracePeriod, true),
    alarmPrefix: read(lambdaEnv.alarmPrefix) ?? defaultAlarmPrefix,
  };
  const alarmTopicArn = read(lambdaEnv.alarmTopicArn);
  if (alarmTopicArn !== undefined && !alarmTopicArn.startsWith('arn:')) {
    problems.push(`${lambdaEnv.alarmTopicArn}: expected an SNS topic ARN (arn:aws:sns:…), got "${alarmTopicArn}"`);
  }

  if (problems.length > 0 || !policy.success || !level.success) {
    throw new ConfigError(`invalid Lambda configuration:\n  ${problems.join('\n  ')}`);
  }
  return { ...config, policy: policy.data, logLevel: level.data, ...(alarmTopicArn ? { alarmTopicArn } : {}) };
}
