/**
 * One contract for every ledger behind the healer's port (src/healer/ledger.ts): this process's
 * memory, and the DynamoDB table on moto (an independent implementation of the DynamoDB API).
 * The last case runs real concurrent writers through the healer's own commit loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { commitLoop, realCommitSeam } from '../../src/healer/commit.js';
import { memoryLedger, type LedgerPort } from '../../src/healer/ledger.js';
import { emptyLedger, type GroupLedger } from '../../src/policy/ledger.js';
import { dynamoLedger, ensureLedgerTable } from '../../src/runtime/dynamodb-ledger.js';
import { startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  moto = await startMoto();
  client = new DynamoDBClient(moto.clientConfig);
});
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

const ledgers: { name: string; make: () => Promise<LedgerPort> }[] = [
  { name: 'in memory', make: async () => memoryLedger() },
  {
    name: 'DynamoDB on moto',
    make: async () => {
      const table = `ledger-contract-${++tables}`;
      await ensureLedgerTable(client, table, { sleep: async () => undefined });
      return dynamoLedger({ client, table });
    },
  },
];

const withMarks = (ledger: GroupLedger, ...ids: string[]): GroupLedger => ({ ...ledger, marks: [...ledger.marks, ...ids.map((instanceId, i) => ({ instanceId, atMs: 1_700_000_000_000 + i, young: false, zone: 'eu-west-1a' }))] });

describe.each(ledgers)('the ledger port: $name', ({ make }) => {
  it('a group never written reads as an empty ledger at version 0', async () => {
    const ledger = await make();
    expect(await ledger.read('workers')).toEqual({ ledger: emptyLedger, version: 0 });
  });

  it('a write on the version read lands; the next read gives back the same value at the next version', async () => {
    // Prepare
    const ledger = await make();
    const value: GroupLedger = {
      ...withMarks(emptyLedger, 'i-1', 'i-2'),
      reports: [{ instanceId: 'i-1', atMs: 1, source: 'probe', observers: ['a', 'b'] }],
      hold: { reason: 'frozen', sinceMs: 1, untilMs: 9_999_999_999_999, detail: '5 of 5 reported down' },
      votes: [{ instanceId: 'i-1', observer: 'a', unhealthy: true, atMs: 1 }],
    };

    // Act
    await ledger.write('workers', value, 0);
    await ledger.write('workers', withMarks(value, 'i-3'), 1);

    // Assess
    expect(await ledger.read('workers')).toEqual({ ledger: withMarks(value, 'i-3'), version: 2 });
    expect(await ledger.read('others')).toEqual({ ledger: emptyLedger, version: 0 });
  });

  it('a write on a version that is no longer current is refused, retryable, and changes nothing', async () => {
    // Prepare
    const ledger = await make();
    await ledger.write('workers', withMarks(emptyLedger, 'i-1'), 0);

    // Act: both at once, settled together (awaiting one first would leave the other's rejection
    // unhandled for a moment when the table answers them in separate turns).
    const [stale, ahead] = await Promise.allSettled([
      ledger.write('workers', withMarks(emptyLedger, 'i-9'), 0),
      ledger.write('workers', withMarks(emptyLedger, 'i-9'), 5),
    ]);

    // Assess
    expect(stale).toMatchObject({ status: 'rejected', reason: { name: 'LedgerConflictError', retryable: true } });
    expect(ahead).toMatchObject({ status: 'rejected', reason: { name: 'LedgerConflictError', retryable: true } });
    expect(await ledger.read('workers')).toEqual({ ledger: withMarks(emptyLedger, 'i-1'), version: 1 });
  });

  it('8 concurrent writers, 5 read-modify-commit increments each: nothing lost, conflicts counted', async () => {
    // Prepare
    const ledger = await make();
    const writers = 8;
    const increments = 5;

    // Act: each increment adds one mark, through the healer's commit loop (jittered backoff, real timers).
    const conflicts = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let lost = 0;
        for (let k = 0; k < increments; k++) {
          const done = await commitLoop(ledger, 'workers', (entry) => ({ ledger: withMarks(entry.ledger, `w${w}-${k}`), result: undefined }), realCommitSeam);
          lost += done.conflicts;
        }
        return lost;
      }),
    );

    // Assess
    const { ledger: final, version } = await ledger.read('workers');
    expect(final.marks).toHaveLength(writers * increments);
    expect(new Set(final.marks.map((m) => m.instanceId)).size).toBe(writers * increments);
    expect(version).toBe(writers * increments);
    const total = conflicts.reduce((a, b) => a + b, 0);
    // The closing note's figure: conflicts per commit under 8 writers.
    console.info(`ledger contract: ${total} conflicts over ${writers * increments} commits (${(total / (writers * increments)).toFixed(2)} per commit)`);
    // The writers really raced: without a conditional write these would have been lost updates.
    expect(total).toBeGreaterThan(0);
  });
});
