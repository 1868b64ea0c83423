/**
 * Stage 2 of the healer, for every signal of a group's batch before any decision: the vote,
 * the re-check and the report.
 *
 * - Vote: a probe verdict is its observer's vote about the instance (the quorum, in the ledger),
 *   unless it is already older than the quorum window (a backlog held it): then it is none.
 * - Re-check: only evidence that stands counts. Stale alarm evidence (older than staleAfterMs, or
 *   stamped in the future) is re-read before it is reported (once, before the ledger is read), so a backlog of old alarms replayed
 *   at once (Lambda keeps async events for hours) is skipped `stale` and never freezes a group.
 * - Report: evidence that stands, about an InService instance of a managed group, is reported to
 *   suspicion (an alarm, or a probe verdict the quorum backs).
 *
 * All of a batch's reports are counted before anything of it is marked: the scheduled run
 * re-decides every alarm still in ALARM at once, and with its reports counted first a group whose
 * alarms are all wrongly in ALARM freezes again before a single mark.
 */
import { isOptedIn, isStale } from '../policy/decide.js';
import type { GroupView } from '../fleet/port.js';
import type { GroupLedger } from '../policy/ledger.js';
import { agreeingObservers, recordInstanceVote, voteExpired, votesOf, voteTimeMs } from '../policy/quorum.js';
import { recordReport } from '../policy/suspicion.js';
import { voterProblem } from '../policy/voters.js';
import type { HealerContext, Pending } from './context.js';

/** The observer a probe verdict without a name counts as (a single prober of an older version). */
const unnamedObserver = 'observer';

/** Records the probe vote of `p` (if it is one, from an observer that may vote); sets `p.agreeing`, or `p.rejected`. */
export function vote(ctx: HealerContext, ledger: GroupLedger, p: Pending, nowMs: number): GroupLedger {
  const s = p.signal;
  // Set afresh each time: a commit that lost a race decides again from another ledger.
  delete p.agreeing;
  if (s.source !== 'probe') return ledger;
  const problem = voterProblem(ctx.policy.voters, s.observer ?? unnamedObserver, s.sender);
  if (problem !== undefined) {
    p.rejected = { action: 'skip', reason: 'unknownObserver', detail: problem };
    return ledger;
  }
  const atMs = voteTimeMs(s.observedAt, nowMs);
  // Too old to count: no vote (the policy names the skip, voteExpired), and no report.
  if (voteExpired(atMs, nowMs, ctx.policy.quorumWindowMs)) return ledger;
  const next = recordInstanceVote(ledger, s.instanceId, { observer: s.observer ?? unnamedObserver, unhealthy: s.state === 'unhealthy', atMs }, ctx.policy.quorumWindowMs);
  p.agreeing = agreeingObservers(votesOf(next, s.instanceId), nowMs, ctx.policy.quorumWindowMs);
  return next;
}

/** Whether `p` is evidence suspicion counts, once it stands. */
function reportable(ctx: HealerContext, p: Pending, group: GroupView): boolean {
  const s = p.signal;
  // Suspicion counts what the evidence as a whole says: an alarm, or a probe verdict the quorum backs.
  const counts = s.source !== 'probe' || (p.agreeing?.length ?? 0) >= ctx.policy.probeQuorum;
  return counts && reportableAlarm(ctx, p, group);
}

/** What makes evidence reportable whatever the ledger says: it says down, about an InService instance of a managed group. */
function reportableAlarm(ctx: HealerContext, p: Pending, group: GroupView): boolean {
  return p.signal.state === 'unhealthy' && isOptedIn(group, ctx.policy) && p.instance.lifecycleState === 'InService' && p.instance.factsMissing === undefined;
}

/**
 * Re-reads a stale alarm whose evidence would be reported, once, before the group's ledger is
 * read: the decisions then do no I/O, so a commit that lost a race decides again at no cost. Sets
 * `p.recheck`, or `p.failed` when it cannot be read. Without a way to re-read it (no alarm name,
 * no CloudWatch access) the evidence stands, and the verdict says so.
 */
export async function recheckStale(ctx: HealerContext, p: Pending, group: GroupView, nowMs: number, abort?: AbortSignal): Promise<void> {
  const s = p.signal;
  // Probe evidence is re-checked by the quorum window, never against an alarm that does not exist.
  if (s.source === 'probe' || !reportableAlarm(ctx, p, group) || !isStale(s, nowMs, ctx.policy) || !ctx.alarms || !s.alarmName) return;
  try {
    p.recheck = { state: await ctx.alarms.alarmState(s.alarmName, abort) };
  } catch (error) {
    p.failed = { verdict: { action: 'skip', reason: 'unavailable', detail: `could not re-check alarm ${s.alarmName}` }, error };
  }
}

/** Whether the evidence of `p` stands, after {@link recheckStale}. */
function stands(p: Pending): boolean {
  if (p.failed) return false;
  return p.recheck === undefined || p.recheck.state === 'ALARM';
}

/** The evidence stage for one signal: vote, and report what stands. Pure: the re-check came before. */
export function gatherEvidence(ctx: HealerContext, ledger: GroupLedger, p: Pending, group: GroupView, nowMs: number, resumedAtMs: number | undefined): GroupLedger {
  const voted = vote(ctx, ledger, p, nowMs);
  if (!reportable(ctx, p, group) || !stands(p)) return voted;
  const { instance, signal: s } = p;
  const report = {
    instanceId: s.instanceId,
    atMs: nowMs,
    source: s.source,
    ...(instance.availabilityZone ? { zone: instance.availabilityZone } : {}),
    ...(s.source === 'probe' && p.agreeing ? { observers: p.agreeing } : {}),
  };
  return recordReport(voted, report, group, ctx.policy, resumedAtMs);
}
