/**
 * An observer's lease in the ledger table: runs of one observer never overlap, without reserved
 * concurrency. Before it probes, a run takes the item `pk = lease#<observer>` with a conditional
 * put that succeeds only when the item is absent or its lease has run out; it releases it at the
 * end by running it out (a put conditional on still holding it). A run that finds the lease held
 * steps aside and says so; a run that died leaves a lease that runs out by itself, at most a run
 * and its margin later. The item:
 *
 *   pk            S  lease#<observer name>
 *   holder        S  the run holding it (its Lambda request id, or a random id)
 *   leaseUntilMs  N  epoch milliseconds; 0 once released
 *   expiresAt     N  epoch seconds: the table's TTL removes a lease nobody renews
 *
 * IAM: dynamodb:PutItem and dynamodb:GetItem on the table (GetItem only to say who holds it).
 */
import { ConditionFailedError, getItem, putItemIf, type DynamoDBClient } from '../aws/dynamodb.js';

/** What taking the lease came to. */
export type LeaseOutcome = { readonly name: 'taken' } | { readonly name: 'held'; readonly heldBy: string; readonly untilMs: number };

/** A lease nobody renews is removed by the table's TTL this long after it ran out. */
const keepAfterMs = 24 * 60 * 60 * 1000;

const keyOf = (observer: string) => ({ pk: { S: `lease#${observer}` } });

/** Takes the observer's lease until `untilMs` if it is free or has run out. */
export async function takeLease(client: DynamoDBClient, table: string, lease: { observer: string; holder: string; nowMs: number; untilMs: number }): Promise<LeaseOutcome> {
  const item = {
    ...keyOf(lease.observer),
    holder: { S: lease.holder },
    leaseUntilMs: { N: String(lease.untilMs) },
    expiresAt: { N: String(Math.ceil((lease.untilMs + keepAfterMs) / 1000)) },
  };
  try {
    await putItemIf(client, table, item, { expression: 'attribute_not_exists(pk) OR leaseUntilMs < :now', values: { ':now': { N: String(lease.nowMs) } } });
    return { name: 'taken' };
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const held = await getItem(client, table, keyOf(lease.observer));
    return { name: 'held', heldBy: held?.holder?.S ?? 'unknown', untilMs: Number(held?.leaseUntilMs?.N ?? 0) };
  }
}

/** Releases the lease if this run still holds it (one that ran out and was taken since is left alone). */
export async function releaseLease(client: DynamoDBClient, table: string, lease: { observer: string; holder: string; nowMs: number }): Promise<void> {
  const item = { ...keyOf(lease.observer), holder: { S: lease.holder }, leaseUntilMs: { N: '0' }, expiresAt: { N: String(Math.ceil((lease.nowMs + keepAfterMs) / 1000)) } };
  try {
    await putItemIf(client, table, item, { expression: 'holder = :me', values: { ':me': { S: lease.holder } } });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}
