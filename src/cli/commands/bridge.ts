/**
 * `autoheal bridge --queue-url URL (--function-name NAME | --local) [options]`: consume the alarm
 * queue and deliver each message to a Lambda function, or to the autoheal core in this process,
 * deleting a message only after its work succeeded. This file only reads flags and environment,
 * builds the clients and owns the process (signals, exit code); the work is in src/bridge/.
 *
 * Config order: flags > environment (AUTOHEAL_BRIDGE_*, then sqs-to-lambda's AWS_QUEUE_URL and
 * AWS_FUNCTION_NAME; AUTOHEAL_* policy variables for --local, as the Lambda reads them) > defaults.
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { lambdaClient } from '../../aws/lambda.js';
import { awsTimeoutEnv } from '../../aws/settings.js';
import { sqsClient, type SQSClient } from '../../aws/sqs.js';
import { autohealEnv, resolveSettings } from '../../config.js';
import { startBridge, type BridgeSummary } from '../../bridge/bridge.js';
import { bridgeDefaults, bridgeSettingsSchema, sqsLimits, type BridgeSettingsInput } from '../../bridge/options.js';
import { healerTarget, lambdaTarget, type BridgeTarget } from '../../bridge/targets.js';
import type { Healer } from '../../healer/types.js';
import { recordPrometheusDecisions } from '../../operate/decision-metrics.js';
import { ConfigError, describeError } from '../../errors.js';
import { createLogger, type Logger } from '../../log.js';
import { openAwsHealer } from '../../runtime/aws-commands.js';
import { ExitCode } from '../exit-codes.js';
import { flagOf, listOf } from '../flags.js';
import { onStopSignals } from '../stop-signals.js';

/** Environment variables the bridge command reads (after its flags, before its defaults). */
export const bridgeEnv = {
  queueUrl: ['AUTOHEAL_BRIDGE_QUEUE_URL', 'AWS_QUEUE_URL'],
  functionName: ['AUTOHEAL_BRIDGE_FUNCTION_NAME', 'AWS_FUNCTION_NAME'],
  concurrency: ['AUTOHEAL_BRIDGE_CONCURRENCY'],
  batchSize: ['AUTOHEAL_BRIDGE_BATCH_SIZE'],
  waitSeconds: ['AUTOHEAL_BRIDGE_WAIT_SECONDS'],
  metricsPort: ['AUTOHEAL_BRIDGE_METRICS_PORT'],
} as const;

/** The flags as commander hands them over (strings; booleans for switches). */
interface Flags {
  queueUrl?: string;
  functionName?: string;
  local?: boolean;
  region?: string;
  invocationType?: string;
  payload?: string;
  concurrency?: string;
  batchSize?: string;
  waitSeconds?: string;
  visibilityTimeoutSeconds?: string;
  shutdownTimeoutSeconds?: string;
  deliveryTimeoutSeconds?: string;
  retryBaseSeconds?: string;
  retryMaxSeconds?: string;
  once?: boolean;
  metricsPort?: string;
  metricsHost?: string;
  dryRun?: boolean;
  maxUnhealthyShare?: string;
  optInTag?: string;
  groups?: string;
  ledgerTable?: string;
}

/** The command's validated configuration. */
const commandSchema = z
  .object({
    target: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('lambda'),
          functionName: z.string().min(1),
          invocationType: z.enum(['RequestResponse', 'Event']).default('RequestResponse'),
          payload: z.enum(['body', 'sqs-event']).default('body'),
        })
        .strict(),
      z
        .object({
          kind: z.literal('local'),
          dryRun: z.boolean().optional(),
          maxUnhealthyShare: z.number().optional(),
          optInTag: z.string().optional(),
          groups: z.array(z.string().min(1)).optional(),
          ledgerTable: z.string().optional(),
        })
        .strict(),
    ]),
    region: z.string().min(1).optional(),
  })
  .strict();

type CommandConfig = z.output<typeof commandSchema>;


function fromEnv(names: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/** A number from a flag's text; NaN (rejected by the schema, naming the flag) when it is not one. */
function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return text.trim() === '' ? Number.NaN : Number(text);
}

