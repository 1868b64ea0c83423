/**
 * The observer Lambda's settings, from the environment the construct writes (observerEnv). Read
 * and validated once at init, so a bad setting fails the cold start with a message naming the
 * variable, never a run.
 */
import { parseTopicArn } from '../aws/sns.js';
import { isQueueUrl } from '../aws/sqs.js';
import { autohealEnv, ledgerTableOf } from '../config.js';
import { envReader } from '../env.js';
import { ConfigError } from '../errors.js';
import { isTargetPort, proberOptionsSchema, targetPortRange, type ProberOptions } from '../prober/options.js';

/** The environment variables of an observer function. */
export const observerEnv = {
  /** This observer's name (distinct per observer; the quorum counts names). */
  name: 'AUTOHEAL_OBSERVER_NAME',
  /** Comma-separated Auto Scaling group names to probe. */
  groups: 'AUTOHEAL_OBSERVER_GROUPS',
  /** The instances' port. */
  port: 'AUTOHEAL_OBSERVER_PORT',
  /** `http` (default) or `tcp`. */
  check: 'AUTOHEAL_OBSERVER_CHECK',
  /** The HTTP check's path (default `/health`). */
  path: 'AUTOHEAL_OBSERVER_PATH',
  /** The alert topic verdicts are published to, as alarm messages (when no verdict queue is given). */
  topicArn: 'AUTOHEAL_OBSERVER_TOPIC_ARN',
  /** The verdict queue (an SQS queue only observers may write): each round's verdicts go there as one envelope. */
  verdictQueueUrl: 'AUTOHEAL_VERDICT_QUEUE_URL',
  /** The ledger table: with it, runs of one observer never overlap (a lease, ./lease.ts). */
  ledgerTable: autohealEnv.ledgerTable,
  intervalMs: 'AUTOHEAL_OBSERVER_INTERVAL_MS',
  timeoutMs: 'AUTOHEAL_OBSERVER_TIMEOUT_MS',
  unhealthyThreshold: 'AUTOHEAL_OBSERVER_UNHEALTHY_THRESHOLD',
  healthyThreshold: 'AUTOHEAL_OBSERVER_HEALTHY_THRESHOLD',
  /** How long one invocation probes (default 55000: the schedule starts the next every minute). */
  runForMs: 'AUTOHEAL_OBSERVER_RUN_FOR_MS',
  /** How often the groups are described again within a run (default 15000). */
  discoverEveryMs: 'AUTOHEAL_OBSERVER_DISCOVER_EVERY_MS',
} as const;

export interface ObserverSettings {
  prober: ProberOptions;
  groups: string[];
  port: number;
  check: 'http' | 'tcp';
  path: string;
  /** Where verdicts go: the verdict queue (one envelope per round) or, without one, the alert topic (one alarm message per verdict). */
  channel: { kind: 'queue'; queueUrl: string } | { kind: 'topic'; topicArn: string; accountId: string };
  region: string;
  runForMs: number;
  discoverEveryMs: number;
  /** The ledger table holding the observer's lease. */
  ledgerTable?: string;
}


/** Reads and validates the settings; throws one ConfigError naming every bad variable. */
export function observerSettings(env: NodeJS.ProcessEnv = process.env): ObserverSettings {
  const problems: string[] = [];
  const { read, number } = envReader(env, problems);
  const required = (name: string): string => {
    const value = read(name);
    if (value === undefined) problems.push(`${name}: required`);
    return value ?? '';
  };
  const name = required(observerEnv.name);
  const groups = required(observerEnv.groups)
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  if (read(observerEnv.groups) !== undefined && groups.length === 0) problems.push(`${observerEnv.groups}: name at least one group`);
  const port = number(observerEnv.port);
  if (port === undefined && read(observerEnv.port) === undefined) problems.push(`${observerEnv.port}: required`);
  else if (port !== undefined && !isTargetPort(port)) problems.push(`${observerEnv.port}: ${targetPortRange}, got "${read(observerEnv.port)}"`);
  const check = read(observerEnv.check) ?? 'http';
  if (check !== 'http' && check !== 'tcp') problems.push(`${observerEnv.check}: "http" or "tcp", got "${check}"`);
  const path = read(observerEnv.path) ?? '/health';
  const queueUrl = read(observerEnv.verdictQueueUrl);
  if (queueUrl !== undefined && !isQueueUrl(queueUrl)) problems.push(`${observerEnv.verdictQueueUrl}: not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME): "${queueUrl}"`);
  const topicArn = queueUrl === undefined ? required(observerEnv.topicArn) : (read(observerEnv.topicArn) ?? '');
  const topic = parseTopicArn(topicArn);
  if (topicArn !== '' && !topic) problems.push(`${observerEnv.topicArn}: not an SNS topic ARN: "${topicArn}"`);
  const runForMs = number(observerEnv.runForMs) ?? 55_000;
  if (!(runForMs >= 1_000 && runForMs <= 900_000)) problems.push(`${observerEnv.runForMs}: from 1000 to 900000 ms, got ${runForMs}`);
  const discoverEveryMs = number(observerEnv.discoverEveryMs) ?? 15_000;
  const ledgerTable = ledgerTableOf(read(observerEnv.ledgerTable), observerEnv.ledgerTable, problems);
  if (!(discoverEveryMs >= 1_000)) problems.push(`${observerEnv.discoverEveryMs}: at least 1000 ms, got ${discoverEveryMs}`);

  const numeric = {
    intervalMs: number(observerEnv.intervalMs),
    timeoutMs: number(observerEnv.timeoutMs),
    unhealthyThreshold: number(observerEnv.unhealthyThreshold),
    healthyThreshold: number(observerEnv.healthyThreshold),
  };
  const prober = proberOptionsSchema.safeParse({
    ...Object.fromEntries(Object.entries(numeric).filter(([, v]) => v !== undefined)),
    check: check === 'tcp' ? 'tcp' : 'http',
    path,
    ...(name !== '' ? { observer: name } : {}),
    // Within one run a skipped instance is offered again soon; the next run starts afresh anyway.
    repeatUnhealthyAfterMs: 10_000,
  });
  if (!prober.success) for (const issue of prober.error.issues) problems.push(`observer option ${issue.path.join('.')}: ${issue.message}`);
  if (problems.length > 0 || !prober.success) throw new ConfigError(`observer settings:\n  ${problems.join('\n  ')}`);
  return {
    prober: prober.data,
    groups,
    port: port as number,
    check: check as 'http' | 'tcp',
    path,
    channel: queueUrl !== undefined ? { kind: 'queue', queueUrl } : { kind: 'topic', topicArn, accountId: topic?.accountId as string },
    // The region signals name: the topic's, else the function's own.
    region: topic?.region ?? env.AWS_REGION ?? '',
    runForMs,
    discoverEveryMs,
    ...(ledgerTable !== undefined ? { ledgerTable } : {}),
  };
}
