/**
 * The rails' ledger of a runtime, built from the settings: the DynamoDB table when one is set
 * (AUTOHEAL_LEDGER_TABLE, --ledger-table), shared by every healer; otherwise this process's
 * memory, and the command says once that its rails hold within this process only. A table that
 * is missing or unreadable fails the decisions that need it, naming the table and the IAM action:
 * it never falls back to memory.
 *
 * The DynamoDB client is loaded on first use, as the Lambda loads CloudWatch: importing it at
 * init would add about a third to the function's cold start (bench/lambda-cold-start.ts).
 */
import type { DynamoDBClient } from '../aws/dynamodb.js';
import { autohealEnv, type Settings } from '../config.js';
import { memoryLedger, type LedgerPort } from '../healer/ledger.js';
import type { Logger } from '../log.js';

/** A runtime's ledger, and how to let go of its client. */
export interface OpenLedger {
  ledger: LedgerPort;
  /** Where the rails' memory lives, for logs and `status`: `table NAME` or `process`. */
  where: string;
  close(): void;
}

/** The ledger the settings name; without a table, this process's (and a warning, once). */
export function openLedger(settings: Pick<Settings, 'ledgerTable'>, options: { region?: string | undefined; logger: Logger; clock?: () => number }): OpenLedger {
  const table = settings.ledgerTable;
  if (table === undefined) {
    options.logger.warn({ setting: autohealEnv.ledgerTable }, `no ledger table (${autohealEnv.ledgerTable}, --ledger-table): the rails (budget, rate limit, quorum, holds) hold within this process only`);
    return { ledger: memoryLedger(), where: 'process', close: () => undefined };
  }
  let client: DynamoDBClient | undefined;
  let loading: Promise<LedgerPort> | undefined;
  const load = (): Promise<LedgerPort> =>
    (loading ??= (async () => {
      const [{ dynamoDbClient }, { dynamoLedger }] = await Promise.all([import('../aws/dynamodb.js'), import('./dynamodb-ledger.js')]);
      client = dynamoDbClient(options.region ? { region: options.region } : {});
      return dynamoLedger({ client, table, ...(options.clock ? { clock: options.clock } : {}) });
    })());
  return {
    ledger: {
      read: async (key, signal) => (await load()).read(key, signal),
      write: async (key, ledger, version, signal) => (await load()).write(key, ledger, version, signal),
    },
    where: `table ${table}`,
    close: () => client?.destroy(),
  };
}
