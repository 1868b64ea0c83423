/**
 * Quarantine `retain`: at most N retained instances per group, whatever the concurrency.
 *
 * Two marks' termination hooks may run at once, in two fresh Lambda environments, each delivered
 * more than once. Reading the group cannot keep the count: both would see no instance retained
 * yet (the other is still Terminating:Wait) and both would abandon. So a retention is first taken
 * as a slot in the ledger table, one item per group, changed only by a write conditional on the
 * version read; the loser of a race reads again and finds the slots full.
 *
 *   pk       S  `retain#<group>` (the prefix keeps the rails' `ledger#…` and the leases apart;
 *               the evidence function's IAM holds it to these items)
 *   version  N  +1 each write; a write names the version it read
 *   slots    S  JSON [{ instanceId, token?, at }]: the instances autoheal abandoned for retention
 *
 * A slot is freed when its instance has left the group (released by a person, or terminated after
 * all: an abandon whose hook then timed out). A slot is counted while its instance is in the group
 * in any state, so the count errs toward fewer retained, never more. Instances retained by anyone
 * else (`*:Retained` in the group) count too. No TTL: a retained instance may be kept for weeks;
 * the item is a few hundred bytes and goes with the table.
 *
 * {@link decideRetention} is pure: the slots and the group's instances in, the decision out.
 */
import { ConditionFailedError, getItem, putItemIf, type DynamoDBClient } from '../aws/dynamodb.js';
import { isRetainedState } from '../fleet/port.js';
import { InvalidInputError } from '../errors.js';
import { slotKey } from './slot-key.js';

/** One instance autoheal abandoned for retention. */
export interface RetentionSlot {
  instanceId: string;
  /** The lifecycle action it was abandoned in: a later action of the same instance is its release. */
  token?: string;
  /** When the slot was taken (ISO 8601). */
  at: string;
}

/** The group's slots as read, and the version a write must name. */
export interface SlotEntry {
  slots: RetentionSlot[];
  version: number;
}

/** What one termination action of a marked instance comes to, in mode `retain`. */
export type RetentionDecision =
  /** A slot is free: take it (write `slots`), then abandon. */
  | { name: 'take'; slots: RetentionSlot[] }
  /** This action already holds the slot (a redelivery, or a retry after a crash): abandon again. */
  | { name: 'held' }
  /** The instance holds a slot from an earlier action: this termination is its release. Continue; free the slot (write `slots`). */
  | { name: 'release'; slots: RetentionSlot[] }
  /** N are retained already: capture and continue, as `capture` does. */
  | { name: 'full'; retained: string[] };

/** A group instance as the decision needs it. */
export interface InstanceState {
  instanceId: string;
  lifecycleState: string;
}

/**
 * Whether this action may retain its instance: the live slots (their instance still in the group)
 * and the group's retained instances, against `atMost`.
 */
export function decideRetention(input: {
  slots: readonly RetentionSlot[];
  instances: readonly InstanceState[];
  instanceId: string;
  token?: string;
  atMost: number;
  /** Now (ISO 8601). */
  at: string;
  /** How long one lifecycle action can wait (the hook's heartbeat): without tokens, an older slot is from another action. */
  actionLifeMs: number;
}): RetentionDecision {
  const present = new Set(input.instances.filter((i) => i.lifecycleState !== 'Terminated').map((i) => i.instanceId));
  const live = input.slots.filter((s) => present.has(s.instanceId));
  const mine = live.find((s) => s.instanceId === input.instanceId);
  if (mine !== undefined) {
    const sameAction =
      mine.token !== undefined || input.token !== undefined ? mine.token === input.token : Date.parse(input.at) - Date.parse(mine.at) < input.actionLifeMs;
    if (sameAction) return { name: 'held' };
    return { name: 'release', slots: live.filter((s) => s !== mine) };
  }
  const retained = new Set(live.map((s) => s.instanceId));
  for (const i of input.instances) if (isRetainedState(i.lifecycleState)) retained.add(i.instanceId);
  retained.delete(input.instanceId);
  if (retained.size >= input.atMost) return { name: 'full', retained: [...retained].sort() };
  return { name: 'take', slots: [...live, { instanceId: input.instanceId, ...(input.token !== undefined ? { token: input.token } : {}), at: input.at }] };
}

/** The retention slots of every group, in the ledger table. */
export interface SlotStore {
  read(groupName: string, signal?: AbortSignal): Promise<SlotEntry>;
  /** Writes `slots` if the entry is still at `version`; false when another writer came first. */
  write(groupName: string, slots: readonly RetentionSlot[], version: number, signal?: AbortSignal): Promise<boolean>;
}


function parseSlots(text: string | undefined, where: string): RetentionSlot[] {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '[]');
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value)) throw new InvalidInputError(`${where}: not a JSON array; delete the item to start the group's retention count afresh`);
  return value.flatMap((s: unknown) => {
    const o = s as Partial<RetentionSlot> | null;
    // A slot that cannot be read counts as held by an instance that is never "gone": fail closed.
    if (typeof o !== 'object' || o === null || typeof o.instanceId !== 'string') throw new InvalidInputError(`${where}: an entry without an instanceId; delete the item to start the group's retention count afresh`);
    return [{ instanceId: o.instanceId, ...(typeof o.token === 'string' ? { token: o.token } : {}), at: typeof o.at === 'string' ? o.at : '' }];
  });
}

/** The slots in `table` (the stack's ledger table), through the wing (src/aws/dynamodb.ts). */
export function dynamoSlotStore(client: DynamoDBClient, table: string): SlotStore {
  return {
    async read(groupName, signal) {
      const item = await getItem(client, table, { pk: { S: slotKey(groupName) } }, signal);
      if (item === undefined) return { slots: [], version: 0 };
      return { slots: parseSlots(item.slots?.S, `retention slots ${slotKey(groupName)} in table ${table}`), version: Number(item.version?.N ?? '0') };
    },
    async write(groupName, slots, version, signal) {
      const condition = version === 0 ? { expression: 'attribute_not_exists(pk)' } : { expression: 'version = :expected', values: { ':expected': { N: String(version) } } };
      try {
        await putItemIf(client, table, { pk: { S: slotKey(groupName) }, version: { N: String(version + 1) }, slots: { S: JSON.stringify(slots) } }, condition, signal);
        return true;
      } catch (error) {
        if (error instanceof ConditionFailedError) return false;
        throw error;
      }
    },
  };
}
