/**
 * The core's runner, and the one place that keeps the safety rails. For one input: parse it into
 * signals (./intake.ts), then run the stages:
 *
 *   views (./views.ts) → per group, under its lock (./group-batch.ts): ledger read, evidence
 *   (vote, re-check, report: ./evidence.ts), decide and mark, ledger write → records (./records.ts)
 *
 * The rails' memory of each group is one plain value behind a port (./ledger.ts): this process's
 * by default, or a table shared by every healer (src/runtime/dynamodb-ledger.ts). Marks follow the
 * protocol of ./group-batch.ts — reserve in the ledger with a conditional write, then act — so
 * any number of healers in any number of processes keep one budget. Within this process decisions
 * are also serialized per group (a {@link KeyedLock}): it saves them conflicts with each other.
 * Views read before the lock may be a moment old; the ledger's memory of recent marks (counted in
 * the budget) covers what they cannot show yet.
 *
 * It never throws: what fails becomes a record with an error.
 */
import { mapLimited } from '../concurrency.js';
import { withDeadline } from '../deadline.js';
import { describeError, GracePeriodRefusedError, RemoteError } from '../errors.js';
import { TypedEvents } from '../events.js';
import type { GroupView } from '../fleet/port.js';
import { silentLogger } from '../log.js';
import { decide } from '../policy/decide.js';
import type { Verdict } from '../policy/types.js';
import type { HealthSignal } from '../signals/types.js';
import type { HealerContext, MarkOutcome, Pending } from './context.js';
import { decideGroup, railsOf } from './group-batch.js';
import { handleInput } from './intake.js';
import { KeyedLock } from './keyed-lock.js';
import { dryRunLedgerKey, memoryLedger } from './ledger.js';
import { realCommitSeam } from './commit.js';
import { reportAll, verdictRecord } from './records.js';
import type { HealReport, Healer, HealerEvents, HealerOptions, MarkFacts, VerdictRecord } from './types.js';
import { needsView, readViews, type Views } from './views.js';

/**
 * Groups of one call decided at once. Each decision is a ledger read and write (a few ms on
 * DynamoDB) and its marks (~100 ms each): 8 at once hide that latency, and their marks stay
 * within SetInstanceHealth's rate.
 */
const groupsAtOnce = 8;

/**
 * Sorts the call's signals: those that go through their group's stages, by group (in call order);
 * the others are recorded at once — a view that failed, healthy alarm evidence, no group.
 */
function byGroupOf(ctx: HealerContext, signals: readonly HealthSignal[], views: Views, records: VerdictRecord[]): Map<string, Pending[]> {
  const byGroup = new Map<string, Pending[]>();
  signals.forEach((s, index) => {
    const startedMs = performance.now();
    const instance = views.instances.get(s.instanceId);
    if (needsView(s) && views.failed.has(s.instanceId)) {
      records[index] = verdictRecord(s, { action: 'skip', reason: 'unavailable', detail: 'could not read the fleet' }, { dryRun: ctx.dryRun, startedMs, failure: views.failed.get(s.instanceId) });
    } else if (instance && needsView(s)) {
      byGroup.set(instance.groupName, [...(byGroup.get(instance.groupName) ?? []), { index, signal: s, instance, startedMs }]);
    } else {
      // Healthy alarm evidence, or an instance in no group: decided without views.
      const verdict = decide({ signal: s, nowMs: ctx.clock(), options: ctx.policy, duplicate: false, capacity: { inUse: 0, base: 0, missing: 0 } });
      records[index] = verdictRecord(s, verdict, { dryRun: ctx.dryRun, startedMs });
    }
  });
  return byGroup;
}

