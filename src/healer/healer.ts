/**
 * The core's runner, and the one place that keeps the safety rails. For one input: parse it into
 * signals, read the views of their instances and groups (one describe call each per batch), then
 * decide and act on each signal in order.
 *
 * Decide-and-mark is serialized per group inside the healer (a {@link KeyedLock}), so the budget,
 * the rate limit and the holds see every earlier mark for any number of concurrent callers in
 * this process — the Lambda's, the bridge's slots, the prober's verdicts. Views read before the
 * lock may be a moment old; the healer's own memory of its marks (counted in the budget) covers
 * what they cannot show yet. Across processes the deployment must guarantee one healer per group
 * (README: "Safety rails").
 *
 * Under the lock, for each signal: the probe vote is recorded (quorum), the report is recorded
 * (suspicion may freeze the group), the policy decides with the group's ledger (rate limit, holds),
 * stale alarm evidence is re-checked, and a mark goes through the fleet port unless dry-run.
 * It never throws: what fails becomes a record with an error.
 */
import { describeError, GracePeriodRefusedError, isRetryable } from '../errors.js';
import { TypedEvents } from '../events.js';
import type { GroupView, InstanceView } from '../fleet/port.js';
import { capList, maxItemsPerEvent, silentLogger } from '../log.js';
import { budgetInUse } from '../policy/budget.js';
import { decide, isOptedIn, isStale, type DecideInput } from '../policy/decide.js';
import { agreeingObservers, recordVote, type Votes } from '../policy/quorum.js';
import { activeHold, emptyLedger, isYoung, marksInWindow, recordMark, recordReport, type GroupLedger } from '../policy/rails.js';
import type { Verdict } from '../policy/types.js';
import { parseEvent } from '../signals/index.js';
import type { HealthSignal, ParseResult } from '../signals/types.js';
import { KeyedLock } from './keyed-lock.js';
import { RecentMarks } from './recent-marks.js';
import type { HealReport, Healer, HealerEvents, HealerOptions, VerdictRecord } from './types.js';

interface Views {
  instances: Map<string, InstanceView>;
  groups: Map<string, GroupView>;
  /** Instances whose view could not be read, with the error: their unhealthy signals fail with it. */
  failed: Map<string, unknown>;
}

/** The observer a probe verdict without a name counts as (a single prober of an older version). */
const unnamedObserver = 'observer';

