/**
 * The app-check function: bundled by scripts/build.mjs into dist/app-check.mjs (handler
 * `app-check.handler`), started every minute by an EventBridge schedule. A run reads AWS's
 * application status check every `pollEveryMs` (10 s) for `runForMs` (55 s) and sends each read's
 * verdicts, as the observer `aws-app-check`, to the verdict queue (./poll.ts). Reading more often
 * than once a minute keeps a failing instance's vote inside the healer's 30 s quorum window, where
 * another observer's vote can meet it.
 *
 * A function of its own, not a mode of an observer: it calls only AWS APIs (no VPC, no probed port),
 * and its vote must not fail with one zone's observer — the point of a second vantage point. With
 * the ledger table a run takes the lease `lease#aws-app-check` (src/observer/lease.ts), so two runs
 * never read side by side. A failed read is logged and the next one goes on: nothing waits on it.
 * Invoked by the Terraform module with `{ associate: { groups } }`, it associates the check instead
 * (./association.ts).
 */
import { randomUUID } from 'node:crypto';
import { autoScalingClient } from '../aws/autoscaling.js';
import { dynamoDbClient } from '../aws/dynamodb.js';
import { sqsClient } from '../aws/sqs.js';
import { describeError } from '../errors.js';
import { createLogger } from '../log.js';
import { releaseLease, takeLease } from '../observer/lease.js';
import { applyAssociation, isAssociationEvent, type AssociationOutcome } from './association.js';
import { pollAppCheck, type AppCheckPollInput } from './poll.js';
import { appCheckSettings } from './settings.js';
import { appCheckObserver } from './verdicts.js';

const settings = appCheckSettings();
const logger = createLogger({ component: 'app-check', fd: 1 });
// One client: EC2 DescribeApplicationStatus is signed with its parts (src/aws/query.ts).
const autoscaling = autoScalingClient();
const sqs = sqsClient();
const ledger = settings.ledgerTable !== undefined ? { client: dynamoDbClient(), table: settings.ledgerTable } : undefined;

/** The part of the Lambda context a run uses. */
export interface AppCheckContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/** What one run did. */
export interface AppCheckRunSummary {
  reads: number;
  failedReads: number;
  messages: number;
  /** Another run held the lease: this one did not read. */
  steppedAside?: { heldBy: string; until: string };
}

/** Time kept back before the function's deadline. */
const marginMs = 5_000;

export async function handler(event: unknown, context?: AppCheckContext): Promise<AppCheckRunSummary | AssociationOutcome> {
  // The Terraform module's create, update and destroy of the association (./association.ts).
  if (isAssociationEvent(event)) {
    const outcome = await applyAssociation(autoscaling, settings.checkId, event, AbortSignal.timeout(20_000));
    logger.info(outcome, 'app-check: association applied');
    return outcome;
  }
  const startedMs = Date.now();
  const runForMs = Math.max(1_000, Math.min(settings.runForMs, (context?.getRemainingTimeInMillis() ?? Infinity) - marginMs));
  const holder = context?.awsRequestId ?? randomUUID();
  if (ledger) {
    const lease = await takeLease(ledger.client, ledger.table, { observer: appCheckObserver, holder, nowMs: startedMs, untilMs: startedMs + runForMs + marginMs });
    if (lease.name === 'held') {
      const steppedAside = { heldBy: lease.heldBy, until: new Date(lease.untilMs).toISOString() };
      logger.warn(steppedAside, 'app-check: another run holds the lease; stepping aside');
      return { reads: 0, failedReads: 0, messages: 0, steppedAside };
    }
  }
  const summary: AppCheckRunSummary = { reads: 0, failedReads: 0, messages: 0 };
  let lastFailure = '';
  const input: Omit<AppCheckPollInput, 'signal'> = { autoscaling, sqs, queueUrl: settings.queueUrl, groups: settings.groups, checkId: settings.checkId, now: () => new Date() };
  for (let next = startedMs; next < startedMs + runForMs; next += settings.pollEveryMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    // Each read is bounded by what is left of the run, so the run ends before its deadline.
    const signal = AbortSignal.timeout(Math.max(1_000, startedMs + runForMs + marginMs / 2 - Date.now()));
    try {
      const read = await pollAppCheck({ ...input, signal });
      summary.reads++;
      summary.messages += read.messages;
      if (read.unhealthy.length > 0) logger.info({ unhealthy: read.unhealthy, instances: read.instances }, 'app-check: the check fails on instances');
    } catch (error) {
      summary.failedReads++;
      lastFailure = describeError(error);
      logger.warn({ error: lastFailure }, 'app-check: read failed; the next one goes on');
    }
  }
  if (ledger) await releaseLease(ledger.client, ledger.table, { observer: appCheckObserver, holder, nowMs: Date.now() });
  logger.info(summary, 'app-check: run ended');
  // A run that read nothing fails, so the function's Errors metric (and its alarm) shows a vote gone silent.
  if (summary.reads === 0 && summary.failedReads > 0) throw new Error(`app-check: every read of this run failed (${summary.failedReads}); the last: ${lastFailure}`);
  return summary;
}
