/**
 * autoheal's settings, resolved in one place for every runtime (the Lambda healer, `heal`,
 * `bridge --local`, `probe`, `status`). The order is written once, here:
 *
 *   flags  >  environment (AUTOHEAL_*)  >  defaults (the policy schema's, and the ones below)
 *
 * The CDK construct and the Terraform module write the same environment ({@link autohealEnv}).
 * Unset or empty variables take the defaults; anything set but not understood — a dry-run of
 * `yes`, a share of `40%` — is refused with a message naming the flag or variable, so nothing
 * ever runs on a silent default (fail closed).
 */
import { z } from 'zod';
import { envReader } from './env.js';
import { ConfigError } from './errors.js';
import { parseOptInTag, policyOptionsSchema, type PolicyOptions, type PolicyOptionsInput } from './policy/options.js';
import { parseVoters } from './policy/voters.js';
import { replacementModes, type ReplacementMode } from './fleet/replacement.js';

/**
 * The alarm-name prefix autoheal owns: it creates, updates and deletes only alarms whose names start
 * with it. Here, with the other defaults, because settings and the alarm manager both read it.
 */
export const defaultAlarmPrefix = 'autoheal-status-check-';

/** The environment variables autoheal reads. */
export const autohealEnv = {
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
  /** Marks per group per rate window (default: twice the group's budget). */
  maxMarksPerWindow: 'AUTOHEAL_MAX_MARKS_PER_WINDOW',
  /** The rate window in milliseconds (default 600000). */
  markRateWindowMs: 'AUTOHEAL_MARK_RATE_WINDOW_MS',
  /** Share of a group (or zone) reported down at once that freezes it (default 0.8). */
  suspicionShare: 'AUTOHEAL_SUSPICION_SHARE',
  /** How long reports count for suspicion, in milliseconds (default 120000). */
  suspicionWindowMs: 'AUTOHEAL_SUSPICION_WINDOW_MS',
  /** How long a freeze lasts, in milliseconds (default 600000). */
  freezeMs: 'AUTOHEAL_FREEZE_MS',
  /** Freezes in a row, each soon after the last lifted, that hold the group until `autoheal resume` (default 3). */
  escalateAfterFreezes: 'AUTOHEAL_ESCALATE_AFTER_FREEZES',
  /** Young marks within the loop window that hold a group (default 3). */
  loopMarks: 'AUTOHEAL_LOOP_MARKS',
  /** The loop breaker's window in milliseconds (default 1800000). */
  loopWindowMs: 'AUTOHEAL_LOOP_WINDOW_MS',
  /** Observers that must agree before a probe verdict marks (default 2). */
  probeQuorum: 'AUTOHEAL_PROBE_QUORUM',
  /** How long an observer's verdict counts toward the quorum, in milliseconds (default 30000). */
  quorumWindowMs: 'AUTOHEAL_QUORUM_WINDOW_MS',
  /** Prefix of autoheal's per-instance alarms (default `autoheal-status-check-`). */
  alarmPrefix: 'AUTOHEAL_ALARM_PREFIX',
  /** The SNS topic the per-instance alarms notify (used by the alarm manager). */
  alarmTopicArn: 'AUTOHEAL_ALARM_TOPIC_ARN',
  /** The SNS topic notices go to (marks, holds that need a person, silent observers); unset: no notices. */
  noticeTopicArn: 'AUTOHEAL_NOTICE_TOPIC_ARN',
  /**
   * The replacement order the stack sets on its named groups: `launch-before-terminate` or
   * `unchanged` (default). The healer and `status` say when a group's own policy overrides it.
   */
  replacement: 'AUTOHEAL_REPLACEMENT',
  /** The S3 bucket the healer keeps each mark's evidence in (src/operate/evidence.ts); unset: none kept. */
  evidenceBucket: 'AUTOHEAL_EVIDENCE_BUCKET',
  /** With quarantine `retain`: how many of a group's marked instances the evidence function keeps retained at once (default 1). */
  retainAtMost: 'AUTOHEAL_RETAIN_AT_MOST',
  /**
   * The observers whose probe verdicts count: `name,name2`, or with each observer role's unique id
   * `name=AROA…,name2=AROA…` so that only the role the verdict channel proves counts (the stack
   * writes it). Unset: every name counts.
   */
  observers: 'AUTOHEAL_OBSERVERS',
  /**
   * The DynamoDB table of the rails' ledger (`autoheal ledger create`), shared by every healer;
   * unset: each process keeps its own, and the rails hold within that process only.
   */
  ledgerTable: 'AUTOHEAL_LEDGER_TABLE',
  /** pino level: fatal, error, warn, info (default), debug, trace or silent. */
  logLevel: 'LOG_LEVEL',
} as const;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Policy settings read from a number-valued variable or flag. */
const numericPolicyKeys = [
  'maxUnhealthyShare',
  'staleAfterMs',
  'maxMarksPerWindow',
  'markRateWindowMs',
  'suspicionShare',
  'suspicionWindowMs',
  'freezeMs',
  'escalateAfterFreezes',
  'loopMarks',
  'loopWindowMs',
  'probeQuorum',
  'quorumWindowMs',
] as const;
type NumericPolicyKey = (typeof numericPolicyKeys)[number];

