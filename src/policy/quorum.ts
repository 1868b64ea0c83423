/**
 * The probe quorum: one observer alone can report, never mark. Each observer's latest verdict
 * about an instance is a vote; an instance is down when `probeQuorum` distinct observers voted
 * unhealthy within the quorum window. A healthy verdict replaces that observer's unhealthy vote,
 * so an observer that sees the instance again withdraws its vote at once. Pure: votes are plain
 * data kept in the group's ledger (./ledger.ts), the clock is passed in.
 */
import type { GroupLedger, InstanceVote } from './ledger.js';

export interface Vote {
  observer: string;
  unhealthy: boolean;
  atMs: number;
}

/** An instance's latest vote per observer. */
export type Votes = readonly Vote[];

/** Records `vote`, replacing that observer's earlier one; votes older than the window are dropped. */
export function recordVote(votes: Votes, vote: Vote, windowMs: number): Votes {
  return [...votes.filter((v) => v.observer !== vote.observer && vote.atMs - v.atMs < windowMs), vote];
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
