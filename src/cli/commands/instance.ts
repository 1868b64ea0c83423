/**
 * `autoheal instance`: the tiny HTTP server the local group runs as each instance. GET /health
 * answers 200, or 503 once sick (SIGUSR1 or POST /sick; SIGUSR2 or POST /well makes it well).
 */
import { Command, InvalidArgumentError } from 'commander';
import { runInstanceServer } from '../../fleet/local/instance-server.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('a port from 0 to 65535');
  return n;
}

export function register(program: Command): void {
  program
    .command('instance')
    .summary('run the tiny HTTP server the local group runs as each instance')
    .description(
      [
        'Run the built-in instance server of the local group: GET /health answers 200, or 503 once sick (SIGUSR1 or POST /sick makes it sick, SIGUSR2 or POST /well well again); every other GET answers 200.',
        'Prints one JSON line {"event":"listening","port":N,"pid":N} on stdout once it listens, then one per change it lives through ({"event":"sick"|"well","via":...}, {"event":"closing",...}): the local group keeps the last of them as a replaced instance\'s evidence. Exit code 0 on SIGTERM or SIGINT.',
      ].join('\n\n'),
    )
    .option('--port <port>', 'TCP port on 127.0.0.1 (0: any free port)', port, Number(process.env.PORT ?? 0))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--health-path <path>', 'the health endpoint', '/health')
    .option('--instance-id <id>', 'written in every answer', process.env.AUTOHEAL_INSTANCE_ID ?? 'i-10ca1000000000000')
    .option('--exit-with-parent', 'exit when stdin closes', false)
    .action(async (opts: { port: number; host: string; healthPath: string; instanceId: string; exitWithParent: boolean }) => {
      await runInstanceServer({
        port: opts.port,
        host: opts.host,
        healthPath: opts.healthPath,
        instanceId: opts.instanceId,
        exitWithParent: opts.exitWithParent,
      });
    });
}