/** autoheal's validated settings. */
export interface Settings {
  policy: PolicyOptions;
  dryRun: boolean;
  respectGracePeriod: boolean;
  alarmPrefix: string;
  alarmTopicArn?: string;
  noticeTopicArn?: string;
  evidenceBucket?: string;
  /** The replacement order the stack asks of its groups (src/fleet/replacement.ts). */
  replacement: ReplacementMode;
  /** With quarantine `retain`: retained instances per group at most (the evidence function). */
  retainAtMost?: number;
  /** The DynamoDB table of the rails' ledger; absent: this process's memory. */
  ledgerTable?: string;
  logLevel: (typeof logLevels)[number];
}

/**
 * How many instances of one group quarantine `retain` keeps at most. Each is a whole running
 * instance, billed, outside the group's desired capacity: the ceiling keeps a typo from keeping a fleet.
 */
export const retainAtMostLimits = { default: 1, min: 1, max: 10 } as const;

/** The `retainAtMost` problem of a value, or undefined when it is a whole number within {@link retainAtMostLimits}. */
export function retainAtMostProblem(n: number): string | undefined {
  if (Number.isInteger(n) && n >= retainAtMostLimits.min && n <= retainAtMostLimits.max) return undefined;
  return `must be a whole number from ${retainAtMostLimits.min} to ${retainAtMostLimits.max}, got ${n}`;
}

/** An S3 bucket name as S3 accepts it for new buckets (3-63 lowercase letters, digits, dots, hyphens). */
export const bucketNamePattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Settings given as flags: numbers still as typed (validated here), the opt-in tag as `key=value`. */
export type SettingsFlags = Partial<Record<NumericPolicyKey, string | number>> & {
  groups?: string | string[];
  optInTag?: string;
  dryRun?: boolean;
  respectGracePeriod?: boolean;
  ledgerTable?: string;
  replacement?: string;
};

/** `--max-unhealthy-share` for the option key `maxUnhealthyShare`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `a, b,,c` as `['a', 'b', 'c']`. */
export function listOf(text: string): string[] {
  return text
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
}

/** DynamoDB's rule for table names. */
const tableNamePattern = /^[A-Za-z0-9_.-]{3,255}$/;

/** The ledger table named by `origin`, checked against DynamoDB's naming rule; a problem is added when it breaks it. */
export function ledgerTableOf(text: string | undefined, origin: string, problems: string[]): string | undefined {
  const table = text?.trim();
  if (table === undefined || table === '') return undefined;
  if (!tableNamePattern.test(table)) {
    problems.push(`${origin}: expected a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -), got "${table}"`);
    return undefined;
  }
  return table;
}

/**
 * Resolves the settings: flags over the environment over the defaults. Throws one ConfigError
 * listing every problem, each naming the flag or variable it came from.
 */
