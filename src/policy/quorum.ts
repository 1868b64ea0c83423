/**
 * The probe quorum: one observer alone can report, never mark. Each observer's latest verdict
 * about an instance is a vote; an instance is down when `probeQuorum` distinct observers voted
 * unhealthy within the quorum window. A healthy verdict replaces that observer's unhealthy vote,
 * so an observer that sees the instance again withdraws its vote at once. Pure: votes are plain
 * data kept in the group's ledger (./ledger.ts), the clock is passed in.
 *
 * Latest means observed latest, not handled latest: verdicts reach the healer out of order (an SQS
 * batch, a retry, healers in several processes), and an observer's older verdict must never undo
 * its newer one. A verdict already older than the window when it is handled is no vote at all
 * (`voteExpired`): a backlog must not let votes expire unseen, nor count ones that did.
 */
import type { GroupLedger, InstanceVote } from './ledger.js';

export interface Vote {
  observer: string;
  unhealthy: boolean;
  atMs: number;
}

/** An instance's latest vote per observer. */
export type Votes = readonly Vote[];

/** Records `vote`, replacing that observer's earlier one (never a later one); votes older than the window are dropped. */
export function recordVote(votes: Votes, vote: Vote, windowMs: number): Votes {
  if (votes.some((v) => v.observer === vote.observer && v.atMs > vote.atMs)) return votes;
  return [...votes.filter((v) => v.observer !== vote.observer && vote.atMs - v.atMs < windowMs), vote];
}

/**
 * The time a probe verdict counts from: when it was observed, or now for one stamped in the future
 * (it cannot outlive the window by lying about its time); an unreadable time counts as long ago.
 */
export function voteTimeMs(observedAt: string, nowMs: number): number {
  return Math.min(Date.parse(observedAt) || 0, nowMs);
}

/** Whether a verdict counting from `atMs` is already outside the quorum window at `nowMs`: it can no longer be a vote. */
export function voteExpired(atMs: number, nowMs: number, windowMs: number): boolean {
  return nowMs - atMs >= windowMs;
}

/** The observers agreeing that the instance is down at `nowMs`. */
export function agreeingObservers(votes: Votes, nowMs: number, windowMs: number): string[] {
  return votes.filter((v) => v.unhealthy && nowMs - v.atMs < windowMs).map((v) => v.observer);
}

/** The votes still inside the window at `nowMs`. */
export function pruneVotes(votes: readonly InstanceVote[], nowMs: number, windowMs: number): InstanceVote[] {
  return votes.filter((v) => nowMs - v.atMs < windowMs);
}

/** The votes about one instance of the group. */
export function votesOf(ledger: GroupLedger, instanceId: string): Votes {
  return (ledger.votes ?? []).filter((v) => v.instanceId === instanceId).map(({ observer, unhealthy, atMs }) => ({ observer, unhealthy, atMs }));
}

/** Records an observer's vote about `instanceId` in the group's ledger (see {@link recordVote}). */
export function recordInstanceVote(ledger: GroupLedger, instanceId: string, vote: Vote, windowMs: number): GroupLedger {
  const others = (ledger.votes ?? []).filter((v) => v.instanceId !== instanceId);
  const mine = recordVote(votesOf(ledger, instanceId), vote, windowMs).map((v) => ({ instanceId, ...v }));
  return { ...ledger, votes: [...others, ...mine] };
}
