/**
 * Quarantine `retain`, for one termination action of an instance autoheal marked: may it be kept?
 *
 *   group not read, or no lifecycle policy retaining on abandon  → continue (an abandon would
 *                                                                   not keep it anyway)
 *   a slot taken in the ledger (./retention.ts), or held already → retain
 *   the instance held a slot from an earlier action              → release (continue)
 *   N retained already, the slots kept changing, any failure     → continue, saying why
 *
 * Nothing here throws: whatever fails comes to `continue`, so a failure never keeps an instance
 * and never keeps more than N.
 */
import type { Group } from '../aws/autoscaling.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { evidenceHeartbeatSeconds, type TerminateAction } from './event.js';
import { decideRetention, type SlotStore } from './retention.js';

/** What `retain` needs: N, and the ledger of slots. */
export interface RetainDeps {
  /** Retained instances per group at most (AUTOHEAL_RETAIN_AT_MOST, default 1). */
  atMost: number;
  slots: SlotStore;
  /** The region the release command names (the function's AWS_REGION). */
  region?: string;
}

/** What to do with the action. */
export type RetentionPlan =
  | { name: 'retain'; /** Gives the slot back, when the instance will not be kept after all. */ free: () => Promise<void> }
  | { name: 'release' }
  | { name: 'continue'; why: string };

/** Conditional writes a decision tries before it gives up and continues: each loss means another writer changed the slots. */
const writeAttempts = 3;

/**
 * The command that releases a retained instance: it leaves the group and terminates. The retained
 * instance no longer counts in the desired capacity (its replacement was launched when it was
 * retained), so the desired capacity is not decremented.
 */
export const releaseCommand = (instanceId: string, region?: string): string =>
  `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${instanceId} --no-should-decrement-desired-capacity${region ? ` --region ${region}` : ''}`;

export async function planRetention(
  deps: RetainDeps,
  input: { action: TerminateAction; group?: Group; at: string; logger: Logger; signal?: AbortSignal },
): Promise<RetentionPlan> {
  const { action, group, signal } = input;
  if (group === undefined) return { name: 'continue', why: `group ${action.groupName} not read: its retained instances cannot be counted` };
  if (group.terminateHookAbandon?.toLowerCase() !== 'retain') {
    return { name: 'continue', why: `group ${group.name} has no instance lifecycle policy retaining on an abandoned termination hook (TerminateHookAbandon: retain): an abandon would terminate it anyway` };
  }
  try {
    for (let attempt = 0; attempt < writeAttempts; attempt++) {
      const entry = await deps.slots.read(group.name, signal);
      const decision = decideRetention({
        slots: entry.slots,
        instances: group.instances,
        instanceId: action.instanceId,
        ...(action.token !== undefined ? { token: action.token } : {}),
        atMost: deps.atMost,
        at: input.at,
        actionLifeMs: evidenceHeartbeatSeconds * 1000,
      });
      switch (decision.name) {
        case 'held':
          return retainPlan(deps, group.name, input);
        case 'full':
          return { name: 'continue', why: `group ${group.name} keeps ${decision.retained.length} retained already (at most ${deps.atMost}): ${decision.retained.join(', ')}` };
        case 'release':
          // Best effort: a slot whose instance has left the group is freed by the next decision anyway.
          await deps.slots.write(group.name, decision.slots, entry.version, signal).catch(() => false);
          return { name: 'release' };
        case 'take':
          if (await deps.slots.write(group.name, decision.slots, entry.version, signal)) return retainPlan(deps, group.name, input);
      }
    }
    return { name: 'continue', why: `the retention count of group ${group.name} kept changing (${writeAttempts} conflicting writes)` };
  } catch (error) {
    return { name: 'continue', why: `retention count not kept: ${describeError(error)}` };
  }
}

/** A retain plan whose `free` takes this instance's slot back (best effort, logged). */
function retainPlan(deps: RetainDeps, groupName: string, input: { action: TerminateAction; logger: Logger; signal?: AbortSignal }): RetentionPlan {
  return {
    name: 'retain',
    free: async () => {
      try {
        for (let attempt = 0; attempt < writeAttempts; attempt++) {
          const entry = await deps.slots.read(groupName, input.signal);
          const slots = entry.slots.filter((s) => s.instanceId !== input.action.instanceId);
          if (slots.length === entry.slots.length || (await deps.slots.write(groupName, slots, entry.version, input.signal))) return;
        }
      } catch (error) {
        // The slot stays until its instance leaves the group (it terminates now): fewer kept for a while, never more.
        input.logger.warn({ instanceId: input.action.instanceId, group: groupName, error: describeError(error) }, 'evidence: retention slot not freed; freed once the instance has left the group');
      }
    },
  };
}