export function resolveSettings(flags: SettingsFlags = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const { read, bool, number } = envReader(env, problems);
  const input: PolicyOptionsInput = {};
  /** Where each policy key's value came from, to name it in errors. */
  const origin: Record<string, string> = {};

  for (const key of numericPolicyKeys) {
    const flag = flags[key];
    if (flag !== undefined) {
      const n = typeof flag === 'number' ? flag : flag.trim() === '' ? Number.NaN : Number(flag);
      if (Number.isNaN(n)) problems.push(`${flagOf(key)}: expected a number, got "${flag}"`);
      else input[key] = n;
      origin[key] = flagOf(key);
      continue;
    }
    const fromEnv = number(autohealEnv[key]);
    if (fromEnv !== undefined) input[key] = fromEnv;
    origin[key] = autohealEnv[key];
  }

  const tagText = flags.optInTag ?? read(autohealEnv.optInTag);
  origin.optInTagKey = origin.optInTagValue = flags.optInTag !== undefined ? '--opt-in-tag' : autohealEnv.optInTag;
  if (tagText !== undefined) {
    const tag = parseOptInTag(tagText);
    if ('error' in tag) problems.push(`${origin.optInTagKey}: ${tag.error}`);
    else Object.assign(input, tag);
  }

  const groups = flags.groups ?? read(autohealEnv.groups);
  origin.groups = flags.groups !== undefined ? '--groups' : autohealEnv.groups;
  if (groups !== undefined) input.groups = typeof groups === 'string' ? listOf(groups) : groups;

  const votersText = read(autohealEnv.observers);
  origin.voters = autohealEnv.observers;
  if (votersText !== undefined) {
    const voters = parseVoters(votersText);
    if ('error' in voters) problems.push(`${autohealEnv.observers}: ${voters.error}`);
    else input.voters = voters;
  }

  const policy = policyOptionsSchema.safeParse(input);
  if (!policy.success) {
    for (const issue of policy.error.issues) {
      const key = String(issue.path[0] ?? '');
      problems.push(`${origin[key] ?? key}: ${issue.message}`);
    }
  }

  const logLevelText = read(autohealEnv.logLevel) ?? 'info';
  const logLevel = z.enum(logLevels).safeParse(logLevelText);
  if (!logLevel.success) problems.push(`${autohealEnv.logLevel}: expected one of ${logLevels.join(', ')}, got "${logLevelText}"`);

  const dryRun = flags.dryRun ?? bool(autohealEnv.dryRun, false);
  const respectGracePeriod = flags.respectGracePeriod ?? bool(autohealEnv.respectGracePeriod, true);
  const alarmTopicArn = read(autohealEnv.alarmTopicArn);
  if (alarmTopicArn !== undefined && !alarmTopicArn.startsWith('arn:')) {
    problems.push(`${autohealEnv.alarmTopicArn}: expected an SNS topic ARN (arn:aws:sns:…), got "${alarmTopicArn}"`);
  }

  const noticeTopicArn = read(autohealEnv.noticeTopicArn);
  if (noticeTopicArn !== undefined && !noticeTopicArn.startsWith('arn:')) {
    problems.push(`${autohealEnv.noticeTopicArn}: expected an SNS topic ARN (arn:aws:sns:…), got "${noticeTopicArn}"`);
  }

  const evidenceBucket = read(autohealEnv.evidenceBucket);
  if (evidenceBucket !== undefined && !bucketNamePattern.test(evidenceBucket)) {
    problems.push(`${autohealEnv.evidenceBucket}: expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens), got "${evidenceBucket}"`);
  }
  const replacementText = flags.replacement ?? read(autohealEnv.replacement) ?? 'unchanged';
  const replacement = replacementModes.find((m) => m === replacementText.trim());
  if (replacement === undefined) {
    problems.push(`${flags.replacement !== undefined ? '--replacement' : autohealEnv.replacement}: expected ${replacementModes.join(' or ')}, got "${replacementText}"`);
  }
  const retainAtMost = number(autohealEnv.retainAtMost);
  const retainAtMostIssue = retainAtMost !== undefined ? retainAtMostProblem(retainAtMost) : undefined;
  if (retainAtMostIssue !== undefined) problems.push(`${autohealEnv.retainAtMost}: ${retainAtMostIssue}`);
  const ledgerTable = ledgerTableOf(flags.ledgerTable ?? read(autohealEnv.ledgerTable), flags.ledgerTable !== undefined ? '--ledger-table' : autohealEnv.ledgerTable, problems);

  if (problems.length > 0 || !policy.success || !logLevel.success || replacement === undefined) {
    throw new ConfigError(`invalid settings:\n  ${problems.join('\n  ')}`);
  }
  return {
    policy: policy.data,
    dryRun,
    respectGracePeriod,
    alarmPrefix: read(autohealEnv.alarmPrefix) ?? defaultAlarmPrefix,
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    ...(noticeTopicArn ? { noticeTopicArn } : {}),
    ...(evidenceBucket ? { evidenceBucket } : {}),
    replacement,
    ...(retainAtMost !== undefined ? { retainAtMost } : {}),
    ...(ledgerTable ? { ledgerTable } : {}),
    logLevel: logLevel.data,
  };
}