/** Creates a healer. Options are taken as given: `policy` must already be validated (policyOptionsSchema). */
export function createHealer(options: HealerOptions): Healer {
  const { fleet, policy } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const respectGracePeriod = options.respectGracePeriod ?? true;
  const recent = new RecentMarks(policy.duplicateWindowMs);
  const ledgers = new Map<string, GroupLedger>();
  const votes = new Map<string, Votes>();
  const locks = new KeyedLock();
  const events = new TypedEvents<HealerEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'healer event listener failed'),
  );

  /**
   * Reads the views of the unhealthy signals' instances and groups. When a batch describe fails
   * for a reason a retry cannot fix (one malformed id makes Auto Scaling refuse the whole call),
   * each instance is described alone, so only the instances that really fail carry the error.
   */
  async function readViews(signals: readonly HealthSignal[], signal?: AbortSignal): Promise<Views> {
    const views: Views = { instances: new Map(), groups: new Map(), failed: new Map() };
    // Healthy signals are skipped before any view is needed: describe only the unhealthy ones.
    const ids = [...new Set(signals.filter((s) => s.state === 'unhealthy').map((s) => s.instanceId))];
    if (ids.length === 0) return views;
    try {
      views.instances = await fleet.describeInstances(ids, signal);
    } catch (error) {
      if (ids.length === 1 || isRetryable(error)) {
        for (const id of ids) views.failed.set(id, error);
        return views;
      }
      for (const id of ids) {
        try {
          for (const [key, view] of await fleet.describeInstances([id], signal)) views.instances.set(key, view);
        } catch (alone) {
          views.failed.set(id, alone);
        }
      }
    }
    const names = [...new Set([...views.instances.values()].map((i) => i.groupName))];
    if (names.length === 0) return views;
    try {
      for (const group of await fleet.describeGroups(names, signal)) views.groups.set(group.name, group);
    } catch (error) {
      for (const view of views.instances.values()) views.failed.set(view.instanceId, error);
    }
    return views;
  }

  const ledgerOf = (groupName: string): GroupLedger => ledgers.get(groupName) ?? emptyLedger;

  /** The time an operator resumed the group (`autoheal resume`), if its tag says one. */
  function resumedAtMs(group: GroupView): number | undefined {
    const value = group.tags[policy.resumeTagKey];
    const ms = value === undefined ? Number.NaN : Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }

  /** Records the observer's vote; returns the observers agreeing now. */
  function vote(s: HealthSignal, nowMs: number): string[] {
    // A verdict stamped in the future counts from now: it cannot outlive the window by lying about its time.
    const atMs = Math.min(Date.parse(s.observedAt) || 0, nowMs);
    const next = recordVote(votes.get(s.instanceId) ?? [], { observer: s.observer ?? unnamedObserver, unhealthy: s.state === 'unhealthy', atMs }, policy.quorumWindowMs);
    if (next.length === 0) votes.delete(s.instanceId);
    else votes.set(s.instanceId, next);
    if (votes.size > 10_000) votes.delete(votes.keys().next().value as string);
    return agreeingObservers(next, nowMs, policy.quorumWindowMs);
  }

  async function handleOne(s: HealthSignal, views: Views, abort?: AbortSignal): Promise<VerdictRecord> {
    const startedMs = performance.now();
    const nowMs = clock();
    const instance = views.instances.get(s.instanceId);
    const group = instance ? views.groups.get(instance.groupName) : undefined;
    const record = (verdict: Verdict, failure?: unknown): VerdictRecord => ({
      signal: s,
      verdict,
      ...(group ? { groupName: group.name } : instance ? { groupName: instance.groupName } : {}),
      dryRun: dryRun && verdict.action === 'mark',
      ...(failure !== undefined ? { error: describeError(failure), retryable: isRetryable(failure) } : {}),
      ms: Math.round((performance.now() - startedMs) * 10) / 10,
    });

    const agreeing = s.source === 'probe' ? vote(s, nowMs) : undefined;

    if (s.state === 'unhealthy' && views.failed.has(s.instanceId)) {
      return record({ action: 'skip', reason: 'unavailable', detail: 'could not read the fleet' }, views.failed.get(s.instanceId));
    }

    let ledger = group ? ledgerOf(group.name) : emptyLedger;
    const resumedAt = group ? resumedAtMs(group) : undefined;
    // Suspicion counts what the evidence as a whole says: an alarm, or a probe verdict the quorum backs.
    const counts = s.source !== 'probe' || (agreeing?.length ?? 0) >= policy.probeQuorum;
    if (group && instance && s.state === 'unhealthy' && counts && isOptedIn(group, policy) && instance.lifecycleState === 'InService') {
      const before = activeHold(ledger, nowMs, resumedAt);
      ledger = recordReport(ledger, { instanceId: s.instanceId, atMs: nowMs, ...(instance.availabilityZone ? { zone: instance.availabilityZone } : {}) }, group, policy, resumedAt);
      ledgers.set(group.name, ledger);
      const after = activeHold(ledger, nowMs, resumedAt);
      if (after && after.reason !== before?.reason) {
        logger.warn({ group: group.name, reason: after.reason, detail: after.detail, untilMs: after.untilMs }, 'group held');
        events.emit('healer:hold:started', { groupName: group.name, hold: after });
      }
    }

    const hold = activeHold(ledger, nowMs, resumedAt);
    const input: DecideInput = {
      signal: s,
      ...(instance ? { instance } : {}),
      ...(group ? { group } : {}),
      nowMs,
      options: policy,
      duplicate: recent.has(s.instanceId, nowMs),
      unhealthyInGroup: group ? budgetInUse(group, recent.inGroup(group.name, nowMs)) : 0,
      marksInWindow: marksInWindow(ledger, nowMs, policy),
      ...(hold ? { hold } : {}),
      ...(agreeing ? { agreeingObservers: agreeing } : {}),
    };
    let verdict = decide(input);

    // Probe evidence is re-checked by the quorum window, never against an alarm that does not exist.
    if (verdict.action === 'mark' && s.source !== 'probe' && isStale(s, nowMs, policy)) {
      if (options.alarms && s.alarmName) {
        try {
          verdict = decide({ ...input, recheck: { state: await options.alarms.alarmState(s.alarmName, abort) } });
        } catch (error) {
          return record({ action: 'skip', reason: 'unavailable', detail: `could not re-check alarm ${s.alarmName}` }, error);
        }
      } else {
        // Nothing to re-read (no alarm name, or no CloudWatch access): the evidence stands, and says so.
        verdict = { ...verdict, detail: `${verdict.detail ?? ''}; stale evidence not re-checked` };
      }
    }

    if (verdict.action !== 'mark' || !group || !instance) return record(verdict);
    if (!dryRun) {
      try {
        await fleet.setInstanceHealth(s.instanceId, 'Unhealthy', { respectGracePeriod, ...(abort ? { signal: abort } : {}) });
      } catch (error) {
        // Auto Scaling refuses a mark inside the grace period it knows of: a hold, not a failure.
        if (error instanceof GracePeriodRefusedError) return record({ action: 'skip', reason: 'inGracePeriod', detail: describeError(error) });
        return record(verdict, error);
      }
    }
    recent.add(s.instanceId, group.name, nowMs);
    const before = ledgerOf(group.name);
    const marked = recordMark(before, { instanceId: s.instanceId, atMs: nowMs, young: isYoung(instance, nowMs, policy, before) }, policy);
    ledgers.set(group.name, marked);
    if (marked.hold?.reason === 'loopBreaker' && marked.hold !== ledger.hold) {
      logger.warn({ group: group.name, reason: 'loopBreaker', detail: marked.hold.detail, untilMs: marked.hold.untilMs }, 'group held');
      events.emit('healer:hold:started', { groupName: group.name, hold: marked.hold });
    }
    return record(verdict);
  }

  /** Logs and emits one record; a skip is only emitted (not logged) when `quiet`. */
  function report(r: VerdictRecord, quiet = false): void {
    const line = {
      instanceId: r.signal.instanceId,
      group: r.groupName ?? null,
      action: r.verdict.action,
      reason: r.verdict.reason,
      detail: r.verdict.detail ?? null,
      source: r.signal.source,
      eventId: r.signal.eventId,
      ms: r.ms,
      ...(r.signal.observer ? { observer: r.signal.observer } : {}),
      ...(r.dryRun ? { dryRun: true } : {}),
      ...(r.signal.recordId ? { recordId: r.signal.recordId } : {}),
    };
    if (r.error !== undefined) {
      logger.error({ ...line, error: r.error, retryable: r.retryable }, 'verdict: work failed');
      events.emit('healer:mark:failed', r);
    } else {
      if (!quiet) logger.info(line, 'verdict');
      events.emit(r.verdict.action === 'mark' ? 'healer:verdict:marked' : 'healer:verdict:skipped', r);
    }
  }

  async function handleSignals(signals: readonly HealthSignal[], opts: { signal?: AbortSignal } = {}): Promise<VerdictRecord[]> {
    const views = await readViews(signals, opts.signal);
    const records: VerdictRecord[] = [];
    // Marks and failures are always logged; skips up to maxItemsPerEvent per call, then counted by reason.
    let skipsLogged = 0;
    const skipsOmitted: Record<string, number> = {};
    // In order, one at a time, each under its group's lock: every mark is known before the next decision.
    for (const s of signals) {
      let r: VerdictRecord;
      try {
        const groupName = views.instances.get(s.instanceId)?.groupName;
        r = groupName === undefined ? await handleOne(s, views, opts.signal) : await locks.run(groupName, () => handleOne(s, views, opts.signal));
      } catch (error) {
        // A bug, not a remote failure: still a record, never an exception out of the healer.
        r = { signal: s, verdict: { action: 'skip', reason: 'unavailable' }, dryRun: false, error: describeError(error), retryable: true, ms: 0 };
      }
      const quiet = r.verdict.action === 'skip' && r.error === undefined && skipsLogged >= maxItemsPerEvent;
      if (quiet) skipsOmitted[r.verdict.reason] = (skipsOmitted[r.verdict.reason] ?? 0) + 1;
      else if (r.verdict.action === 'skip' && r.error === undefined) skipsLogged++;
      report(r, quiet);
      records.push(r);
    }
    const omitted = Object.values(skipsOmitted).reduce((a, b) => a + b, 0);
    if (omitted > 0) logger.info({ omitted, byReason: skipsOmitted }, 'verdicts: more skips, not logged one by one');
    return records;
  }

  async function handle(input: unknown, opts: { signal?: AbortSignal } = {}): Promise<HealReport> {
    let parsed: ParseResult;
    try {
      parsed = parseEvent(input);
    } catch (error) {
      parsed = { signals: [], lifecycle: [], rejected: [{ reason: `unparseable: ${describeError(error)}` }] };
    }
    // Bounded: a body of a million bad records writes a hundred lines and a count, not a million.
    const rejections = capList(parsed.rejected);
    for (const rejection of rejections.items) logger.warn({ ...rejection }, 'rejected: no signal in this input');
    if (rejections.omitted > 0) {
      logger.warn({ omitted: rejections.omitted, total: parsed.rejected.length }, 'rejected: more records with no signal, not logged one by one');
    }

    const verdicts = await handleSignals(parsed.signals, opts);
    const failed = new Set<string>();
    let retry = false;
    for (const v of verdicts) {
      if (v.error === undefined) continue;
      retry ||= v.retryable === true;
      if (v.signal.recordId) failed.add(v.signal.recordId);
    }

    if (parsed.lifecycle.length > 0) {
      if (options.onLifecycle) {
        try {
          await options.onLifecycle(parsed.lifecycle, opts.signal);
        } catch (error) {
          retry ||= isRetryable(error);
          for (const l of parsed.lifecycle) if (l.recordId) failed.add(l.recordId);
          logger.error({ error: describeError(error), count: parsed.lifecycle.length }, 'lifecycle handling failed');
        }
      } else {
        logger.debug({ count: parsed.lifecycle.length }, 'lifecycle signals ignored: no onLifecycle');
      }
    }
    return { ...parsed, verdicts, failedRecordIds: [...failed], retry };
  }

  /** What the rails hold for a group now (for `autoheal status`). */
  function railsOf(group: GroupView) {
    const nowMs = clock();
    const ledger = ledgerOf(group.name);
    const hold = activeHold(ledger, nowMs, resumedAtMs(group));
    return {
      marksInWindow: marksInWindow(ledger, nowMs, policy),
      budgetInUse: budgetInUse(group, recent.inGroup(group.name, nowMs)),
      ...(hold ? { hold } : {}),
    };
  }

  return { handle, handleSignals, railsOf, events };
}