/** Reads flags over environment; throws a {@link ConfigError} naming each wrong flag. */
export function resolveBridgeConfig(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
): { settings: BridgeSettingsInput; command: CommandConfig } {
  const queueUrl = flags.queueUrl ?? fromEnv(bridgeEnv.queueUrl, env);
  const functionName = flags.functionName ?? (flags.local ? undefined : fromEnv(bridgeEnv.functionName, env));
  if (!queueUrl) throw new ConfigError(`--queue-url is required (or ${bridgeEnv.queueUrl.join(' or ')})`);
  if (flags.local && flags.functionName) throw new ConfigError('give either --function-name or --local, not both');
  if (!flags.local && !functionName) {
    throw new ConfigError(`give --function-name NAME (or ${bridgeEnv.functionName.join(' or ')}), or --local to run the core here`);
  }
  // Fail closed: the function decides with its own settings, so these flags would be silently ignored.
  const localOnly = (['dryRun', 'maxUnhealthyShare', 'optInTag', 'groups', 'ledgerTable'] as const).filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (!flags.local && localOnly.length > 0) {
    throw new ConfigError(
      `${localOnly.map(flagOf).join(', ')} only work with --local: the function ${functionName} decides with its own settings (set AUTOHEAL_DRY_RUN=true on the function for a dry run)`,
    );
  }

  const settings: BridgeSettingsInput = { queueUrl };
  const numbers = {
    concurrency: flags.concurrency ?? fromEnv(bridgeEnv.concurrency, env),
    batchSize: flags.batchSize ?? fromEnv(bridgeEnv.batchSize, env),
    waitSeconds: flags.waitSeconds ?? fromEnv(bridgeEnv.waitSeconds, env),
    metricsPort: flags.metricsPort ?? fromEnv(bridgeEnv.metricsPort, env),
    visibilityTimeoutSeconds: flags.visibilityTimeoutSeconds,
    shutdownTimeoutSeconds: flags.shutdownTimeoutSeconds,
    deliveryTimeoutSeconds: flags.deliveryTimeoutSeconds,
    retryBaseSeconds: flags.retryBaseSeconds,
    retryMaxSeconds: flags.retryMaxSeconds,
  };
  for (const [key, text] of Object.entries(numbers)) {
    const value = num(text);
    if (value !== undefined) Object.assign(settings, { [key]: value });
  }
  if (flags.once) settings.once = true;
  if (flags.metricsHost) settings.metricsHost = flags.metricsHost;
  const checked = bridgeSettingsSchema.safeParse(settings);
  if (!checked.success) {
    throw new ConfigError(checked.error.issues.map((issue) => `${flagOf(String(issue.path[0] ?? ''))}: ${issue.message}`).join('; '));
  }

  const parsed = commandSchema.safeParse({
    target: flags.local
      ? {
          kind: 'local',
          ...(flags.dryRun ? { dryRun: true } : {}),
          ...(flags.maxUnhealthyShare !== undefined ? { maxUnhealthyShare: num(flags.maxUnhealthyShare) } : {}),
          ...(flags.optInTag !== undefined ? { optInTag: flags.optInTag } : {}),
          ...(flags.groups !== undefined ? { groups: listOf(flags.groups) } : {}),
          ...(flags.ledgerTable !== undefined ? { ledgerTable: flags.ledgerTable } : {}),
        }
      : {
          kind: 'lambda',
          functionName,
          ...(flags.invocationType !== undefined ? { invocationType: flags.invocationType } : {}),
          ...(flags.payload !== undefined ? { payload: flags.payload } : {}),
        },
    ...(flags.region ? { region: flags.region } : {}),
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${flagOf(String(issue.path.at(-1) ?? ''))}: ${issue.message}`);
    throw new ConfigError(problems.join('; '));
  }
  return { settings, command: parsed.data };
}

/** Builds the target: a Lambda function, or the core with the AWS fleet (same configuration as the Lambda). */
function buildTarget(command: CommandConfig, logger: Logger): { target: BridgeTarget; close(): void; healer?: Healer } {
  if (command.target.kind === 'lambda') {
    const client = lambdaClient({ region: command.region });
    const target = lambdaTarget({
      client,
      functionName: command.target.functionName,
      invocationType: command.target.invocationType,
      payload: command.target.payload,
    });
    return { target, close: () => client.destroy() };
  }
  const local = command.target;
  const settings = resolveSettings({
    ...(local.dryRun ? { dryRun: true } : {}),
    ...(local.maxUnhealthyShare !== undefined ? { maxUnhealthyShare: local.maxUnhealthyShare } : {}),
    ...(local.optInTag !== undefined ? { optInTag: local.optInTag } : {}),
    ...(local.groups !== undefined ? { groups: local.groups } : {}),
    ...(local.ledgerTable !== undefined ? { ledgerTable: local.ledgerTable } : {}),
  });
  const { healer, close } = openAwsHealer(settings, { ...(command.region ? { region: command.region } : {}), logger: logger.child({ component: 'healer' }) });
  return { target: healerTarget(healer), close, healer };
}

/** Runs the bridge until it drains (--once) or a signal stops it; resolves with the exit code. */
export async function runBridgeCommand(flags: Flags): Promise<number> {
  const logger = createLogger({ component: 'bridge' });
  let config: ReturnType<typeof resolveBridgeConfig>;
  let built: ReturnType<typeof buildTarget>;
  let sqs: SQSClient;
  try {
    config = resolveBridgeConfig(flags);
    // Reads AUTOHEAL_AWS_TIMEOUT_MS first, so an invalid value is reported before anything starts.
    sqs = sqsClient({ region: config.command.region });
    built = buildTarget(config.command, logger);
  } catch (error) {
    process.stderr.write(`autoheal bridge: ${describeError(error)}\n`);
    return ExitCode.usage;
  }
  const closeClients = (): void => {
    sqs.destroy();
    built.close();
  };

  let handle;
  try {
    handle = await startBridge({ ...config.settings, sqs, target: built.target, logger });
    // With --local the decisions are made here: the Lambda's metrics, in the bridge's Prometheus registry.
    if (built.healer) recordPrometheusDecisions(built.healer.events, handle.metrics.registry);
  } catch (error) {
    closeClients();
    process.stderr.write(`autoheal bridge: ${describeError(error)}\n`);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.noResult;
  }

  // Only the CLI owns the process: the first signal drains, a second one exits at once.
  const removeSignals = onStopSignals({
    drain: (signal) => {
      logger.info({ signal }, 'draining: no more receives; a second signal exits at once');
      void handle.stop();
    },
    force: (signal) => logger.warn({ signal }, 'second signal: exiting now; unfinished messages return after their visibility timeout'),
  });

  let summary: BridgeSummary;
  try {
    summary = await handle.promise;
  } finally {
    removeSignals();
    closeClients();
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // --once is for cron: report whether everything on the queue was handled.
  if (summary.reason === 'drained' && (summary.counts.failed > 0 || summary.counts.deleteFailed > 0)) return ExitCode.noResult;
  return ExitCode.ok;
}

export function register(program: Command): void {
  const d = bridgeDefaults;
  program
    .command('bridge')
    .summary('consume the alarm queue and heal: invoke a Lambda function, or run the core here (--local)')
    .description(
      [
        'Long-polls an SQS queue and delivers each message to a Lambda function (--function-name) or to ' +
          'the autoheal core in this process (--local, no Lambda at all). A message is deleted only after ' +
          'its work succeeded; a failure comes back after a jittered exponential backoff, and after the ' +
          "queue's maxReceiveCount goes to its dead-letter queue. Logs are JSON lines on stderr (one per " +
          'message); the final summary is JSON on stdout.',
        'Config order: flags > environment > defaults. Environment: ' +
          `${[...bridgeEnv.queueUrl, ...bridgeEnv.functionName, bridgeEnv.concurrency, bridgeEnv.batchSize, bridgeEnv.waitSeconds, bridgeEnv.metricsPort].flat().join(', ')}; ` +
          'with --local the same AUTOHEAL_* variables as the Lambda (AUTOHEAL_MAX_UNHEALTHY_SHARE, ' +
          'AUTOHEAL_OPT_IN_TAG, AUTOHEAL_GROUPS, AUTOHEAL_DRY_RUN, ...). AWS_REGION, AWS_PROFILE and ' +
          'AWS_ENDPOINT_URL(_SQS|_LAMBDA) apply as in every AWS SDK.',
        'Bounds: every AWS call has a timeout (AUTOHEAL_AWS_TIMEOUT_MS per attempt, default 10000; three ' +
          'times that per call with its retries; ReceiveMessage --wait-seconds more); a delivery not answered ' +
          'within --delivery-timeout-seconds fails and comes back with its backoff. A stage that passes its bound is ' +
          'logged, counted (autoheal_bridge_stage_timeouts_total) and recovered. With no dead-letter queue a ' +
          `retry waits at least ${bridgeDefaults.minRetrySecondsWithoutDeadLetterQueue} s.`,
        'Signals: SIGTERM or SIGINT stops receiving and lets in-flight work finish within ' +
          `--shutdown-timeout-seconds, then hands what is unfinished back within ${bridgeDefaults.releaseTimeoutSeconds} s ` +
          '(exit 0; unfinished messages are never deleted); a second signal ' +
          `exits at once (exit ${ExitCode.noResult}).`,
        `Exit codes: ${ExitCode.ok} stopped cleanly (or --once handled everything); ${ExitCode.noResult} --once left failed ` +
          `messages (a failed, denied or timed-out mark is a failure); ${ExitCode.usage} bad flags or ${awsTimeoutEnv}, the queue or ` +
          'function is missing or unreadable, or the metrics port cannot be had.',
      ].join('\n\n'),
    )
    .option('--queue-url <url>', 'the SQS queue to consume')
    .addOption(new Option('--queueUrl <url>', 'sqs-to-lambda spelling of --queue-url').hideHelp())
    .option('--function-name <name>', 'the Lambda function to invoke (name, ARN or alias)')
    .addOption(new Option('--functionName <name>', 'sqs-to-lambda spelling of --function-name').hideHelp())
    .option('--local', 'run the autoheal core in this process instead of invoking a function')
    .option('--region <region>', 'AWS region (default: the SDK\'s: AWS_REGION, the profile)')
    .addOption(
      new Option(
        '--invocation-type <type>',
        'RequestResponse (default): a FunctionError fails the message; Event: accepted is success',
      ).choices(['RequestResponse', 'Event']),
    )
    .addOption(
      new Option(
        '--payload <format>',
        'body (default): the message body is the event; sqs-event: a Lambda SQS event (honours batchItemFailures)',
      ).choices(['body', 'sqs-event']),
    )
    .option('--concurrency <n>', `messages delivered at once; a slot frees when the target answered (default: ${d.concurrency})`)
    .option('--batch-size <n>', `messages per receive, 1..${sqsLimits.maxBatchSize} (default: ${d.batchSize})`)
    .option('--wait-seconds <s>', `long-poll wait per receive, 0..${sqsLimits.maxWaitSeconds} (default: ${d.waitSeconds})`)
    .option('--visibility-timeout-seconds <s>', "visibility timeout per receive (default: the queue's own)")
    .option('--shutdown-timeout-seconds <s>', `time in-flight work gets to finish on stop (default: ${d.shutdownTimeoutSeconds})`)
    .option(
      '--delivery-timeout-seconds <s>',
      `a delivery the target has not answered by then fails and comes back with its backoff (default: ${d.deliveryTimeoutSeconds})`,
    )
    .option('--retry-base-seconds <s>', `first retry after about this long, doubling per receive (default: ${d.retryBaseSeconds})`)
    .option('--retry-max-seconds <s>', `longest retry backoff (default: ${d.retryMaxSeconds})`)
    .option('--once', 'drain what is on the queue now, then exit (pair with a small --wait-seconds)')
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (default: none)')
    .option('--metrics-host <host>', `address for --metrics-port (default: ${d.metricsHost})`)
    .option('--dry-run', 'with --local: decide and log, never call SetInstanceHealth')
    .option('--max-unhealthy-share <x>', 'with --local: share of a group that may be Unhealthy at once (default: 0.4)')
    .option('--opt-in-tag <key=value>', 'with --local: the tag that opts a group in (default: autoheal:enabled=true)')
    .option('--groups <names>', 'with --local: comma-separated groups managed without the tag')
    .option('--ledger-table <name>', `with --local: the DynamoDB table of the rails' ledger, shared by every healer (default: ${autohealEnv.ledgerTable}, or none: this process only)`)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  autoheal bridge --queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/instance-failed --local\n' +
        '  autoheal bridge --queueUrl URL --functionName autoheal --region eu-west-1   # sqs-to-lambda flags\n' +
        '  autoheal bridge --queue-url URL --function-name autoheal --payload sqs-event --metrics-port 9464\n',
    )
    .action(async (flags: Flags) => {
      process.exitCode = await runBridgeCommand(flags);
    });
}
