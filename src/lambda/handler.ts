/**
 * The Lambda healer: parse, decide, act, return. Bundled by scripts/build.mjs into
 * dist/lambda.mjs (handler string `lambda.handler`). Configuration comes from the environment
 * (./config.ts, and the alarm manager's from src/alarms/env.ts), validated at init so a bad
 * setting fails the cold start. The Auto Scaling client is created once per container, at init;
 * CloudWatch (stale re-checks, per-instance alarms) is loaded on first use (./cloudwatch.ts).
 *
 * Launch and terminate events go to the alarm manager's lifecycle handler: a launch in a managed
 * group puts exactly that instance's StatusCheckFailed alarm, a terminate deletes exactly its alarm.
 * An EventBridge "Scheduled Event" (the stack's held-work schedule) decides again every autoheal
 * alarm still in ALARM (src/alarms/held.ts), so an instance skipped for budget, grace, rate limit
 * or a freeze is healed once the policy allows, without a new alarm transition. The alarm sync is
 * not the healer's: it runs in a function of its own (./alarm-sync.ts), so no decision waits
 * behind minutes of PutMetricAlarm.
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
import { alarmOptionsFromEnv } from '../alarms/env.js';
import { parseAlarmOptions, type AlarmOptionsInput } from '../alarms/options.js';
import { autoScalingClient, type AutoScalingClient } from '../aws/autoscaling.js';
// A type only: the CloudWatch client itself is loaded on first use (./cloudwatch.ts).
import type { CloudWatchClient } from '../aws/cloudwatch.js';
import { resolveSettings, type Settings } from '../config.js';
import { AutohealError } from '../errors.js';
import type { AlarmStatePort, HealerOptions, HealReport } from '../healer/types.js';
import { capList, createLogger, type Logger } from '../log.js';
import type { InstanceFactsReader } from '../fleet/aws/fleet.js';
import { createAwsHealer } from '../runtime/aws.js';
import { openLedger } from '../runtime/ledger.js';
import type { LedgerPort } from '../healer/ledger.js';
import { emitEmfDecisions } from '../operate/emf.js';
import { observerSilentNotice, silentObserverOf, type NoticePublisher } from '../operate/notices.js';
import { isScheduledEvent, timeoutSignal, type LambdaContext } from './events.js';
import { lambdaNotifier } from './notices.js';

export type { LambdaContext } from './events.js';

/** The SQS partial batch response. */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** What a non-SQS invocation returns: one line per verdict, and the rejections. */
export interface HealSummary {
  /** At most maxItemsPerEvent (100); `verdictsOmitted` counts the rest. */
  verdicts: Array<{ instanceId: string; group?: string; action: string; reason: string; error?: string }>;
  verdictsOmitted?: number;
  /** At most maxItemsPerEvent (100); `rejectedOmitted` counts the rest. */
  rejected: string[];
  rejectedOmitted?: number;
}

export type LifecycleHandler = NonNullable<HealerOptions['onLifecycle']>;

/** What the handler is made of; the module builds the real ones from the environment. */
export interface HandlerDeps {
  config: Settings;
  autoScaling: AutoScalingClient;
  /** Launch times and instance tags; default: EC2 DescribeInstances through the Auto Scaling client's settings. */
  instanceFacts?: InstanceFactsReader;
  /**
   * CloudWatch, for re-checking stale alarms and for the per-instance alarms of launched and
   * terminated instances. Default: created on first use with the standard settings, so that the
   * many invocations that never need it do not pay for loading it.
   */
  cloudWatch?: CloudWatchClient;
  /** The per-instance alarms' settings (default: alarmOptionsFromEnv()); validated once, here. */
  alarmOptions?: AlarmOptionsInput;
  logger: Logger;
  /** Where launch/terminate signals go; default: the alarm manager's lifecycle handler. */
  onLifecycle?: LifecycleHandler;
  /** Where notices go; default: SNS Publish to config.noticeTopicArn (none without it), signed with the Auto Scaling client. */
  publishNotice?: NoticePublisher;
  /** Where the EMF metric lines go; default: stdout, which CloudWatch Logs reads. */
  writeMetrics?: (line: string) => void;
  /** The rails' ledger; default: this environment's memory. At init: the table of AUTOHEAL_LEDGER_TABLE (src/runtime/ledger.ts). */
  ledger?: LedgerPort;
}

/** What a scheduled invocation returns: the held work decided again. */
export interface ScheduledSummary {
  reevaluated: HealSummary;
}

function isSqsEvent(event: unknown): event is { Records: Array<{ eventSource?: unknown }> } {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown })?.eventSource === 'aws:sqs';
}

function summarize(report: HealReport): HealSummary {
  // Bounded: a batch of a million records must not answer with a 29 MB summary.
  const verdicts = capList(report.verdicts);
  const rejected = capList(report.rejected);
  return {
    verdicts: verdicts.items.map((v) => ({
      instanceId: v.signal.instanceId,
      ...(v.groupName ? { group: v.groupName } : {}),
      action: v.dryRun ? 'mark (dry-run)' : v.verdict.action,
      reason: v.verdict.reason,
      ...(v.error !== undefined ? { error: v.error } : {}),
    })),
    ...(verdicts.omitted > 0 ? { verdictsOmitted: verdicts.omitted } : {}),
    rejected: rejected.items.map((r) => r.reason),
    ...(rejected.omitted > 0 ? { rejectedOmitted: rejected.omitted } : {}),
  };
}

