/**
 * One group's signals of one call, under the group's lock (./healer.ts). The ledger (./ledger.ts)
 * may be shared by any number of healers in any number of processes, so marks follow a protocol:
 *
 * 1. Re-check stale alarm evidence (./evidence.ts recheckStale): the decisions' only I/O, done
 *    first so that steps 2-4 can run again at no cost.
 * 2. Read the group's entry: its ledger and version.
 * 3. Decide every signal against it, pure, clock passed in: votes, reports, holds, and each mark
 *    as a reservation — recorded as a mark, so the budget, the rate limit and the duplicate check
 *    of every other healer count it from the moment it lands.
 * 4. Commit with a conditional write on the version. Another writer came first: back off, read
 *    again, decide again (./commit.ts). Past the attempts every signal fails retryable — never a
 *    silent skip, never a mark.
 * 5. Only then SetInstanceHealth, once per reservation: no instance is marked but under a committed
 *    reservation, so two healers can never spend the same budget. A mark that fails, or that Auto
 *    Scaling refuses, releases its reservation (steps 2-4 again); a release that cannot be written
 *    stays until it leaves the duplicate and rate windows — the budget stays spent a while, it is
 *    never over-spent.
 *
 * Events (holds and zones that started) are announced only for the decision that committed.
 */
import { describeError, RemoteError } from '../errors.js';
import type { GroupView } from '../fleet/port.js';
import { capacityOf } from '../policy/budget.js';
import { decide, isStale, type DecideInput } from '../policy/decide.js';
import { activeHold, budgetMarks, markedRecently, type GroupLedger, type Hold, type LedgerMark } from '../policy/ledger.js';
import { isYoung, marksInWindow, recordMark, releaseMark, settle } from '../policy/rails.js';
import { zonesDownNow } from '../policy/suspicion.js';
import { readResume } from '../policy/tags.js';
import type { Verdict } from '../policy/types.js';
import { commitLoop, type Step } from './commit.js';
import { overridesReplacement } from '../fleet/replacement.js';
import type { HealerContext, Pending } from './context.js';
import { gatherEvidence, recheckStale } from './evidence.js';
import type { LedgerEntry } from './ledger.js';
import { verdictRecord } from './records.js';
import type { GroupRails, VerdictRecord } from './types.js';

/** What was decided for one signal; a mark carries the reservation it was committed under. */
interface Outcome {
  p: Pending;
  verdict: Verdict;
  failure?: unknown;
  reservation?: LedgerMark;
}

/** A decision of the whole batch: each signal's outcome, and what to announce if it commits. */
interface BatchDecision {
  outcomes: Outcome[];
  announce: (() => void)[];
}

/** Announces a hold that started (logged, and emitted for notices). */
function holdStarted(ctx: HealerContext, groupName: string, hold: Hold): void {
  ctx.logger.warn({ group: groupName, reason: hold.reason, detail: hold.detail, untilMs: hold.untilMs ?? null }, 'group held');
  ctx.events.emit('healer:hold:started', { groupName, hold });
}

