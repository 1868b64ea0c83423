/**
 * The autoheal command line. This file owns the process: it parses flags, hands each command
 * to its module under commands/, and turns errors into messages and exit codes. Commands set
 * `process.exitCode`; they never call `process.exit` themselves.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { AutohealError, describeError } from '../errors.js';
import { register as alarms } from './commands/alarms.js';
import { register as bridge } from './commands/bridge.js';
import { register as demo } from './commands/demo.js';
import { register as evidence } from './commands/evidence.js';
import { register as explain } from './commands/explain.js';
import { register as heal } from './commands/heal.js';
import { register as history } from './commands/history.js';
import { register as instance } from './commands/instance.js';
import { register as ledger } from './commands/ledger.js';
import { register as pause } from './commands/pause.js';
import { register as probe } from './commands/probe.js';
import { register as status } from './commands/status.js';
import { ExitCode } from './exit-codes.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('autoheal')
  .description(
    'Heal EC2 Auto Scaling groups without a load balancer: detect an instance that stopped answering, ' +
      'mark it Unhealthy within a safe budget, and let the group replace it.\n\n' +
      'Start with `autoheal demo` (no AWS account needed); `autoheal <command> --help` tells more.',
  )
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// Each command module registers itself; keep this list in pipeline order.
const commands: Array<(program: Command) => void> = [explain, heal, bridge, alarms, ledger, probe, status, history, evidence, pause, instance, demo];
for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; usage errors were already printed by commander.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    const known = error instanceof AutohealError;
    process.stderr.write(`autoheal: ${describeError(error)}\n`);
    if (!known && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = ExitCode.usage;
  }
}
