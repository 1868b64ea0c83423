/**
 * The ledger table: the rails' memory (quorum votes, recent marks, reports, holds), one item per
 * group, changed only by conditional writes, so any number of healers in any number of processes
 * never overspend a budget nor lose a vote; and the observers' leases (`pk = lease#<observer>`),
 * so runs of one observer never overlap without reserved concurrency.
 *
 * The key schema is the ledger's (src/aws/dynamodb.ts; `autoheal ledger create` makes the same
 * table): partition key `pk` (string), TTL on `expiresAt`, so entries expire and the table never
 * grows without bound. On-demand billing: a handful of writes per decision, nothing to provision.
 *
 * Deleted with the stack: it holds minutes of memory (votes for the quorum window, marks for the
 * rate window, holds until they lift), worth nothing without the healer that reads it; and its
 * name is generated, so a retained table would never be read by the next stack, only billed.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** The ledger's key schema: the partition key and the TTL attribute (seconds since the epoch). */
export const ledgerKeys = { partitionKey: 'pk', ttlAttribute: 'expiresAt' } as const;

/** The partition keys of the observers' leases (`lease#<observer name>`), as an IAM pattern. */
export const leaseKeys = 'lease#*';

/** The ledger table. */
export function ledgerTable(scope: Construct): dynamodb.Table {
  return new dynamodb.Table(scope, 'LedgerTable', {
    partitionKey: { name: ledgerKeys.partitionKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: ledgerKeys.ttlAttribute,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

/**
 * What a healer may do with the ledger: read a group's entry (GetItem, consistent) and commit it
 * only if it has not changed since (a conditional PutItem of the whole entry). Not UpdateItem (the
 * ledger writes whole entries) and not DeleteItem: entries leave by TTL, and no decision removes
 * another's memory.
 */
export function grantLedger(role: iam.IRole, table: dynamodb.ITable): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RailsLedger', actions: ledgerActions.healer, resources: [table.tableArn] }));
}

/**
 * What an observer may do with the ledger: take, read and release a lease, and nothing else:
 * `dynamodb:LeadingKeys` holds every call to the items `lease#…`, so an observer can neither read
 * nor touch the rails' memory. The observers share one role, so the pattern covers every lease.
 */
export function grantLease(role: iam.IRole, table: dynamodb.ITable): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'OwnLease',
      actions: ledgerActions.observer,
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [leaseKeys] } },
    }),
  );
}

/** The table actions each role is granted (the Terraform module grants the same). */
export const ledgerActions = {
  healer: ['dynamodb:GetItem', 'dynamodb:PutItem'],
  observer: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
};
