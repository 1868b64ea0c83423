/**
 * The core's runner. For one input: parse it into signals, read the views of their instances and
 * groups (one describe call each per batch), decide every signal in order (a mark made earlier
 * in the batch uses budget for the later ones), re-check stale alarm evidence, and mark through
 * the fleet port unless dry-run. It never throws: what fails becomes a record with an error.
 */
import { describeError, isRetryable } from '../errors.js';
import { TypedEvents } from '../events.js';
import type { GroupView, InstanceView } from '../fleet/port.js';
import { silentLogger } from '../log.js';
import { decide, isStale, type DecideInput } from '../policy/decide.js';
import type { Verdict } from '../policy/types.js';
import { Reason } from '../policy/types.js';
import { parseEvent } from '../signals/index.js';
import type { HealthSignal, ParseResult } from '../signals/types.js';
import { RecentMarks } from './recent-marks.js';
import type { HealReport, Healer, HealerEvents, HealerOptions, VerdictRecord } from './types.js';

interface Views {
  instances: Map<string, InstanceView>;
  groups: Map<string, GroupView>;
  /** Set when the views could not be read: every unhealthy signal of the batch fails with it. */
  error?: unknown;
}

/** Creates a healer. Options are taken as given: `policy` must already be validated (policyOptionsSchema). */
export function createHealer(options: HealerOptions): Healer {
  const { fleet, policy } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const respectGracePeriod = options.respectGracePeriod ?? true;
  const recent = new RecentMarks(policy.duplicateWindowMs);
  const events = new TypedEvents<HealerEvents>((error, event) =>
    logger.warn({ event, error: describeError(error) }, 'healer event listener failed'),
  );

  async function readViews(signals: readonly HealthSignal[], signal?: AbortSignal): Promise<Views> {
    const views: Views = { instances: new Map(), groups: new Map() };
    // Healthy signals are skipped before any view is needed: describe only the unhealthy ones.
    const ids = [...new Set(signals.filter((s) => s.state === 'unhealthy').map((s) => s.instanceId))];
    if (ids.length === 0) return views;
    try {
      views.instances = await fleet.describeInstances(ids, signal);
      const names = [...new Set([...views.instances.values()].map((i) => i.groupName))];
      if (names.length > 0) for (const group of await fleet.describeGroups(names, signal)) views.groups.set(group.name, group);
    } catch (error) {
      views.error = error;
    }
    return views;
  }

  /**
   * Instances of the group marked Unhealthy and not yet replaced: the Unhealthy ones still present
   * (with our own marks the view may not show yet), or, once they are gone, the shortfall of
   * InService Healthy instances against desired capacity while their replacements launch. Without
   * the shortfall the budget would free up as soon as a marked instance terminated (~20 s on EC2),
   * and the next wave could be marked while the first one's replacements still boot.
   */
  function unhealthyInGroup(group: GroupView, nowMs: number): number {
    const present = group.instances.filter((i) => i.lifecycleState !== 'Terminated');
    const ids = new Set(present.filter((i) => i.healthStatus === 'Unhealthy').map((i) => i.instanceId));
    const inGroup = new Set(present.map((i) => i.instanceId));
    for (const id of recent.inGroup(group.name, nowMs)) if (inGroup.has(id)) ids.add(id);
    const serving = present.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy' && !ids.has(i.instanceId));
    return Math.max(ids.size, group.desiredCapacity - serving.length);
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

    if (s.state === 'unhealthy' && views.error !== undefined) {
      return record({ action: 'skip', reason: 'unavailable', detail: 'could not read the fleet' }, views.error);
    }

    const input: DecideInput = {
      signal: s,
      ...(instance ? { instance } : {}),
      ...(group ? { group } : {}),
      nowMs,
      options: policy,
      duplicate: recent.has(s.instanceId, nowMs),
      unhealthyInGroup: group ? unhealthyInGroup(group, nowMs) : 0,
    };
    let verdict = decide(input);

    if (verdict.action === 'mark' && isStale(s, nowMs, policy)) {
      if (options.alarms && s.alarmName) {
        try {
          verdict = decide({ ...input, recheck: { state: await options.alarms.alarmState(s.alarmName, abort) } });
        } catch (error) {
          return record({ action: 'skip', reason: 'unavailable', detail: `could not re-check alarm ${s.alarmName}` }, error);
        }
      } else {
        // Nothing to re-read (a probe result, or no CloudWatch access): the evidence stands.
        verdict = { ...verdict, detail: `${verdict.detail ?? ''}; stale evidence not re-checked` };
      }
    }

    if (verdict.action !== 'mark' || !group) return record(verdict);
    if (!dryRun) {
      try {
        await fleet.setInstanceHealth(s.instanceId, 'Unhealthy', { respectGracePeriod, ...(abort ? { signal: abort } : {}) });
      } catch (error) {
        return record(verdict, error);
      }
    }
    recent.add(s.instanceId, group.name, nowMs);
    return record(verdict);
  }

  function report(r: VerdictRecord): void {
    const line = {
      instanceId: r.signal.instanceId,
      group: r.groupName ?? null,
      action: r.verdict.action,
      reason: Reason[r.verdict.reason],
      detail: r.verdict.detail ?? null,
      source: r.signal.source,
      eventId: r.signal.eventId,
      ms: r.ms,
      ...(r.dryRun ? { dryRun: true } : {}),
      ...(r.signal.recordId ? { recordId: r.signal.recordId } : {}),
    };
    if (r.error !== undefined) {
      logger.error({ ...line, error: r.error, retryable: r.retryable }, 'verdict: work failed');
      events.emit('healer:mark:failed', r);
    } else {
      logger.info(line, 'verdict');
      events.emit(r.verdict.action === 'mark' ? 'healer:verdict:marked' : 'healer:verdict:skipped', r);
    }
  }

  async function handleSignals(signals: readonly HealthSignal[], opts: { signal?: AbortSignal } = {}): Promise<VerdictRecord[]> {
    const views = await readViews(signals, opts.signal);
    const records: VerdictRecord[] = [];
    // In order, one at a time: each mark must be known before the next signal's budget check.
    for (const s of signals) {
      let r: VerdictRecord;
      try {
        r = await handleOne(s, views, opts.signal);
      } catch (error) {
        // A bug, not a remote failure: still a record, never an exception out of the healer.
        r = { signal: s, verdict: { action: 'skip', reason: 'unavailable' }, dryRun: false, error: describeError(error), retryable: true, ms: 0 };
      }
      report(r);
      records.push(r);
    }
    return records;
  }

  async function handle(input: unknown, opts: { signal?: AbortSignal } = {}): Promise<HealReport> {
    let parsed: ParseResult;
    try {
      parsed = parseEvent(input);
    } catch (error) {
      parsed = { signals: [], lifecycle: [], rejected: [{ reason: `unparseable: ${describeError(error)}` }] };
    }
    for (const rejection of parsed.rejected) logger.warn({ ...rejection }, 'rejected: no signal in this input');

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

  return { handle, handleSignals, events };
}
