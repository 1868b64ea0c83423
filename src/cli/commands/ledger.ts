/**
 * `autoheal ledger create --table NAME`: create the DynamoDB table of the rails' ledger (on
 * demand, TTL on), or check the one that is there; prints what it found or did as JSON. The work
 * is in src/runtime/dynamodb-ledger.ts; this file reads flags and builds the client.
 */
import type { Command } from 'commander';
import { dynamoDbClient } from '../../aws/dynamodb.js';
import { autohealEnv, ledgerTableOf } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { ensureLedgerTable, ledgerTableSchema } from '../../runtime/dynamodb-ledger.js';
import { ExitCode } from '../exit-codes.js';

export interface LedgerCreateFlags {
  table?: string;
  region?: string;
}

/** Creates or checks the table; resolves with the exit code. A bad or missing name throws a ConfigError (exit 2). */
export async function runLedgerCreate(flags: LedgerCreateFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const problems: string[] = [];
  const table = ledgerTableOf(flags.table ?? env[autohealEnv.ledgerTable], flags.table !== undefined ? '--table' : autohealEnv.ledgerTable, problems);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  if (table === undefined) throw new ConfigError(`--table NAME is required (or ${autohealEnv.ledgerTable})`);
  const client = dynamoDbClient(flags.region ? { region: flags.region } : {});
  try {
    const report = await ensureLedgerTable(client, table, { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return ExitCode.ok;
  } finally {
    client.destroy();
  }
}

export function register(program: Command): void {
  const ledger = program.command('ledger').summary("the rails' shared memory: a DynamoDB table");
  ledger
    .command('create')
    .summary("create the DynamoDB table of the rails' ledger (idempotent)")
    .description(
      [
        "Creates the table every healer shares the rails' memory in (votes, marks, reports, holds: one item per group): " +
          `on-demand billing, partition key ${ledgerTableSchema.partitionKey} (string), TTL on ${ledgerTableSchema.ttlAttribute}. ` +
          'A table of that name with the right key is fine (TTL is turned on if it is off); another key is an error. ' +
          `Then point the healers at it: ${autohealEnv.ledgerTable}=NAME, or --ledger-table NAME for heal and bridge --local. ` +
          'Prints JSON {table, created, partitionKey, ttlAttribute, ttl, billingMode}.',
        'IAM: dynamodb:CreateTable, dynamodb:DescribeTable, dynamodb:DescribeTimeToLive, dynamodb:UpdateTimeToLive. ' +
          'AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL(_DYNAMODB) apply as in every AWS SDK.',
        `Exit codes: ${ExitCode.ok} the table is there and ready; ${ExitCode.usage} a bad name, a table with another key, or a failed AWS call.`,
      ].join('\n\n'),
    )
    .option('--table <name>', `the table's name (default: ${autohealEnv.ledgerTable})`)
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .addHelpText('after', '\nExample:\n  autoheal ledger create --table autoheal-ledger\n  export AUTOHEAL_LEDGER_TABLE=autoheal-ledger\n')
    .action(async (flags: LedgerCreateFlags) => {
      process.exitCode = await runLedgerCreate(flags);
    });
}
