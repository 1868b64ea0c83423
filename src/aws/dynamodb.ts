/**
 * DynamoDB: the only place that talks to it. The rails' ledger (src/runtime/dynamodb-ledger.ts)
 * reads and conditionally writes one item per group; `autoheal ledger create` creates the table.
 *
 * The table's key schema — the contract with the stack (CDK and Terraform create the same table):
 *
 *   partition key  `pk`         string   (no sort key)
 *   TTL attribute  `expiresAt`  number   (epoch seconds)
 *   billing        on demand (PAY_PER_REQUEST)
 *
 * Every call goes through callAws (src/aws/call.ts): bounded, aborted on request, its failure a
 * RemoteError naming the IAM action. A conditional write that finds the item changed is a
 * {@link ConditionFailedError}; a table that is not there, a {@link TableNotFoundError}: both
 * name the table.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { RemoteError } from '../errors.js';
import { callAws } from './call.js';
import { clientSettings, type ClientOptions } from './settings.js';

export type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** An item as DynamoDB stores it. */
export type Item = Record<string, AttributeValue>;

/** The conditional write found the item other than the condition expects: another writer came first. Retryable. */
export class ConditionFailedError extends RemoteError {
  override readonly name: string = 'ConditionFailedError';
  constructor(action: string, table: string, options: { cause?: unknown }) {
    super(action, `${action} on table ${table}: the item changed since it was read (conditional write refused)`, { cause: options.cause, retryable: true });
  }
}

/** The table does not exist (in this account and region), or is not ready. Not retryable: someone must create it. */
export class TableNotFoundError extends RemoteError {
  override readonly name: string = 'TableNotFoundError';
  readonly table: string;
  constructor(action: string, table: string, options: { cause?: unknown }) {
    super(action, `${action}: DynamoDB table ${table} does not exist in this account and region (or is still being created)`, { cause: options.cause, retryable: false });
    this.table = table;
  }
}

/** A DynamoDB client with the standard settings (src/aws/settings.ts). */
export function dynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(clientSettings(options));
}

/** callAws for a call on `table`: a missing table becomes a {@link TableNotFoundError}. */
async function onTable<T>(action: string, table: string, signal: AbortSignal | undefined, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await callAws(action, signal, call);
  } catch (error) {
    if (error instanceof RemoteError && error.cause instanceof ResourceNotFoundException) throw new TableNotFoundError(action, table, { cause: error.cause });
    throw error;
  }
}

/** The item at `key`, read strongly consistent (a decision must see the last committed write), or undefined. IAM: dynamodb:GetItem. */
export async function getItem(client: DynamoDBClient, table: string, key: Item, signal?: AbortSignal): Promise<Item | undefined> {
  const out = await onTable('dynamodb:GetItem', table, signal, (abortSignal) => client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }), { abortSignal }));
  return out.Item;
}

/** A condition on a write, in DynamoDB's expression language. */
export interface Condition {
  expression: string;
  names?: Record<string, string>;
  values?: Item;
}

/** Writes `item` if `condition` holds; a condition that fails throws {@link ConditionFailedError}. IAM: dynamodb:PutItem. */
export async function putItemIf(client: DynamoDBClient, table: string, item: Item, condition: Condition, signal?: AbortSignal): Promise<void> {
  const action = 'dynamodb:PutItem';
  try {
    await onTable(action, table, signal, (abortSignal) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: item,
          ConditionExpression: condition.expression,
          ...(condition.names ? { ExpressionAttributeNames: condition.names } : {}),
          ...(condition.values ? { ExpressionAttributeValues: condition.values } : {}),
        }),
        { abortSignal },
      ),
    );
  } catch (error) {
    if (error instanceof RemoteError && error.cause instanceof ConditionalCheckFailedException) throw new ConditionFailedError(action, table, { cause: error.cause });
    throw error;
  }
}

/** A table as DescribeTable tells it: its status and key schema. */
export interface TableDescription {
  status: string;
  /** Each key attribute: its name, role (HASH or RANGE) and type (S, N, B). */
  keys: { name: string; role: string; type: string }[];
  billingMode?: string;
}

/** The table, or undefined when it does not exist. IAM: dynamodb:DescribeTable. */
export async function describeTable(client: DynamoDBClient, table: string, signal?: AbortSignal): Promise<TableDescription | undefined> {
  try {
    const out = await onTable('dynamodb:DescribeTable', table, signal, (abortSignal) => client.send(new DescribeTableCommand({ TableName: table }), { abortSignal }));
    const types = new Map((out.Table?.AttributeDefinitions ?? []).map((d) => [d.AttributeName ?? '', String(d.AttributeType ?? '')]));
    return {
      status: String(out.Table?.TableStatus ?? 'UNKNOWN'),
      keys: (out.Table?.KeySchema ?? []).map((k) => ({ name: k.AttributeName ?? '', role: String(k.KeyType ?? ''), type: types.get(k.AttributeName ?? '') ?? '' })),
      ...(out.Table?.BillingModeSummary?.BillingMode ? { billingMode: String(out.Table.BillingModeSummary.BillingMode) } : {}),
    };
  } catch (error) {
    if (error instanceof TableNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Creates an on-demand table with a string partition key `partitionKey` and no sort key. Resolves
 * false when a table of that name already exists (CreateTable is not idempotent: the caller checks
 * the existing one). IAM: dynamodb:CreateTable.
 */
export async function createTable(client: DynamoDBClient, table: string, partitionKey: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await onTable('dynamodb:CreateTable', table, signal, (abortSignal) =>
      client.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
        { abortSignal },
      ),
    );
    return true;
  } catch (error) {
    if (error instanceof RemoteError && error.cause instanceof ResourceInUseException) return false;
    throw error;
  }
}

/** The table's TTL: its status (ENABLED, ENABLING, DISABLED, …) and attribute. IAM: dynamodb:DescribeTimeToLive. */
export async function describeTimeToLive(client: DynamoDBClient, table: string, signal?: AbortSignal): Promise<{ status: string; attribute?: string }> {
  const out = await onTable('dynamodb:DescribeTimeToLive', table, signal, (abortSignal) => client.send(new DescribeTimeToLiveCommand({ TableName: table }), { abortSignal }));
  const d = out.TimeToLiveDescription;
  return { status: String(d?.TimeToLiveStatus ?? 'DISABLED'), ...(d?.AttributeName ? { attribute: d.AttributeName } : {}) };
}

/** Turns TTL on for `attribute`. IAM: dynamodb:UpdateTimeToLive. */
export async function enableTimeToLive(client: DynamoDBClient, table: string, attribute: string, signal?: AbortSignal): Promise<void> {
  await onTable('dynamodb:UpdateTimeToLive', table, signal, (abortSignal) =>
    client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } }), { abortSignal }),
  );
}
