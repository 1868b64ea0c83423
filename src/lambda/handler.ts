/**
 * The Lambda healer: parse, decide, act, return. Bundled by scripts/build.mjs into
 * dist/lambda.mjs (handler string `lambda.handler`). Configuration comes from the environment
 * (./config.ts) and the clients are created once per container, at init.
 *
 * What it returns:
 * - SQS-triggered (event source mapping with ReportBatchItemFailures): `{ batchItemFailures }`
 *   listing exactly the records whose work failed, so only those are redelivered. Malformed
 *   records are logged and acknowledged: no retry can ever make them parse.
 * - Any other invocation (SNS, EventBridge, an alarm's Lambda action, a direct invoke by the
 *   bridge): a summary, and it throws only when some work failed and a retry may help, so that
 *   Lambda's asynchronous retries, the on-failure destination or the bridge's redelivery apply.
 *   Throwing for work that can never succeed would only repeat the same failure.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { awsClientSettings } from '../aws-config.js';
import { AutohealError } from '../errors.js';
import { AwsAlarmState } from '../fleet/aws/alarm-state.js';
import { AwsFleet } from '../fleet/aws/fleet.js';
import { createHealer } from '../healer/healer.js';
import type { HealerOptions, HealReport } from '../healer/types.js';
import { createLogger, type Logger } from '../log.js';
import { lambdaConfigFromEnv, type LambdaConfig } from './config.js';

/** The part of the Lambda context the handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/** The SQS partial batch response. */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** What a non-SQS invocation returns: one line per verdict, and the rejections. */
export interface HealSummary {
  verdicts: Array<{ instanceId: string; group?: string; action: string; reason: string; error?: string }>;
  rejected: string[];
}

export type LifecycleHandler = NonNullable<HealerOptions['onLifecycle']>;

/** What the handler is made of; the module builds the real ones from the environment. */
export interface HandlerDeps {
  config: LambdaConfig;
  autoScaling: AutoScalingClient;
  cloudWatch: CloudWatchClient;
  logger: Logger;
  /** Where launch/terminate signals go (see {@link lifecycleHandler}). */
  onLifecycle?: LifecycleHandler;
}

/** Stop starting new AWS calls this long before the function's timeout, so failures are recorded. */
const timeoutReserveMs = 1_500;

function isSqsEvent(event: unknown): event is { Records: Array<{ eventSource?: unknown }> } {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown })?.eventSource === 'aws:sqs';
}

function summarize(report: HealReport): HealSummary {
  return {
    verdicts: report.verdicts.map((v) => ({
      instanceId: v.signal.instanceId,
      ...(v.groupName ? { group: v.groupName } : {}),
      action: v.dryRun ? 'mark (dry-run)' : v.verdict.action,
      reason: v.verdict.reason,
      ...(v.error !== undefined ? { error: v.error } : {}),
    })),
    rejected: report.rejected.map((r) => r.reason),
  };
}

/**
 * Where launch/terminate signals go: the per-instance alarm manager (src/alarms) is wired in
 * here, so that a replacement instance gets its alarm. Until it is, they are logged only.
 */
export function lifecycleHandler(logger: Logger): LifecycleHandler {
  return async (signals) => {
    for (const s of signals) logger.info({ instanceId: s.instanceId, group: s.groupName, change: s.change }, 'lifecycle signal');
  };
}

/** Builds a handler from its parts (tests pass mocked clients). */
export function createHandler(deps: HandlerDeps) {
  const { config, logger } = deps;
  const healer = createHealer({
    fleet: new AwsFleet(deps.autoScaling),
    alarms: new AwsAlarmState(deps.cloudWatch),
    policy: config.policy,
    dryRun: config.dryRun,
    respectGracePeriod: config.respectGracePeriod,
    onLifecycle: deps.onLifecycle ?? lifecycleHandler(logger),
    logger,
  });

  return async function handler(event: unknown, context?: LambdaContext): Promise<SqsBatchResponse | HealSummary> {
    const remainingMs = context?.getRemainingTimeInMillis?.();
    const signal = remainingMs !== undefined ? AbortSignal.timeout(Math.max(1, remainingMs - timeoutReserveMs)) : undefined;
    const report = await healer.handle(event, signal ? { signal } : {});
    if (isSqsEvent(event)) return { batchItemFailures: report.failedRecordIds.map((itemIdentifier) => ({ itemIdentifier })) };
    if (report.retry) {
      throw new AutohealError(`some work failed and may succeed on retry: ${report.verdicts.filter((v) => v.error).map((v) => v.error).join('; ')}`);
    }
    return summarize(report);
  };
}

function fromEnvironment(): HandlerDeps {
  const config = lambdaConfigFromEnv();
  // Lambda collects stdout into CloudWatch Logs.
  const logger = createLogger({ fd: 1, level: config.logLevel, component: 'lambda' });
  return {
    config,
    logger,
    autoScaling: new AutoScalingClient(awsClientSettings()),
    cloudWatch: new CloudWatchClient(awsClientSettings()),
  };
}

/** The Lambda entry point (`lambda.handler`); configured from the environment at init. */
export const handler = createHandler(fromEnvironment());