/** Decides one signal of the group; a mark becomes a reservation in the ledger. Pure. */
function decideOne(ctx: HealerContext, ledger: GroupLedger, p: Pending, group: GroupView, nowMs: number, resumedAtMs: number | undefined, announce: (() => void)[]): { ledger: GroupLedger; outcome: Outcome } {
  const { signal: s, instance } = p;
  const done = (verdict: Verdict, failure?: unknown) => ({ ledger, outcome: { p, verdict, ...(failure !== undefined ? { failure } : {}) } });
  if (p.rejected) return done(p.rejected);
  if (p.failed) return done(p.failed.verdict, p.failed.error);

  const hold = activeHold(ledger, nowMs, resumedAtMs);
  const input: DecideInput = {
    signal: s,
    instance,
    group,
    nowMs,
    options: ctx.policy,
    duplicate: markedRecently(ledger, s.instanceId, nowMs, ctx.policy),
    capacity: capacityOf(group, budgetMarks(ledger, group, nowMs, ctx.policy)),
    marksInWindow: marksInWindow(ledger, nowMs, ctx.policy),
    ...(hold ? { hold } : {}),
    ...(p.agreeing ? { agreeingObservers: p.agreeing } : {}),
    ...(p.recheck ? { recheck: p.recheck } : {}),
  };
  let verdict = decide(input);
  // Missing facts are retried (a batch item failure, a Lambda retry): never a silent skip.
  if (verdict.reason === 'unavailable') return done(verdict, new RemoteError('ec2:DescribeInstances', verdict.detail ?? 'facts missing', { retryable: true }));
  if (verdict.action !== 'mark') return done(verdict);
  // Nothing to re-read (no alarm name, or no CloudWatch access): the evidence stands, and says so.
  if (s.source !== 'probe' && !p.recheck && isStale(s, nowMs, ctx.policy)) verdict = { ...verdict, detail: `${verdict.detail ?? ''}; stale evidence not re-checked` };

  const reservation = { instanceId: s.instanceId, atMs: nowMs, young: isYoung(instance, nowMs, ctx.policy, ledger), ...(instance.availabilityZone ? { zone: instance.availabilityZone } : {}) };
  const reserved = recordMark(ledger, reservation, ctx.policy);
  const loopHold = reserved.hold;
  if (loopHold?.reason === 'loopBreaker' && loopHold !== ledger.hold) announce.push(() => holdStarted(ctx, group.name, loopHold));
  return { ledger: reserved, outcome: { p, verdict, reservation } };
}

/** Steps 2-3 of the protocol for one read of the entry: settle, evidence, decisions. Pure. */
function decideBatch(ctx: HealerContext, entry: LedgerEntry, pending: readonly Pending[], group: GroupView, nowMs: number): Step<BatchDecision> {
  const groupName = group.name;
  const announce: (() => void)[] = [];
  const resume = readResume(entry.ledger, group.tags[ctx.policy.resumeTagKey], nowMs);
  const futureMs = resume.futureMs;
  if (futureMs !== undefined && resume.ledger !== entry.ledger) {
    announce.push(() => {
      ctx.logger.warn({ group: groupName, tag: ctx.policy.resumeTagKey, at: new Date(futureMs).toISOString(), countsAs: new Date(nowMs).toISOString() }, 'resume time in the future: counted as now');
      ctx.events.emit('healer:resume:future', { groupName, tagKey: ctx.policy.resumeTagKey, tagMs: futureMs, countsAsMs: nowMs });
    });
  }
  let ledger = settle(resume.ledger, group, nowMs, ctx.policy, resume.atMs);
  // Zones are only counted where the fleet knows them.
  const zoned = group.instances.some((i) => i.availabilityZone !== undefined);
  const zonesDown = () => (zoned ? zonesDownNow(ledger, group, nowMs, ctx.policy, resume.atMs) : []);
  const holdBefore = activeHold(ledger, nowMs, resume.atMs);
  const zonesBefore = new Set(zonesDown().map((down) => down.zone));
  for (const p of pending) ledger = gatherEvidence(ctx, ledger, p, group, nowMs, resume.atMs);
  const holdAfter = activeHold(ledger, nowMs, resume.atMs);
  if (holdAfter && holdAfter.reason !== holdBefore?.reason) announce.push(() => holdStarted(ctx, groupName, holdAfter));
  if (holdAfter === undefined) {
    for (const zone of zonesDown()) {
      if (zonesBefore.has(zone.zone)) continue;
      announce.push(() => {
        ctx.logger.warn({ group: groupName, zone: zone.zone, reported: zone.reported, of: zone.of, from: zone.from }, 'zone reported down: healing it within the budget');
        ctx.events.emit('healer:zone:down', { groupName, zone });
      });
    }
  }
  const outcomes: Outcome[] = [];
  for (const p of pending) {
    const done = decideOne(ctx, ledger, p, group, nowMs, resume.atMs, announce);
    ledger = done.ledger;
    outcomes.push(done.outcome);
  }
  return { ledger, result: { outcomes, announce } };
}