/** Creates a healer. Options are taken as given: `policy` must already be validated (policyOptionsSchema). */
export function createHealer(options: HealerOptions): Healer {
  const { fleet, policy } = options;
  const logger = options.logger ?? silentLogger;
  const respectGracePeriod = options.respectGracePeriod ?? true;
  const dryRun = options.dryRun ?? false;
  const locks = new KeyedLock();
  const events = new TypedEvents<HealerEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'healer event listener failed'),
  );

  /**
   * Keeps the evidence first, so it exists before Auto Scaling can start the termination (the
   * evidence function reads it to know the termination is autoheal's). Bounded; a failure is
   * logged and the mark goes on: evidence never holds up healing.
   */
  async function keepEvidence(facts: MarkFacts, abort?: AbortSignal): Promise<void> {
    const port = options.evidence;
    if (port === undefined) return;
    try {
      await withDeadline('evidence:keep', port.timeoutMs, (s) => port.keep(facts, s), abort ? { signal: abort } : {});
    } catch (error) {
      logger.warn({ instanceId: facts.instance.instanceId, group: facts.group.name, error: describeError(error) }, 'evidence: not kept before the mark; marking anyway');
    }
  }

  /** Marks the instance through the fleet; a refusal inside the grace period is a hold, not a failure. */
  async function mark(facts: Omit<MarkFacts, 'verdict'>, verdict: Verdict, abort?: AbortSignal): Promise<MarkOutcome> {
    if (dryRun) return { verdict };
    const instanceId = facts.instance.instanceId;
    await keepEvidence({ ...facts, verdict }, abort);
    try {
      await fleet.setInstanceHealth(instanceId, 'Unhealthy', { respectGracePeriod, ...(abort ? { signal: abort } : {}) });
      return { verdict };
    } catch (error) {
      // Auto Scaling refuses a mark inside the grace period it knows of: a hold, not a failure.
      if (error instanceof GracePeriodRefusedError) return { verdict: { action: 'skip', reason: 'inGracePeriod', detail: describeError(error) } };
      return { verdict, error };
    }
  }

  const ctx: HealerContext = {
    fleet,
    policy,
    dryRun,
    replacement: options.replacement ?? 'unchanged',
    alarms: options.alarms,
    clock: options.clock ?? Date.now,
    logger,
    events,
    ledger: options.ledger ?? memoryLedger(),
    ledgerKey: (groupName) => (dryRun ? dryRunLedgerKey(groupName) : groupName),
    seam: options.seam ?? realCommitSeam,
    mark,
  };

  async function handleSignals(signals: readonly HealthSignal[], opts: { signal?: AbortSignal } = {}): Promise<VerdictRecord[]> {
    const abort = opts.signal;
    const views = await readViews(fleet, signals, abort);
    const records: VerdictRecord[] = new Array<VerdictRecord>(signals.length);
    const byGroup = byGroupOf(ctx, signals, views, records);
    // Groups are independent (each its own ledger entry and lock), so several are decided at once;
    // the smallest first, so that a lone failure is never decided behind a zone's worth of verdicts.
    const groups = [...byGroup].sort(([, a], [, b]) => a.length - b.length);
    await mapLimited(groups, groupsAtOnce, async ([groupName, pending]) => {
      try {
        await locks.run(groupName, () => decideGroup(ctx, groupName, pending, views.groups.get(groupName), records, abort));
      } catch (error) {
        // A bug or a ledger that failed, not a decision: still records, never an exception out of the healer.
        for (const p of pending) {
          records[p.index] ??= { signal: p.signal, verdict: { action: 'skip', reason: 'unavailable' }, groupName, dryRun: false, error: describeError(error), retryable: error instanceof RemoteError ? error.retryable : true, ms: 0 };
        }
      }
    });
    reportAll(logger, events, records);
    return records;
  }

  const handle = (input: unknown, opts: { signal?: AbortSignal } = {}): Promise<HealReport> =>
    handleInput({ logger, decide: handleSignals, onLifecycle: options.onLifecycle }, input, opts);

  return { handle, handleSignals, railsOf: (group: GroupView) => railsOf(ctx, group), events };
}
