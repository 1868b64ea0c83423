/**
 * The app-check function's settings, from the environment the construct (and the Terraform module)
 * writes. Read and validated once at init, so a bad setting fails the cold start naming the variable.
 */
import { isQueueUrl } from '../aws/sqs.js';
import { autohealEnv, ledgerTableOf } from '../config.js';
import { envReader } from '../env.js';
import { ConfigError } from '../errors.js';

/** The environment variables of the app-check function. */
export const appCheckEnv = {
  /** The stack's application status check (`asc-…`). */
  checkId: 'AUTOHEAL_APP_CHECK_ID',
  /** Comma-separated Auto Scaling group names whose instances are read. */
  groups: 'AUTOHEAL_APP_CHECK_GROUPS',
  /** The verdict queue (the channel the observers write). */
  verdictQueueUrl: 'AUTOHEAL_VERDICT_QUEUE_URL',
  /** How often EC2 is read within a run (default 10000: a vote lasts the 30 s quorum window). */
  pollEveryMs: 'AUTOHEAL_APP_CHECK_POLL_EVERY_MS',
  /** How long one invocation reads (default 55000: the schedule starts the next every minute). */
  runForMs: 'AUTOHEAL_APP_CHECK_RUN_FOR_MS',
  /** The ledger table: with it, runs never overlap (the observers' lease). */
  ledgerTable: autohealEnv.ledgerTable,
} as const;

export interface AppCheckSettings {
  checkId: string;
  groups: string[];
  queueUrl: string;
  pollEveryMs: number;
  runForMs: number;
  ledgerTable?: string;
}

const checkIdPattern = /^asc-[0-9a-f]{8,17}$/;

/** Reads and validates the settings; throws one ConfigError naming every bad variable. */
export function appCheckSettings(env: NodeJS.ProcessEnv = process.env): AppCheckSettings {
  const problems: string[] = [];
  const { read, number } = envReader(env, problems);
  const checkId = read(appCheckEnv.checkId) ?? '';
  if (!checkIdPattern.test(checkId)) problems.push(`${appCheckEnv.checkId}: ${checkId === '' ? 'required' : `"${checkId}" is not an application status check id (asc-0123456789abcdef0)`}`);
  const groups = (read(appCheckEnv.groups) ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
  if (groups.length === 0) problems.push(`${appCheckEnv.groups}: name at least one Auto Scaling group`);
  const queueUrl = read(appCheckEnv.verdictQueueUrl) ?? '';
  if (!isQueueUrl(queueUrl)) problems.push(`${appCheckEnv.verdictQueueUrl}: ${queueUrl === '' ? 'required' : `not an SQS queue URL: "${queueUrl}"`}`);
  const pollEveryMs = number(appCheckEnv.pollEveryMs) ?? 10_000;
  if (!(pollEveryMs >= 1_000 && pollEveryMs <= 60_000)) problems.push(`${appCheckEnv.pollEveryMs}: from 1000 to 60000 ms, got ${pollEveryMs}`);
  const runForMs = number(appCheckEnv.runForMs) ?? 55_000;
  if (!(runForMs >= 1_000 && runForMs <= 900_000)) problems.push(`${appCheckEnv.runForMs}: from 1000 to 900000 ms, got ${runForMs}`);
  const ledgerTable = ledgerTableOf(read(appCheckEnv.ledgerTable), appCheckEnv.ledgerTable, problems);
  if (problems.length > 0) throw new ConfigError(`app-check settings:\n  ${problems.join('\n  ')}`);
  return { checkId, groups, queueUrl, pollEveryMs, runForMs, ...(ledgerTable !== undefined ? { ledgerTable } : {}) };
}