/** Builds a handler from its parts (tests pass mocked clients). */
export function createHandler(deps: HandlerDeps) {
  const { config, logger } = deps;
  const alarmOptions = parseAlarmOptions(deps.alarmOptions ?? alarmOptionsFromEnv());

  // Loaded once, on the first invocation that needs CloudWatch.
  let cloudWatchParts: ReturnType<typeof loadCloudWatch> | undefined;
  async function loadCloudWatch() {
    const parts = await import('./cloudwatch.js');
    const client = deps.cloudWatch ?? parts.cloudWatchClient();
    return {
      held: (nowMs: number, signal?: AbortSignal) => parts.signalsOfAlarmsInAlarm(client, alarmOptions.prefix, nowMs, logger, signal),
      alarmState: new parts.AwsAlarmState(client),
      lifecycle: parts.createAlarmLifecycle({
        cloudwatch: client,
        options: alarmOptions,
        isManaged: parts.managedGroups(fleet, config.policy),
        logger,
      }),
    };
  }
  const cloudWatch = (): ReturnType<typeof loadCloudWatch> => {
    if (cloudWatchParts === undefined) {
      cloudWatchParts = loadCloudWatch();
      // A failed load is not cached: the next invocation tries again.
      cloudWatchParts.catch(() => (cloudWatchParts = undefined));
    }
    return cloudWatchParts;
  };
  const alarms: AlarmStatePort = {
    alarmState: async (alarmName, signal) => (await cloudWatch()).alarmState.alarmState(alarmName, signal),
  };
  const onLifecycle: LifecycleHandler =
    deps.onLifecycle ?? (async (signals, signal) => (await cloudWatch()).lifecycle(signals, signal));

  const { healer, fleet } = createAwsHealer({
    settings: config,
    autoScaling: deps.autoScaling,
    ...(deps.instanceFacts ? { instanceFacts: deps.instanceFacts } : {}),
    alarms,
    onLifecycle,
    logger,
    ...(deps.ledger ? { ledger: deps.ledger } : {}),
  });
  // Decisions as metrics (EMF on stdout, no API call) and as notices to a person (marks, holds).
  emitEmfDecisions(healer.events, deps.writeMetrics ?? ((line) => process.stdout.write(line)));
  const notifier = lambdaNotifier(config.noticeTopicArn, deps.autoScaling, logger, deps.publishNotice, config.evidenceBucket);
  notifier?.attach(healer.events);

  /** Held work: the alarms still in ALARM, decided again. */
  async function scheduled(signal?: AbortSignal): Promise<ScheduledSummary> {
    const parts = await cloudWatch();
    const held = await parts.held(Date.now(), signal);
    const records = await healer.handleSignals(held, signal ? { signal } : {});
    logger.info({ alarmsInAlarm: held.length, marked: records.filter((r) => r.verdict.action === 'mark' && !r.error).length }, 'held work re-evaluated');
    const reevaluated = summarize({ signals: held, lifecycle: [], rejected: [], verdicts: records, failedRecordIds: [], retry: false });
    return { reevaluated };
  }

  async function handle(event: unknown, context?: LambdaContext): Promise<SqsBatchResponse | HealSummary | ScheduledSummary | { notice: string }> {
    const signal = timeoutSignal(context);
    // Not health signals: handled here, so they never reach the parser as rejections.
    if (isScheduledEvent(event)) return scheduled(signal);
    // An observer's heartbeat alarm (EventBridge rule): a notice for a person, not evidence about an instance.
    const silent = silentObserverOf(event);
    if (silent) {
      logger.warn({ observer: silent.observer, alarmName: silent.alarmName, reason: 'observerSilent' }, 'observer silent');
      await notifier?.notify(observerSilentNotice(silent.observer, silent.alarmName, silent.reason));
      return { notice: 'observerSilent' };
    }
    const report = await healer.handle(event, signal ? { signal } : {});
    if (isSqsEvent(event)) return { batchItemFailures: report.failedRecordIds.map((itemIdentifier) => ({ itemIdentifier })) };
    if (report.retry) {
      throw new AutohealError(`some work failed and may succeed on retry: ${report.verdicts.filter((v) => v.error).map((v) => v.error).join('; ')}`);
    }
    return summarize(report);
  }

  return async function handler(event: unknown, context?: LambdaContext): Promise<SqsBatchResponse | HealSummary | ScheduledSummary | { notice: string }> {
    try {
      return await handle(event, context);
    } finally {
      // Lambda freezes the process once the handler returns: notices go out before.
      await notifier?.flush();
    }
  };
}

function fromEnvironment(): HandlerDeps {
  const config = resolveSettings();
  // Lambda collects stdout into CloudWatch Logs.
  const logger = createLogger({ fd: 1, level: config.logLevel, component: 'lambda' });
  // The table of AUTOHEAL_LEDGER_TABLE, shared by every environment; without one, a warning at each cold start.
  return { config, logger, autoScaling: autoScalingClient(), alarmOptions: alarmOptionsFromEnv(), ledger: openLedger(config, { logger }).ledger };
}

/** The Lambda entry point (`lambda.handler`); configured from the environment at init. */
export const handler = createHandler(fromEnvironment());
