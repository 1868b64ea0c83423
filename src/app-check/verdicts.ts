/**
 * What AWS's application status check says of an instance, as the verdict of the observer
 * `aws-app-check`: `failed` is an unhealthy verdict (a vote), `passed` a healthy one (the vote
 * withdrawn); `initializing`, `insufficient-data` and `not-applicable` say nothing, so they are no
 * verdict at all. Only the stack's own check counts, whatever other checks EC2 runs on the instance.
 * Pure: the statuses and the time they were read are passed in.
 */
import type { InstanceApplicationStatus } from '../aws/ec2.js';
import type { VerdictEntry } from '../signals/verdicts.js';

/** The observer name the healer counts the check's verdicts under (AUTOHEAL_OBSERVERS). */
export const appCheckObserver = 'aws-app-check';

/**
 * The verdicts of one read: one per instance whose check `checkId` has passed or failed.
 * `observedAt` is when EC2 was asked (ISO 8601): the vote counts from the read, so a status that
 * still holds is voted again on every read and stays inside the quorum window.
 */
export function appCheckVerdicts(statuses: readonly InstanceApplicationStatus[], checkId: string, observedAt: string): VerdictEntry[] {
  const readSeconds = Math.floor(Date.parse(observedAt) / 1000);
  const out: VerdictEntry[] = [];
  const seen = new Set<string>();
  for (const status of statuses) {
    const check = status.checks.find((c) => c.checkId === checkId);
    if (check === undefined || seen.has(status.instanceId)) continue;
    if (check.status !== 'failed' && check.status !== 'passed') continue;
    seen.add(status.instanceId);
    const sinceMs = check.statusSince === undefined ? Number.NaN : Date.parse(check.statusSince);
    // The verdict's id: one per status episode (a transition changes statusSince), as the prober counts transitions.
    const sequence = Number.isNaN(sinceMs) ? readSeconds : Math.floor(sinceMs / 1000);
    out.push({ instanceId: status.instanceId, state: check.status === 'failed' ? 'unhealthy' : 'healthy', sequence: Math.max(0, sequence), observedAt, reason: reasonOf(checkId, check) });
  }
  return out;
}

function reasonOf(checkId: string, check: InstanceApplicationStatus['checks'][number]): string {
  const why = [check.reason?.code, check.reason?.statusCode ? `HTTP ${check.reason.statusCode}` : undefined].filter((x) => x !== undefined);
  return `EC2 application status check ${checkId}: ${check.status}${check.statusSince ? ` since ${check.statusSince}` : ''}${why.length > 0 ? ` (${why.join(', ')})` : ''}`;
}
