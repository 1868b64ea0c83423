import { z } from 'zod';
import { defaultAlarmPrefix } from '../config.js';
import { ConfigError } from '../errors.js';

export { defaultAlarmPrefix };

/** CloudWatch accepts these periods for high-resolution metrics, and any multiple of 60 seconds. */
export const shortPeriodsSeconds = [10, 20, 30] as const;

/** PutMetricAlarm: EvaluationPeriods × Period must not exceed one day. */
export const maxEvaluationSeconds = 86_400;

/**
 * Settings of the alarm manager. The defaults are the original design's alarm: StatusCheckFailed,
 * Maximum, period 60 s, 2 evaluation periods, >= 1. Unknown keys are rejected.
 */
export const alarmOptionsSchema = z
  .object({
    /** Alarm names are `${prefix}${instanceId}`; default `autoheal-status-check-`. */
    prefix: z.string().min(1).max(200).default(defaultAlarmPrefix),
    /** The metric's period; 10, 20, 30 or a multiple of 60 seconds. Default 60. */
    periodSeconds: z
      .number()
      .int()
      .positive()
      .refine((s) => (shortPeriodsSeconds as readonly number[]).includes(s) || s % 60 === 0, {
        message: `must be ${shortPeriodsSeconds.join(', ')} or a multiple of 60`,
      })
      .default(60),
    /** Consecutive breaching periods before ALARM; default 2. */
    evaluationPeriods: z.number().int().min(1).default(2),
    /**
     * ALARM when the period's Maximum of StatusCheckFailed is >= this; default 1. StatusCheckFailed
     * is 0 or 1, so only 0 < threshold <= 1 means anything: 0 alarms on every healthy instance
     * (and churns the group), above 1 never fires.
     */
    threshold: z
      .number()
      .gt(0, { message: 'must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= 0 alarms on every instance' })
      .lte(1, { message: 'must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire' })
      .default(1),
    /**
     * SNS topic ARNs the alarms notify on ALARM (the alert topic). Unset: new alarms notify no one,
     * and existing alarms keep the actions they have — a sync never removes actions it was not
     * asked to change.
     */
    alarmActions: z.array(z.string().startsWith('arn:')).max(5).optional(),
    /**
     * `per-instance` (default): one alarm per instance, kept in sync with the group.
     * `metrics-insights`: one multi-time-series alarm per group (`${prefix}group-${groupName}`),
     * each instance a contributor; see the README for the trade-off.
     */
    mode: z.enum(['per-instance', 'metrics-insights']).default('per-instance'),
  })
  .strict()
  .refine((o) => o.periodSeconds * o.evaluationPeriods <= maxEvaluationSeconds, {
    message: `periodSeconds × evaluationPeriods must not exceed ${maxEvaluationSeconds} seconds (one day)`,
  })
  // Metrics Insights has no high-resolution data: a shorter period would silently be one minute.
  .refine((o) => o.mode !== 'metrics-insights' || o.periodSeconds % 60 === 0, {
    message: 'must be a multiple of 60 in metrics-insights mode (Metrics Insights has no high-resolution data)',
    path: ['periodSeconds'],
  });

export type AlarmOptions = z.output<typeof alarmOptionsSchema>;
export type AlarmOptionsInput = z.input<typeof alarmOptionsSchema>;

/** Validates alarm options once; the error names each bad option. */
export function parseAlarmOptions(input: AlarmOptionsInput = {}): AlarmOptions {
  const parsed = alarmOptionsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`alarm options: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