/** Step 5's way back: releases the reservations of marks that were not made; what cannot be released expires (fail closed). */
async function release(ctx: HealerContext, key: string, groupName: string, reservations: readonly LedgerMark[], abort?: AbortSignal): Promise<void> {
  if (reservations.length === 0) return;
  try {
    await commitLoop(ctx.ledger, key, (entry) => ({ ledger: reservations.reduce(releaseMark, entry.ledger), result: undefined }), ctx.seam, abort);
  } catch (error) {
    ctx.logger.warn(
      { group: groupName, instanceIds: reservations.map((r) => r.instanceId), error: describeError(error) },
      'reservation not released: it counts in the budget until it leaves the duplicate window, and in the rate limit until it leaves the rate window',
    );
  }
}

/**
 * Runs the protocol for the signals of one group (in call order) and puts each record at its
 * index in `records`. A group the fleet no longer has decides without a ledger (notInGroup).
 * Throws when the ledger cannot be read or the decision not committed: the caller records every
 * signal as failed and retryable.
 */
export async function decideGroup(ctx: HealerContext, groupName: string, pending: readonly Pending[], group: GroupView | undefined, records: VerdictRecord[], abort?: AbortSignal): Promise<void> {
  const record = (o: Outcome) => {
    records[o.p.index] = verdictRecord(o.p.signal, o.verdict, {
      groupName,
      dryRun: ctx.dryRun,
      startedMs: o.p.startedMs,
      replacementOverridden: overridesReplacement(ctx.replacement, group?.maintenancePolicy),
      ...(o.failure !== undefined ? { failure: o.failure } : {}),
    });
  };
  if (group === undefined) {
    const nowMs = ctx.clock();
    for (const p of pending) {
      record({ p, verdict: decide({ signal: p.signal, instance: p.instance, nowMs, options: ctx.policy, duplicate: false, capacity: { inUse: 0, base: 0, missing: 0 } }) });
    }
    return;
  }

  for (const p of pending) await recheckStale(ctx, p, group, ctx.clock(), abort);
  const key = ctx.ledgerKey(groupName);
  const committed = await commitLoop(ctx.ledger, key, (entry) => decideBatch(ctx, entry, pending, group, ctx.clock()), ctx.seam, abort);
  if (committed.conflicts > 0) ctx.logger.debug({ group: groupName, conflicts: committed.conflicts }, 'ledger: decided again after other writers');
  ctx.events.emit('healer:ledger:committed', { groupName, conflicts: committed.conflicts });
  for (const announce of committed.result.announce) announce();

  const unmade: LedgerMark[] = [];
  for (const o of committed.result.outcomes) {
    if (o.reservation === undefined) {
      record(o);
      continue;
    }
    const marked = await ctx.mark({ signal: o.p.signal, instance: o.p.instance, group, atMs: o.reservation.atMs }, o.verdict, abort);
    if (marked.error !== undefined || marked.verdict.action !== 'mark') unmade.push(o.reservation);
    record({ p: o.p, verdict: marked.verdict, ...(marked.error !== undefined ? { failure: marked.error } : {}) });
  }
  await release(ctx, key, groupName, unmade, abort);
}

/** What the rails hold for a group now, from its ledger (for `autoheal status` and tests); writes nothing. */
export async function railsOf(ctx: HealerContext, group: GroupView): Promise<GroupRails> {
  const nowMs = ctx.clock();
  const { ledger: stored } = await ctx.ledger.read(ctx.ledgerKey(group.name));
  const resume = readResume(stored, group.tags[ctx.policy.resumeTagKey], nowMs);
  const ledger = settle(resume.ledger, group, nowMs, ctx.policy, resume.atMs);
  const hold = activeHold(ledger, nowMs, resume.atMs);
  return {
    marksInWindow: marksInWindow(ledger, nowMs, ctx.policy),
    budgetInUse: capacityOf(group, budgetMarks(ledger, group, nowMs, ctx.policy)).inUse,
    ...(hold ? { hold } : {}),
  };
}
