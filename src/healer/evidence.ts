/**
 * Stage 2 of the healer, for every signal of a group's batch before any decision: the vote,
 * the re-check and the report.
 *
 * - Vote: a probe verdict is its observer's vote about the instance (the quorum, in the ledger).
 * - Re-check: only evidence that stands counts. Stale alarm evidence (older than staleAfterMs, or
 *   stamped in the future) is re-read before it is reported, so a backlog of old alarms replayed
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
import { agreeingObservers, recordInstanceVote, votesOf } from '../policy/quorum.js';
import { recordReport } from '../policy/suspicion.js';
import { voterProblem } from '../policy/voters.js';
import type { HealerContext, Pending } from './context.js';

/** The observer a probe verdict without a name counts as (a single prober of an older version). */
const unnamedObserver = 'observer';

/** Records the probe vote of `p` (if it is one, from an observer that may vote); sets `p.agreeing`, or `p.rejected`. */
export function vote(ctx: HealerContext, ledger: GroupLedger, p: Pending, nowMs: number): GroupLedger {
  const s = p.signal;
  if (s.source !== 'probe') return ledger;
  const problem = voterProblem(ctx.policy.voters, s.observer ?? unnamedObserver, s.sender);
  if (problem !== undefined) {
    p.rejected = { action: 'skip', reason: 'unknownObserver', detail: problem };
    return ledger;
  }
  // A verdict stamped in the future counts from now: it cannot outlive the window by lying about its time.
  const atMs = Math.min(Date.parse(s.observedAt) || 0, nowMs);
  const next = recordInstanceVote(ledger, s.instanceId, { observer: s.observer ?? unnamedObserver, unhealthy: s.state === 'unhealthy', atMs }, ctx.policy.quorumWindowMs);
  p.agreeing = agreeingObservers(votesOf(next, s.instanceId), nowMs, ctx.policy.quorumWindowMs);
  return next;
}

/** Whether `p` is evidence suspicion counts, once it stands. */
function reportable(ctx: HealerContext, p: Pending, group: GroupView): boolean {
  const s = p.signal;
  // Suspicion counts what the evidence as a whole says: an alarm, or a probe verdict the quorum backs.
  const counts = s.source !== 'probe' || (p.agreeing?.length ?? 0) >= ctx.policy.probeQuorum;
  return s.state === 'unhealthy' && counts && isOptedIn(group, ctx.policy) && p.instance.lifecycleState === 'InService' && p.instance.factsMissing === undefined;
}

/**
 * Re-reads a stale alarm before its evidence counts; sets `p.recheck`, or `p.failed` when it
 * cannot be read. Returns whether the evidence stands. Without a way to re-read it (no alarm
 * name, no CloudWatch access) it stands, and the verdict says so.
 */
async function stands(ctx: HealerContext, p: Pending, nowMs: number, abort?: AbortSignal): Promise<boolean> {
  const s = p.signal;
  // Probe evidence is re-checked by the quorum window, never against an alarm that does not exist.
  if (s.source === 'probe' || !isStale(s, nowMs, ctx.policy) || !ctx.alarms || !s.alarmName) return true;
  try {
    p.recheck = { state: await ctx.alarms.alarmState(s.alarmName, abort) };
  } catch (error) {
    p.failed = { verdict: { action: 'skip', reason: 'unavailable', detail: `could not re-check alarm ${s.alarmName}` }, error };
    return false;
  }
  return p.recheck.state === 'ALARM';
}

/** The evidence stage for one signal: vote, re-check, report. */
export async function gatherEvidence(
  ctx: HealerContext,
  ledger: GroupLedger,
  p: Pending,
  group: GroupView,
  nowMs: number,
  resumedAtMs: number | undefined,
  abort?: AbortSignal,
): Promise<GroupLedger> {
  const voted = vote(ctx, ledger, p, nowMs);
  if (!reportable(ctx, p, group) || !(await stands(ctx, p, nowMs, abort))) return voted;
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
