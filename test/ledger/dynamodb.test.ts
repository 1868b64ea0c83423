/**
 * What only the DynamoDB ledger has, on moto: expiry (TTL deletes lazily, so an expired item reads
 * as empty), the item size bound (fail closed), a table that is missing or not the ledger's (an
 * error naming the table and the IAM action, never memory), and `ledger create`'s checks.
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emptyLedger, type GroupLedger } from '../../src/policy/ledger.js';
import { dynamoLedger, ensureLedgerTable, ledgerRetentionMs, maxLedgerBytes } from '../../src/runtime/dynamodb-ledger.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let client: DynamoDBClient;
const table = 'autoheal-ledger';
const nowMs = Date.parse('2026-01-01T00:00:00Z');
const noWait = { sleep: async () => undefined };

beforeAll(async () => {
  moto = await startMoto();
  client = new DynamoDBClient(moto.clientConfig);
});
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});
beforeEach(async () => moto.reset());

const marked: GroupLedger = { marks: [{ instanceId: 'i-1', atMs: nowMs, young: false }], reports: [] };

async function rawItem(pk: string) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))).Item;
}

describe('the DynamoDB ledger', () => {
  it('writes one item per group: pk, version, the ledger as JSON text, and an expiry the table\'s TTL deletes by', async () => {
    // Prepare
    await ensureLedgerTable(client, table, noWait);
    const ledger = dynamoLedger({ client, table, clock: () => nowMs });

    // Act
    await ledger.write('workers', marked, 0);

    // Assess
    const item = await rawItem('ledger#workers');
    expect(item?.version).toEqual({ N: '1' });
    expect(JSON.parse(item?.ledger?.S ?? '')).toEqual(marked);
    expect(Number(item?.expiresAt?.N)).toBe(Math.ceil((nowMs + ledgerRetentionMs) / 1000));
  });

  it('a hold only a person lifts never expires', async () => {
    await ensureLedgerTable(client, table, noWait);
    await dynamoLedger({ client, table, clock: () => nowMs }).write('workers', { ...marked, hold: { reason: 'frozenUntilResume', sinceMs: nowMs, detail: 'froze 3 times' } }, 0);
    expect((await rawItem('ledger#workers'))?.expiresAt).toBeUndefined();
  });

  it('an item past its expiry reads as empty at its version (TTL deletes lazily), and the next write lands over it', async () => {
    // Prepare: written, then read 8 days later.
    await ensureLedgerTable(client, table, noWait);
    await dynamoLedger({ client, table, clock: () => nowMs }).write('workers', marked, 0);
    const later = dynamoLedger({ client, table, clock: () => nowMs + 8 * 24 * 3_600_000 });

    // Act
    const entry = await later.read('workers');
    await later.write('workers', emptyLedger, entry.version);

    // Assess
    expect(entry).toEqual({ ledger: emptyLedger, version: 1 });
    expect((await later.read('workers')).version).toBe(2);
  });

  it('an entry over the item size bound is never written: it fails, not retryable, and the item stays as it was', async () => {
    // Prepare
    await ensureLedgerTable(client, table, noWait);
    const ledger = dynamoLedger({ client, table, clock: () => nowMs });
    await ledger.write('workers', marked, 0);
    const huge: GroupLedger = { marks: [], reports: Array.from({ length: maxLedgerBytes / 40 }, (_, i) => ({ instanceId: `i-${String(i).padStart(17, '0')}`, atMs: nowMs })) };

    // Act
    const write = ledger.write('workers', huge, 1);

    // Assess
    await expect(write).rejects.toMatchObject({ name: 'LedgerItemError', retryable: false, message: expect.stringMatching(/over the \d+ a DynamoDB item may hold in table autoheal-ledger: nothing was written/) });
    expect(await ledger.read('workers')).toEqual({ ledger: marked, version: 1 });
  });

  it('a missing table is an error naming the table, the IAM action and the fix: never this process\'s memory', async () => {
    const ledger = dynamoLedger({ client, table: 'no-such-table' });
    await expect(ledger.read('workers')).rejects.toMatchObject({
      action: 'dynamodb:GetItem',
      // The evidence waits for the table (a batch item failure), it is never dropped.
      retryable: true,
      message: expect.stringMatching(/dynamodb:GetItem: DynamoDB table no-such-table does not exist .*autoheal ledger create --table no-such-table.*AUTOHEAL_LEDGER_TABLE/),
    });
    await expect(ledger.write('workers', marked, 0)).rejects.toMatchObject({ action: 'dynamodb:PutItem', message: expect.stringMatching(/no-such-table/) });
  });

  it('an item autoheal did not write is an error saying which item to delete, never an empty ledger', async () => {
    await ensureLedgerTable(client, table, noWait);
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'ledger#workers' }, version: { N: '3' }, ledger: { S: '{"marks":"no"}' } } }));
    await expect(dynamoLedger({ client, table }).read('workers')).rejects.toMatchObject({ name: 'LedgerItemError', message: expect.stringMatching(/not a ledger autoheal wrote; delete the item \(pk "ledger#workers"\)/) });
  });
});

describe('ensureLedgerTable (autoheal ledger create)', () => {
  it('creates an on-demand table with TTL on, and finds it again the second time', async () => {
    const first = await ensureLedgerTable(client, table, noWait);
    const second = await ensureLedgerTable(client, table, noWait);
    expect(first).toEqual({ table, created: true, partitionKey: 'pk', ttlAttribute: 'expiresAt', ttl: 'ENABLED', billingMode: 'PAY_PER_REQUEST' });
    expect(second).toEqual({ ...first, created: false });
  });

  it('a table of that name with another key is an error saying what is wrong', async () => {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }, { AttributeName: 'at', AttributeType: 'N' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }, { AttributeName: 'at', KeyType: 'RANGE' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await expect(ensureLedgerTable(client, table, noWait)).rejects.toThrow(/table autoheal-ledger exists with the key id \(partition key, S\) and at \(sort key, N\); the rails' ledger needs the partition key pk \(string\) and no sort key/);
  });
});
