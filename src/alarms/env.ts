/**
 * The alarm manager's settings from the Lambda's environment. The prefix and topic use the names
 * the Lambda config agreed on (autohealEnv); the alarm's shape has its own variables, which the CDK
 * construct sets from its props. Unset or empty variables keep the defaults of alarmOptionsSchema.
 */
import { envReader } from '../env.js';
import { ConfigError } from '../errors.js';
import { autohealEnv } from '../config.js';
import { alarmOptionsSchema, type AlarmOptionsInput } from './options.js';

/** Environment variables of the alarm manager beyond the ones in autohealEnv. */
export const alarmEnv = {
  /** The alarm's period in seconds (default 60). */
  periodSeconds: 'AUTOHEAL_ALARM_PERIOD_SECONDS',
  /** Consecutive breaching periods before ALARM (default 2). */
  evaluationPeriods: 'AUTOHEAL_ALARM_EVALUATION_PERIODS',
  /** ALARM when Maximum(StatusCheckFailed) >= this (default 1). */
  threshold: 'AUTOHEAL_ALARM_THRESHOLD',
  /** `per-instance` (default) or `metrics-insights`. */
  mode: 'AUTOHEAL_ALARM_MODE',
} as const;

/** Reads the alarm options from the environment; validate the result with parseAlarmOptions. */
export function alarmOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AlarmOptionsInput {
  const problems: string[] = [];
  const { read, number } = envReader(env, problems);
  const options: AlarmOptionsInput = {};
  const prefix = read(autohealEnv.alarmPrefix);
  if (prefix !== undefined) options.prefix = prefix;
  const topic = read(autohealEnv.alarmTopicArn);
  if (topic !== undefined) options.alarmActions = [topic];
  const period = number(alarmEnv.periodSeconds);
  if (period !== undefined) options.periodSeconds = period;
  const evaluations = number(alarmEnv.evaluationPeriods);
  if (evaluations !== undefined) options.evaluationPeriods = evaluations;
  const threshold = number(alarmEnv.threshold);
  if (threshold !== undefined) options.threshold = threshold;
  const mode = read(alarmEnv.mode);
  if (mode !== undefined) {
    if (mode === 'per-instance' || mode === 'metrics-insights') options.mode = mode;
    else problems.push(`${alarmEnv.mode}: expected "per-instance" or "metrics-insights", got "${mode}"`);
  }
  // The schema's rules, named by the variable that set them (the Lambda refuses to start on them).
  const checked = alarmOptionsSchema.safeParse(options);
  if (!checked.success) {
    const byKey: Record<string, string> = { ...alarmEnv, prefix: autohealEnv.alarmPrefix, alarmActions: autohealEnv.alarmTopicArn };
    for (const issue of checked.error.issues) problems.push(`${byKey[String(issue.path[0])] ?? String(issue.path[0] ?? 'alarm')}: ${issue.message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return options;
}
