/**
 * One group's signals of one call, under the group's lock (./healer.ts): the ledger is read once
 * before anything is decided and written once after, here and nowhere else.
 *
 *   read ledger → settle (drop what no rail needs) → resume tag
 *   → evidence, every signal: vote, re-check, report (./evidence.ts)
 *   → holds and zones that started: events
 *   → decision, each signal in order: decide, mark, remember the mark
 *   → write ledger
 */
import { RemoteError } from '../errors.js';
import type { GroupView } from '../fleet/port.js';
import { capacityOf } from '../policy/budget.js';
import { decide, isStale, type DecideInput } from '../policy/decide.js';
import { activeHold, budgetMarks, markedRecently, type GroupLedger, type Hold } from '../policy/ledger.js';
import { isYoung, marksInWindow, recordMark, settle } from '../policy/rails.js';
import { zonesDownNow } from '../policy/suspicion.js';
import { readResume } from '../policy/tags.js';
import type { Verdict } from '../policy/types.js';
import type { HealerContext, Pending } from './context.js';
import { gatherEvidence } from './evidence.js';
import { verdictRecord } from './records.js';
import type { GroupRails, VerdictRecord } from './types.js';

/** Announces a hold that started (logged, and emitted for notices). */
function holdStarted(ctx: HealerContext, groupName: string, hold: Hold): void {
  ctx.logger.warn({ group: groupName, reason: hold.reason, detail: hold.detail, untilMs: hold.untilMs ?? null }, 'group held');
  ctx.events.emit('healer:hold:started', { groupName, hold });
}

/** Decides one signal of the group, and marks it when the verdict says so. */
async function decideOne(
  ctx: HealerContext,
  ledger: GroupLedger,
  p: Pending,
  group: GroupView,
  nowMs: number,
  resumedAtMs: number | undefined,
  abort?: AbortSignal,
): Promise<{ ledger: GroupLedger; record: VerdictRecord }> {
  const { signal: s, instance } = p;
  const record = (verdict: Verdict, failure?: unknown) => ({
    ledger,
    record: verdictRecord(s, verdict, { groupName: group.name, dryRun: ctx.dryRun, startedMs: p.startedMs, ...(failure !== undefined ? { failure } : {}) }),
  });
  if (p.rejected) return record(p.rejected);
  if (p.failed) return record(p.failed.verdict, p.failed.error);

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
  if (verdict.reason === 'unavailable') return record(verdict, new RemoteError('ec2:DescribeInstances', verdict.detail ?? 'facts missing', { retryable: true }));
  if (verdict.action !== 'mark') return record(verdict);
  // Nothing to re-read (no alarm name, or no CloudWatch access): the evidence stands, and says so.
  if (s.source !== 'probe' && !p.recheck && isStale(s, nowMs, ctx.policy)) verdict = { ...verdict, detail: `${verdict.detail ?? ''}; stale evidence not re-checked` };

  const outcome = await ctx.mark({ signal: s, instance, group, atMs: nowMs }, verdict, abort);
  if (outcome.error !== undefined || outcome.verdict.action !== 'mark') return record(outcome.verdict, outcome.error);
  const mark = { instanceId: s.instanceId, atMs: nowMs, young: isYoung(instance, nowMs, ctx.policy, ledger), ...(instance.availabilityZone ? { zone: instance.availabilityZone } : {}) };
  const marked = recordMark(ledger, mark, ctx.policy);
  if (marked.hold?.reason === 'loopBreaker' && marked.hold !== ledger.hold) holdStarted(ctx, group.name, marked.hold);
  ledger = marked;
  return record(outcome.verdict);
}

/**
 * Runs the stages for the signals of one group (in call order) and puts each record at its
 * index in `records`. A group the fleet no longer has decides without a ledger (notInGroup).
 */
export async function decideGroup(ctx: HealerContext, groupName: string, pending: readonly Pending[], group: GroupView | undefined, records: VerdictRecord[], abort?: AbortSignal): Promise<void> {
  const nowMs = ctx.clock();
  if (group === undefined) {
    for (const p of pending) {
      const verdict = decide({ signal: p.signal, instance: p.instance, nowMs, options: ctx.policy, duplicate: false, capacity: { inUse: 0, base: 0, missing: 0 } });
      records[p.index] = verdictRecord(p.signal, verdict, { groupName, dryRun: ctx.dryRun, startedMs: p.startedMs });
    }
    return;
  }

  const { ledger: stored, version } = await ctx.ledger.read(groupName, abort);
  const resume = readResume(stored, group.tags[ctx.policy.resumeTagKey], nowMs);
  if (resume.futureMs !== undefined && resume.ledger !== stored) {
    ctx.logger.warn({ group: groupName, tag: ctx.policy.resumeTagKey, at: new Date(resume.futureMs).toISOString(), countsAs: new Date(nowMs).toISOString() }, 'resume time in the future: counted as now');
    ctx.events.emit('healer:resume:future', { groupName, tagKey: ctx.policy.resumeTagKey, tagMs: resume.futureMs, countsAsMs: nowMs });
  }
  let ledger = settle(resume.ledger, group, nowMs, ctx.policy, resume.atMs);
  // Zones are only counted where the fleet knows them.
  const zoned = group.instances.some((i) => i.availabilityZone !== undefined);
  const zonesDown = () => (zoned ? zonesDownNow(ledger, group, nowMs, ctx.policy, resume.atMs) : []);
  try {
    const holdBefore = activeHold(ledger, nowMs, resume.atMs);
    const zonesBefore = new Set(zonesDown().map((down) => down.zone));
    for (const p of pending) ledger = await gatherEvidence(ctx, ledger, p, group, nowMs, resume.atMs, abort);
    const holdAfter = activeHold(ledger, nowMs, resume.atMs);
    if (holdAfter && holdAfter.reason !== holdBefore?.reason) holdStarted(ctx, groupName, holdAfter);
    if (holdAfter === undefined) {
      for (const zone of zonesDown()) {
        if (zonesBefore.has(zone.zone)) continue;
        ctx.logger.warn({ group: groupName, zone: zone.zone, reported: zone.reported, of: zone.of, from: zone.from }, 'zone reported down: healing it within the budget');
        ctx.events.emit('healer:zone:down', { groupName, zone });
      }
    }
    for (const p of pending) {
      const done = await decideOne(ctx, ledger, p, group, nowMs, resume.atMs, abort);
      ledger = done.ledger;
      records[p.index] = done.record;
    }
  } finally {
    await ctx.ledger.write(groupName, ledger, version, abort);
  }
}

/** What the rails hold for a group now, from its ledger (for `autoheal status` and tests); writes nothing. */
export async function railsOf(ctx: HealerContext, group: GroupView): Promise<GroupRails> {
  const nowMs = ctx.clock();
  const { ledger: stored } = await ctx.ledger.read(group.name);
  const resume = readResume(stored, group.tags[ctx.policy.resumeTagKey], nowMs);
  const ledger = settle(resume.ledger, group, nowMs, ctx.policy, resume.atMs);
  const hold = activeHold(ledger, nowMs, resume.atMs);
  return {
    marksInWindow: marksInWindow(ledger, nowMs, ctx.policy),
    budgetInUse: capacityOf(group, budgetMarks(ledger, group, nowMs, ctx.policy)).inUse,
    ...(hold ? { hold } : {}),
  };
}
