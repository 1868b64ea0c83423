/**
 * An observer as a Lambda function: bundled by scripts/build.mjs into dist/observer.mjs (handler
 * `observer.handler`). The construct runs one per subnet/Availability Zone, VPC-attached,
 * started every minute by an EventBridge schedule with reserved concurrency 1, so runs never
 * overlap and a dead run is replaced by the next one. Each run probes for `runForMs` (55 s by
 * default, always ending before the function's deadline), sending its verdicts to the verdict
 * queue, a round's together as one envelope with the groups it cannot reach (or, without a queue,
 * publishing each to the alert topic as an alarm message), and a heartbeat as an EMF line on
 * stdout every 10 s. With the ledger table (AUTOHEAL_LEDGER_TABLE) a run first takes the
 * observer's lease (./lease.ts), so two runs of one observer never overlap even without reserved
 * concurrency: a run that finds it held steps aside and says so. Settings are read at init
 * (./settings.ts): a bad one fails the cold start.
 */
import { autoScalingClient } from '../aws/autoscaling.js';
import { createLogger } from '../log.js';
import { groupTargets } from '../prober/aws-discovery.js';
import { randomUUID } from 'node:crypto';
import { dynamoDbClient } from '../aws/dynamodb.js';
import { sqsClient } from '../aws/sqs.js';
import { emptyStats } from '../prober/state.js';
import { initialSelfCheck } from '../prober/self-check.js';
import { releaseLease, takeLease } from './lease.js';
import { emfHeartbeat } from '../prober/heartbeat.js';
import { startProber, type Heartbeat, type ProberStats, type ProbeSink } from '../prober/prober.js';
import { snsSink } from '../prober/sinks.js';
import { reportUnreachable, verdictQueueSink, verdictWindowMaxMs, type VerdictQueueSink } from '../prober/verdict-queue.js';
import type { SelfCheckState } from '../prober/self-check.js';
import { observerSettings } from './settings.js';

const settings = observerSettings();
const logger = createLogger({ component: 'observer', fd: 1 });
// One client: EC2 DescribeInstances and SNS Publish are signed with its parts (src/aws/query.ts),
// so the bundle carries neither the EC2 nor the SNS client; a publish goes to the topic's region.
const autoscaling = autoScalingClient();
const discover = groupTargets({ autoscaling }, settings);
const channel = settings.channel;
// The verdict queue: a round's verdicts in one message, by the SQS client (the queue's own protocol).
const queue: VerdictQueueSink | undefined =
  channel.kind === 'queue'
    ? verdictQueueSink({
        client: sqsClient(),
        queueUrl: channel.queueUrl,
        observer: settings.prober.observer,
        windowMs: Math.min(settings.prober.intervalMs, verdictWindowMaxMs),
      })
    : undefined;
const sink: ProbeSink = queue?.sink ?? snsSink({ client: autoscaling, topicArn: channel.kind === 'topic' ? channel.topicArn : '', accountId: channel.kind === 'topic' ? channel.accountId : '' });
const emf = emfHeartbeat((line) => process.stdout.write(line));
const ledger = settings.ledgerTable !== undefined ? { client: dynamoDbClient(), table: settings.ledgerTable } : undefined;

/** The part of the Lambda context a run uses. */
export interface ObserverContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/** What one run did. */
export interface ObserverRunSummary {
  observer: string;
  ranMs: number;
  stats: ProberStats;
  selfCheck: SelfCheckState;
  /** Another run of this observer held the lease: this one did not probe. */
  steppedAside?: { heldBy: string; until: string };
}

/** Time kept back before the function's deadline for stopping and flushing. */
const marginMs = 5_000;

export async function handler(_event: unknown, context?: ObserverContext): Promise<ObserverRunSummary> {
  const startedMs = Date.now();
  const runForMs = Math.max(1_000, Math.min(settings.runForMs, (context?.getRemainingTimeInMillis() ?? Infinity) - marginMs));
  const observer = settings.prober.observer;
  // With the ledger table, runs of this observer never overlap: the lease lasts the run and its margin.
  const holder = context?.awsRequestId ?? randomUUID();
  if (ledger) {
    const lease = await takeLease(ledger.client, ledger.table, { observer, holder, nowMs: startedMs, untilMs: startedMs + runForMs + marginMs });
    if (lease.name === 'held') {
      const steppedAside = { heldBy: lease.heldBy, until: new Date(lease.untilMs).toISOString() };
      logger.warn({ observer, ...steppedAside }, 'observer: another run holds the lease; stepping aside');
      return { observer, ranMs: Date.now() - startedMs, stats: emptyStats(), selfCheck: initialSelfCheck, steppedAside };
    }
  }
  // Each beat goes to stdout as EMF; the groups it cannot reach go to the healer too, as reports
  // (bound once the prober exists: its first beat, at the start, has none yet).
  const late: { report?: (beat: Heartbeat) => Promise<void> } = {};
  const prober = startProber(settings.prober, {
    sink,
    discover,
    discoverEveryMs: settings.discoverEveryMs,
    region: settings.region,
    heartbeat: async (beat) => {
      emf(beat);
      await late.report?.(beat);
    },
    logger,
  });
  if (queue) late.report = reportUnreachable(queue, prober.events);
  logger.info({ observer: settings.prober.observer, groups: settings.groups, runForMs }, 'observer: run started');
  await new Promise((resolve) => setTimeout(resolve, runForMs));
  await prober.stop();
  // The stop aborted the sends in flight; what waited for its round goes now, before the run
  // returns and Lambda freezes the process (a withdrawn vote must arrive).
  await queue?.drain();
  const summary: ObserverRunSummary = {
    observer: settings.prober.observer,
    ranMs: Date.now() - startedMs,
    stats: prober.stats(),
    selfCheck: prober.selfCheck(),
  };
  if (ledger) await releaseLease(ledger.client, ledger.table, { observer, holder, nowMs: Date.now() });
  logger.info(summary, 'observer: run ended');
  return summary;
}
