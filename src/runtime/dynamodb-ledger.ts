/**
 * The rails' ledger in a DynamoDB table, shared by every healer of every process: the Lambda's
 * concurrent and successive environments, `autoheal heal`, `bridge --local`. It stands behind
 * the healer's port (src/healer/ledger.ts), so the healer's protocol — read, decide, commit on the
 * version, then act (src/healer/group-batch.ts) — holds across processes.
 *
 * One item per ledger key (a group's name; a dry run's key of its own), in the table whose key
 * schema src/aws/dynamodb.ts states:
 *
 *   pk         S  `ledger#<key>` (the prefix keeps other users of the table, a lease, apart)
 *   version    N  1 after the first write, +1 each write; a write must name the version it read
 *   ledger     S  the GroupLedger as JSON text (readable with `aws dynamodb get-item`)
 *   expiresAt  N  epoch seconds; TTL deletes the item after it (lazily, within days), so an item
 *                 past it reads as empty here, at its version, and the table never grows unbounded
 *
 * Writes are conditional: `attribute_not_exists(pk)` for version 0, `version = :expected`
 * otherwise, and a refused one is a LedgerConflictError (the healer decides again). An entry
 * past DynamoDB's item size limit is never written (fail closed: the decision fails, retryable,
 * and nothing is marked). A missing or unreadable table is an error naming the table and the IAM
 * action, never a fall-back to memory.
 */
import { autohealEnv } from '../config.js';
import { ConfigError, RemoteError } from '../errors.js';
import { ConditionFailedError, createTable, describeTable, describeTimeToLive, enableTimeToLive, getItem, putItemIf, TableNotFoundError, type DynamoDBClient, type Item } from '../aws/dynamodb.js';
import { LedgerConflictError, type LedgerEntry, type LedgerPort } from '../healer/ledger.js';
import { emptyLedger, type GroupLedger } from '../policy/ledger.js';

/** The table's partition key and TTL attribute: the contract with the stack. */
export const ledgerTableSchema = { partitionKey: 'pk', ttlAttribute: 'expiresAt' } as const;

/** DynamoDB's item size limit is 400 KB; the rest of the item (key, version, expiry) fits in what is left. */
export const maxLedgerBytes = 390 * 1024;

/**
 * How long an entry outlives its last write. Any group with a live alarm is re-decided every few
 * minutes (each decision writes), so only a group silent this long loses its memory — and a hold
 * until resume never expires.
 */
export const ledgerRetentionMs = 7 * 24 * 3_600_000;

export interface DynamoLedgerOptions {
  client: DynamoDBClient;
  table: string;
  /** Milliseconds since the epoch: when entries expire. */
  clock?: () => number;
}

/** The entry could not be kept as it is: too large, or unreadable. Not retryable as it stands. */
export class LedgerItemError extends RemoteError {
  override readonly name: string = 'LedgerItemError';
}

const pkOf = (key: string): string => `ledger#${key}`;

/** When an entry written at `nowMs` expires, in epoch seconds; undefined: never (a hold only a person lifts). */
function expiresAt(ledger: GroupLedger, nowMs: number): number | undefined {
  if (ledger.hold !== undefined && ledger.hold.untilMs === undefined) return undefined;
  return Math.ceil(Math.max(nowMs + ledgerRetentionMs, ledger.hold?.untilMs ?? 0) / 1000);
}

/** The ledger of an item, checked enough that the reducers can trust it. */
function parseLedger(text: string | undefined, table: string, key: string): GroupLedger {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    value = undefined;
  }
  const v = value as Partial<GroupLedger> | undefined;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.marks) || !Array.isArray(v.reports)) {
    throw new LedgerItemError('dynamodb:GetItem', `the rails' ledger of ${key} in table ${table} is not a ledger autoheal wrote; delete the item (pk "${pkOf(key)}") to start the group's rails afresh`, { retryable: false });
  }
  return value as GroupLedger;
}

/** Names the table, and how to fix a missing one, in an error of a call on it. */
function onTable(table: string, error: unknown): unknown {
  if (error instanceof TableNotFoundError) {
    // Retryable: the evidence waits (a batch item failure, the queue's redrive bounds it) until someone creates the table.
    return new RemoteError(error.action, `${error.message}: create it with \`autoheal ledger create --table ${table}\`, or point ${autohealEnv.ledgerTable} (--ledger-table) at the right table and region`, { cause: error, retryable: true });
  }
  if (error instanceof RemoteError && !(error instanceof ConditionFailedError) && !(error instanceof LedgerItemError) && !error.message.includes(table)) {
    return new RemoteError(error.action, `the rails' ledger (DynamoDB table ${table}): ${error.message}`, { cause: error, retryable: error.retryable });
  }
  return error;
}

