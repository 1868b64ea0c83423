/**
 * Who may vote: the observers named in AUTOHEAL_OBSERVERS. A probe verdict from any other name
 * is rejected `unknownObserver` and never counts toward a quorum, so a principal that can publish
 * cannot forge one by naming two observers.
 *
 * An entry is `name` or `name=ROLEID`. With a role's unique id (what the stack writes), a vote
 * counts only when the verdict channel proves it came from that role (the SQS record's
 * `SenderId`, `AROA…:session`): the name in the body is a claim, the SenderId is the proof. A
 * bare `name` takes the name as given (a host running `autoheal probe`, or `autoheal heal` on a
 * file, where the operator is the channel). Unset: every name counts, as before the list existed.
 */

import { observerNameProblem } from '../signals/observer-name.js';

/** One voter: its observer name and, when the channel must prove it, its role's unique id. */
export interface Voter {
  name: string;
  roleId?: string;
}

/** An IAM role's unique id (AROA…) as SenderId carries it before the `:session`. */
const roleIdPattern = /^AROA[A-Z0-9]{12,124}$/;

/**
 * Reads AUTOHEAL_OBSERVERS (`observer-a,observer-b` or `observer-a=AROA…,observer-b=AROA…`).
 * Returns an error text instead of throwing, naming the entry and how to write it.
 */
export function parseVoters(text: string): Voter[] | { error: string } {
  const voters: Voter[] = [];
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const at = entry.indexOf('=');
    const name = at < 0 ? entry : entry.slice(0, at);
    const roleId = at < 0 ? undefined : entry.slice(at + 1);
    // The names observers may have (one grammar, src/signals/observer-name.ts) hold neither `,` nor `=`.
    const nameProblem = observerNameProblem(name);
    if (nameProblem !== undefined) return { error: `"${entry}": expected an observer name, or name=ROLEID (the observer role's unique id, AROA…): ${nameProblem}` };
    if (roleId !== undefined && !roleIdPattern.test(roleId)) return { error: `"${entry}": "${roleId}" is not an IAM role's unique id (AROA followed by letters and digits; aws iam get-role --query Role.RoleId)` };
    if (voters.some((v) => v.name === name)) return { error: `"${name}" is listed twice` };
    voters.push({ name, ...(roleId !== undefined ? { roleId } : {}) });
  }
  if (voters.length === 0) return { error: 'names no observer: list the observers whose votes count, comma-separated, or leave it unset' };
  return voters;
}

/**
 * Why a vote claimed for `observer`, proven by `sender` (the record's SenderId, when the channel
 * gave one), does not count; undefined when it does.
 */
export function voterProblem(voters: readonly Voter[] | undefined, observer: string, sender: string | undefined): string | undefined {
  if (voters === undefined) return undefined;
  const voter = voters.find((v) => v.name === observer);
  const known = voters.map((v) => v.name).join(', ');
  if (voter === undefined) return `"${observer}" is not one of the observers AUTOHEAL_OBSERVERS names (${known})`;
  if (voter.roleId === undefined) return undefined;
  if (sender === undefined) return `"${observer}" votes only through the verdict channel, which proves its role; this verdict came another way`;
  const senderRole = sender.split(':')[0];
  if (senderRole !== voter.roleId) return `the verdict claims to be "${observer}", but the channel says role ${senderRole} sent it, not ${voter.roleId}`;
  return undefined;
}