/** The rails' ledger in `table`. */
export function dynamoLedger(options: DynamoLedgerOptions): LedgerPort {
  const { client, table } = options;
  const clock = options.clock ?? Date.now;

  async function read(key: string, signal?: AbortSignal): Promise<LedgerEntry> {
    let item: Item | undefined;
    try {
      item = await getItem(client, table, { pk: { S: pkOf(key) } }, signal);
    } catch (error) {
      throw onTable(table, error);
    }
    if (item === undefined) return { ledger: emptyLedger, version: 0 };
    const version = Number(item.version?.N ?? '0');
    const expiry = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
    // TTL deletes lazily: an item past its expiry is gone as far as the rails are concerned, but its version stands.
    if (expiry !== undefined && expiry * 1000 <= clock()) return { ledger: emptyLedger, version };
    return { ledger: parseLedger(item.ledger?.S, table, key), version };
  }

  async function write(key: string, ledger: GroupLedger, version: number, signal?: AbortSignal): Promise<void> {
    const text = JSON.stringify(ledger);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxLedgerBytes) {
      throw new LedgerItemError('dynamodb:PutItem', `the rails' ledger of ${key} is ${bytes} bytes, over the ${maxLedgerBytes} a DynamoDB item may hold in table ${table}: nothing was written and nothing marked`, { retryable: false });
    }
    const expiry = expiresAt(ledger, clock());
    const item: Item = {
      pk: { S: pkOf(key) },
      version: { N: String(version + 1) },
      ledger: { S: text },
      ...(expiry !== undefined ? { expiresAt: { N: String(expiry) } } : {}),
    };
    const condition = version === 0 ? { expression: 'attribute_not_exists(pk)' } : { expression: 'version = :expected', values: { ':expected': { N: String(version) } } };
    try {
      await putItemIf(client, table, item, condition, signal);
    } catch (error) {
      if (error instanceof ConditionFailedError) throw new LedgerConflictError(key, version, undefined, 'dynamodb:PutItem');
      throw onTable(table, error);
    }
  }

  return { read, write };
}

/** What `autoheal ledger create` found or did. */
export interface LedgerTableReport {
  table: string;
  /** false: the table was already there (with the right key). */
  created: boolean;
  partitionKey: string;
  ttlAttribute: string;
  /** The TTL as it stands after the call: ENABLED, or ENABLING for a minute or so after it was turned on. */
  ttl: string;
  billingMode: string;
}

/** How long {@link ensureLedgerTable} waits for a new table to become ACTIVE, and how often it looks. */
export const tableWait = { timeoutMs: 120_000, pollMs: 1_000 } as const;

/**
 * Creates the ledger's table (on demand, partition key `pk` string, TTL on `expiresAt`), or
 * checks the one that is there: idempotent. A table of that name with another key cannot hold
 * the ledger, and TTL on another attribute would never expire its items: both are errors that
 * say what is wrong. IAM: dynamodb:CreateTable, DescribeTable, DescribeTimeToLive, UpdateTimeToLive.
 */
export async function ensureLedgerTable(client: DynamoDBClient, table: string, wait: { sleep: (ms: number) => Promise<void>; signal?: AbortSignal }): Promise<LedgerTableReport> {
  const { partitionKey, ttlAttribute } = ledgerTableSchema;
  const created = await createTable(client, table, partitionKey, wait.signal);
  let described = await describeTable(client, table, wait.signal);
  for (let waited = 0; described?.status !== 'ACTIVE'; waited += tableWait.pollMs) {
    if (waited >= tableWait.timeoutMs) throw new RemoteError('dynamodb:DescribeTable', `table ${table} is ${described?.status ?? 'not there'} after ${tableWait.timeoutMs / 1000} s; run the command again once it is ACTIVE`, { retryable: true });
    await wait.sleep(tableWait.pollMs);
    described = await describeTable(client, table, wait.signal);
  }
  const keys = described.keys;
  const key = keys[0];
  if (keys.length !== 1 || key?.name !== partitionKey || key.role !== 'HASH' || key.type !== 'S') {
    const has = keys.map((k) => `${k.name} (${k.role === 'HASH' ? 'partition' : 'sort'} key, ${k.type})`).join(' and ');
    throw new ConfigError(`table ${table} exists with the key ${has}; the rails' ledger needs the partition key ${partitionKey} (string) and no sort key: give another --table, or delete that table`);
  }
  let ttl = await describeTimeToLive(client, table, wait.signal);
  if (ttl.attribute !== undefined && ttl.attribute !== ttlAttribute && (ttl.status === 'ENABLED' || ttl.status === 'ENABLING')) {
    throw new ConfigError(`table ${table} has TTL on ${ttl.attribute}; the rails' ledger expires its items by ${ttlAttribute}, and a table has one TTL attribute: give another --table`);
  }
  if (ttl.status !== 'ENABLED' && ttl.status !== 'ENABLING') {
    await enableTimeToLive(client, table, ttlAttribute, wait.signal);
    ttl = await describeTimeToLive(client, table, wait.signal);
  }
  return { table, created, partitionKey, ttlAttribute, ttl: ttl.status, billingMode: described.billingMode ?? 'PROVISIONED' };
}
